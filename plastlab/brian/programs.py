"""Per-synapse evaluation of arithmetic programs given as data: one compiled function for any expression.

A *program* is a postfix sequence of instructions over a fixed number of inputs: push input k, push constant
c, pop two values and push ``a + b``, ``a - b``, ``a * b``, ``a / b`` or ``a ** b``, or replace the top value
by its absolute value (SymPy writes (x**2)**w as Abs(x)**(2*w) for real x) or its square root (SymPy's
printer writes x**(1/2) as sqrt(x), so the rule file computes sqrt). Many programs are
stored together in a :class:`ProgramTable` (flat opcode, argument and constant arrays plus each program's
start), and :func:`program_function` wraps a table as a Brian2 ``Function`` ``name(index, x0, x1, ...)`` with a
Cython implementation (and a numpy one for the numpy target). The table reaches the compiled code through the
function's *namespace*: the generated code depends only on the number of inputs, never on the programs, so a
new batch of programs is new data for the same compiled extension, not new code.

Semantics (identical in both implementations, those of C doubles):

* ``a / 0`` makes the program's result NaN, whatever follows (as the compiled rule file raises
  ZeroDivisionError; a later ``pow(NaN, 0) = 1`` must not hide it): the caller treats a NaN rule value as a
  failed evaluation, as the paper gives division by zero the worst fitness;
* with ``ieee_division`` (the correlation family: the authors' NEST synapses compute in C++ doubles), ``a / 0``
  is what C gives instead: ±inf, or NaN for 0/0 and NaN/0, and the program goes on;
* ``a ** b`` is C's ``pow``: NaN for a negative base with a non-integer exponent, inf for 0 to a negative power,
  a real result for a negative base with an integer exponent.
"""
from dataclasses import dataclass

import numpy as np

PUSH_INPUT, PUSH_CONSTANT, ADD, SUB, MUL, DIV, POW, ABS, SQRT = range(9)
BINARY = {"add": ADD, "sub": SUB, "mul": MUL, "div": DIV, "pow": POW}
MAX_STACK = 64  # deepest stack a program may need (checked when a table is built)


class ProgramError(ValueError):
    """A program that cannot run: unknown instruction, stack underflow, too deep, wrong input index."""


@dataclass(frozen=True)
class ProgramTable:
    """Programs as flat arrays: program p is instructions ``starts[p]`` up to ``starts[p + 1]``."""

    ops: np.ndarray
    args: np.ndarray
    constants: np.ndarray
    starts: np.ndarray
    n_inputs: int

    @classmethod
    def build(cls, programs, n_inputs):
        """A table from programs, each a list of (opcode, value) pairs: the value is the input index for
        PUSH_INPUT, the constant for PUSH_CONSTANT, ignored otherwise. Every program is checked first."""
        ops, args, constants, starts = [], [], [], [0]
        for program in programs:
            check(program, n_inputs)
            for op, value in program:
                ops.append(op)
                if op == PUSH_CONSTANT:
                    args.append(len(constants))
                    constants.append(float(value))
                else:
                    args.append(int(value) if op == PUSH_INPUT else 0)
            starts.append(len(ops))
        return cls(np.asarray(ops, dtype=np.int32), np.asarray(args, dtype=np.int32),
                   np.asarray(constants + [0.0], dtype=np.float64), np.asarray(starts, dtype=np.int32),
                   int(n_inputs))

    def __len__(self):
        return len(self.starts) - 1

    def namespace(self):
        """The arrays as the compiled function reads them (a namespace must not hold empty arrays)."""
        return {"_program_ops": np.append(self.ops, 0).astype(np.int32),
                "_program_args": np.append(self.args, 0).astype(np.int32),
                "_program_constants": self.constants, "_program_starts": self.starts}


def check(program, n_inputs):
    """Raise ProgramError unless the program leaves exactly one value within MAX_STACK."""
    depth = deepest = 0
    for op, value in program:
        if op == PUSH_INPUT:
            if not 0 <= int(value) < n_inputs:
                raise ProgramError(f"input {value} out of range (0..{n_inputs - 1})")
            depth += 1
        elif op == PUSH_CONSTANT:
            depth += 1
        elif op in (ABS, SQRT):
            if depth < 1:
                raise ProgramError("stack underflow")
        elif op in (ADD, SUB, MUL, DIV, POW):
            if depth < 2:
                raise ProgramError("stack underflow")
            depth -= 1
        else:
            raise ProgramError(f"unknown opcode {op}")
        deepest = max(deepest, depth)
    if depth != 1:
        raise ProgramError(f"a program must leave one value, leaves {depth}")
    if deepest > MAX_STACK:
        raise ProgramError(f"needs a stack of {deepest} > {MAX_STACK}")


def evaluate(table, index, *inputs, ieee_division=False):
    """numpy evaluation: program ``index[i]`` on ``inputs[k][i]`` for every i (arrays broadcast together)."""
    index = np.asarray(index)
    arrays = np.broadcast_arrays(index, *[np.asarray(x, dtype=np.float64) for x in inputs])
    index, inputs = arrays[0], arrays[1:]
    out = np.empty(index.shape, dtype=np.float64)
    for p in np.unique(index):
        mine = index == p
        out[mine] = _run(table, int(p), [x[mine] for x in inputs], ieee_division)
    return out


def _run(table, p, inputs, ieee_division=False):
    stack, divided_by_zero = [], np.zeros(inputs[0].shape, dtype=bool)
    with np.errstate(all="ignore"):
        for k in range(table.starts[p], table.starts[p + 1]):
            op, arg = table.ops[k], table.args[k]
            if op == PUSH_INPUT:
                stack.append(inputs[arg])
            elif op == PUSH_CONSTANT:
                stack.append(np.full(inputs[0].shape, table.constants[arg]))
            elif op == ABS:
                stack.append(np.abs(stack.pop()))
            elif op == SQRT:
                stack.append(np.sqrt(stack.pop()))
            else:
                right, left = stack.pop(), stack.pop()
                if op == ADD:
                    stack.append(left + right)
                elif op == SUB:
                    stack.append(left - right)
                elif op == MUL:
                    stack.append(left * right)
                elif op == DIV and ieee_division:
                    stack.append(left / right)
                elif op == DIV:
                    divided_by_zero |= right == 0
                    stack.append(left / np.where(right == 0, 1.0, right))
                else:
                    stack.append(np.power(left, right))
    return np.where(divided_by_zero, np.nan, stack[0])


def cython_code(name, n_inputs, ieee_division=False):
    """Cython source of ``name(index, x0, ..., x{n-1})``: depends on the number of inputs (and the division's
    semantics) only."""
    params = ", ".join(f"double _x{k}" for k in range(n_inputs))
    pushes = "\n".join(f"            {'if' if k == 0 else 'elif'} _a == {k}:\n                _stack[_top] = _x{k}"
                       for k in range(n_inputs))
    return f"""
from libc.math cimport pow as _program_pow, fabs as _program_fabs, sqrt as _program_sqrt, NAN as _PROGRAM_NAN
from libc.math cimport copysign as _program_copysign, INFINITY as _PROGRAM_INF
cdef double {name}(int _p, {params}):
    cdef double _stack[{MAX_STACK}]
    cdef int _top = -1
    cdef int _divided_by_zero = 0
    cdef int _k, _op, _a
    cdef double _l, _r
    for _k in range(_namespace_program_starts[_p], _namespace_program_starts[_p + 1]):
        _op = _namespace_program_ops[_k]
        _a = _namespace_program_args[_k]
        if _op == {PUSH_INPUT}:
            _top += 1
{pushes}
        elif _op == {PUSH_CONSTANT}:
            _top += 1
            _stack[_top] = _namespace_program_constants[_a]
        elif _op == {ABS}:
            _stack[_top] = _program_fabs(_stack[_top])
        elif _op == {SQRT}:
            _stack[_top] = _program_sqrt(_stack[_top])
        else:
            _r = _stack[_top]
            _top -= 1
            _l = _stack[_top]
            if _op == {ADD}:
                _stack[_top] = _l + _r
            elif _op == {SUB}:
                _stack[_top] = _l - _r
            elif _op == {MUL}:
                _stack[_top] = _l * _r
            elif _op == {DIV}:
                if _r == 0:
                    _divided_by_zero = {0 if ieee_division else 1}
                    if _l == 0 or _l != _l or {0 if ieee_division else 1}:
                        _stack[_top] = _PROGRAM_NAN
                    else:
                        _stack[_top] = _program_copysign(_PROGRAM_INF, _l) * _program_copysign(1.0, _r)
                else:
                    _stack[_top] = _l / _r
            else:
                _stack[_top] = _program_pow(_l, _r)
    if _divided_by_zero:
        return _PROGRAM_NAN
    return _stack[0]
"""


def cpp_code(name, n_inputs, arrays, ieee_division=False):
    """C++ source of ``name(index, x0, ..., x{n-1})`` (standalone devices), the same arithmetic as
    ``cython_code``, reading the table from run-time data: ``arrays`` maps ``ops``, ``args``, ``constants`` and
    ``starts`` to the device's array names of a parameter-only group (``adapters.standalone_array``), which
    ``run_args`` sets for every batch without a new build."""
    params = ", ".join(f"double _x{k}" for k in range(n_inputs))
    pushes = "\n".join(f"            {'if' if k == 0 else 'else if'} (_a == {k}) _stack[_top] = _x{k};"
                       for k in range(n_inputs))
    nan_on_zero = 0 if ieee_division else 1
    return f"""
static inline double {name}(const int _p, {params})
{{
    double _stack[{MAX_STACK}];
    int _top = -1;
    int _divided_by_zero = 0;
    for (int _k = brian::{arrays['starts']}[_p]; _k < brian::{arrays['starts']}[_p + 1]; _k++)
    {{
        const int _op = brian::{arrays['ops']}[_k];
        const int _a = brian::{arrays['args']}[_k];
        if (_op == {PUSH_INPUT}) {{
            _top += 1;
{pushes}
        }} else if (_op == {PUSH_CONSTANT}) {{
            _top += 1;
            _stack[_top] = brian::{arrays['constants']}[_a];
        }} else if (_op == {ABS}) {{
            _stack[_top] = fabs(_stack[_top]);
        }} else if (_op == {SQRT}) {{
            _stack[_top] = sqrt(_stack[_top]);
        }} else {{
            const double _r = _stack[_top];
            _top -= 1;
            const double _l = _stack[_top];
            if (_op == {ADD}) _stack[_top] = _l + _r;
            else if (_op == {SUB}) _stack[_top] = _l - _r;
            else if (_op == {MUL}) _stack[_top] = _l * _r;
            else if (_op == {DIV}) {{
                if (_r == 0) {{
                    if ({nan_on_zero}) _divided_by_zero = 1;
                    if (_l == 0 || _l != _l || {nan_on_zero}) _stack[_top] = NAN;
                    else _stack[_top] = copysign(INFINITY, _l) * copysign(1.0, _r);
                }} else _stack[_top] = _l / _r;
            }} else _stack[_top] = pow(_l, _r);
        }}
    }}
    if (_divided_by_zero) return NAN;
    return _stack[0];
}}
"""


ISNAN_CPP = """
static inline int _program_isnan(const double x)
{
    return std::isnan(x) ? 1 : 0;
}
"""

ISNAN_CODE = """
from libc.math cimport isnan as _c_isnan
cdef int _program_isnan(double x):
    return 1 if _c_isnan(x) else 0
"""


def program_function(table, name="rule_program", *, ieee_division=False, arrays=None):
    """A Brian2 Function ``name(index, x0, ...)`` running the table's programs (Cython and numpy targets);
    ``ieee_division``: a / 0 as C computes it (module docstring).

    Use it in a namespace (``{name: program_function(table)}``); a new table gives a new Function object with
    the same generated code, so Brian2 reuses the compiled extension. ``arrays`` (standalone devices): the
    device's names of the table's arrays in a parameter-only group, read by a C++ implementation (``cpp_code``).
    """
    from brian2 import Function

    def numpy_version(index, *inputs):
        return evaluate(table, index, *inputs, ieee_division=ieee_division)

    fn = Function(numpy_version, arg_units=[1] * (table.n_inputs + 1), return_unit=1,
                  arg_types=["integer"] + ["float"] * table.n_inputs, return_type="float", stateless=True)
    fn.implementations.add_implementation("cython", cython_code(f"_{name}", table.n_inputs, ieee_division),
                                          namespace=table.namespace(), name=f"_{name}")
    if arrays is not None:
        fn.implementations.add_implementation("cpp", cpp_code(f"_{name}", table.n_inputs, arrays, ieee_division),
                                              name=f"_{name}")
    return fn


def isnan_function():
    """``isnan(x)`` as 0/1 for Brian2 code (Brian2's own simplification would drop the test ``x != x``)."""
    from brian2 import Function

    fn = Function(lambda x: np.isnan(x).astype(np.int32), arg_units=[1], return_unit=1, arg_types=["float"],
                  return_type="integer", stateless=True)
    fn.implementations.add_implementation("cython", ISNAN_CODE, name="_program_isnan")
    fn.implementations.add_implementation("cpp", ISNAN_CPP, name="_program_isnan")
    return fn


BOUND_CODE = {"at_least": """
cdef double _at_least(double x, double bound):
    return x if x > bound else bound
""", "at_most": """
cdef double _at_most(double x, double bound):
    return x if x < bound else bound
"""}


BOUND_CPP = {"at_least": """
static inline double _at_least(const double x, const double bound)
{
    return x > bound ? x : bound;
}
""", "at_most": """
static inline double _at_most(const double x, const double bound)
{
    return x < bound ? x : bound;
}
"""}


def bound_functions():
    """``at_least(x, lo)`` = x if x > lo else lo and ``at_most(x, hi)`` = x if x < hi else hi: a one-sided bound
    as C++ code compares (NaN gives the bound; Brian2's clip keeps NaN), e.g. NEST's STDP synapses."""
    from brian2 import Function

    functions = {}
    for name, keep in (("at_least", np.greater), ("at_most", np.less)):
        fn = Function(lambda x, bound, keep=keep: np.where(keep(x, bound), x, bound), arg_units=[1, 1],
                      return_unit=1, arg_types=["float", "float"], return_type="float", stateless=True)
        fn.implementations.add_implementation("cython", BOUND_CODE[name], name=f"_{name}")
        fn.implementations.add_implementation("cpp", BOUND_CPP[name], name=f"_{name}")
        functions[name] = fn
    return functions


@dataclass(frozen=True)
class ProgramCalls:
    """Candidates as data inside a rule: each placeholder of the rule (a state variable in its document) is
    computed by ``rule_program(index, inputs...)`` just before the statements that use it.

    ``calls`` maps a placeholder to (Brian2 code of the program index, the rule's names of the program inputs);
    ``nan_counter`` is a variable (``zerodiv``: one per synapse; ``zerodiv_post``: the target neuron's) that
    counts NaN program values, or None; ``modulators`` maps a rule's modulator to the variable read in its place
    (the network sets no copy); ``comparison_bounds`` writes one-sided clips as ``at_least``/``at_most``."""

    table: ProgramTable
    calls: dict
    nan_counter: str = "zerodiv"
    ieee_division: bool = False
    modulators: dict = None
    comparison_bounds: bool = False
    arrays: dict = None  # standalone devices: the table's arrays in a parameter-only group (program_function)

    def namespace(self):
        """The Brian2 functions the generated statements call."""
        names = {"rule_program": program_function(self.table, ieee_division=self.ieee_division, arrays=self.arrays),
                 "rule_isnan": isnan_function()}
        return dict(names, **bound_functions()) if self.comparison_bounds else names
