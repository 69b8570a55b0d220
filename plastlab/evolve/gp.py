"""Genetic programming on DEAP: primitive sets, genome -> SymPy, variation, expression cache.

A genome is a DEAP ``PrimitiveTree`` built by the engine over the family's inputs, + - * protected / (and pow where
the family allows) and the family's constants; a family that evolves several functions at once gets a tree whose
root (``functions``) holds one subtree per function, and a SymPy ``Tuple``. It is turned into SymPy with SymPy's
own constructors (``Add``, ``Mul``, ``Pow``), never through text, and brought to a canonical rational form
(``sympy.cancel``) that keys the expression cache: candidates that are mathematically equal are simulated once.

Protected division follows DEAP's convention (a/b = 1 where b = 0) at the symbolic level: a denominator that is
identically zero makes the quotient 1. A denominator that becomes exactly 0 during a simulation is reported by
the task family as a failed evaluation (worst fitness, reason recorded, as the paper scores division by zero);
it is never silently replaced. pow is C's pow on doubles (``_sym_pow``): a negative base with a non-integer
exponent gives NaN during the simulation and therefore the worst fitness; constant exponents beyond
``MAX_EXPONENT`` in magnitude are not simulated (worst fitness).
"""
import math
import operator
import random

import sympy as sp
from deap import base, creator, gp, tools

from ..rules.expressions import canonical
from .rng import SearchRandom

# creator classes must exist at import time of a module the Dask workers can import
if not hasattr(creator, "RuleFitness"):
    creator.create("RuleFitness", base.Fitness, weights=(1.0,))
if not hasattr(creator, "RuleTree"):
    creator.create("RuleTree", gp.PrimitiveTree, fitness=creator.RuleFitness)


def protected_div(a, b):
    """Numeric protected division, only used if someone calls ``gp.compile`` on an engine-built tree."""
    return a / b if b != 0 else 1.0


def _sym_add(a, b):
    return sp.Add(a, b)


def _sym_sub(a, b):
    return sp.Add(a, sp.Mul(sp.Integer(-1), b))


def _sym_mul(a, b):
    return sp.Mul(a, b)


def _sym_div(a, b):
    if b == 0:  # structural zero after SymPy's automatic simplification: DEAP's protected division gives 1
        return sp.Integer(1)
    return sp.Mul(a, sp.Pow(b, sp.Integer(-1)))


MAX_EXPONENT = 16  # |numeric exponent| above this: the tree is not simulated (SymPy would expand or compute
# enormous numbers, e.g. (v + 1)**100 or 10**(10**10)); such a pow gives NaN, i.e. the worst fitness


def _sym_pow(a, b):
    """pow as C's pow on doubles: a negative base with a non-integer exponent is NaN (worst fitness), as is a
    numeric exponent beyond MAX_EXPONENT in magnitude."""
    if b.is_Number and abs(b) > MAX_EXPONENT:
        return sp.nan
    if a.is_Number and b.is_Number:
        if a < 0 and not b.is_Integer:
            return sp.nan
        if a == 0 and b < 0:
            return sp.nan  # inf in C: not finite
    return sp.Pow(a, b)


MAX_EXP_ARGUMENT = 700.0  # exp of a larger number overflows a double: such a constant exp is NaN (worst fitness)


def _sym_exp(a):
    """exp, unary (families scored in closed form only, e.g. ``fit``: the Brian2 program evaluator has no exp,
    so another family scores a candidate using it as outside its operators)."""
    if a.is_Number and a > MAX_EXP_ARGUMENT:
        return sp.nan
    return sp.exp(a)


def _functions(*parts):
    return Functions(parts)


SYMBOLIC = {"add": _sym_add, "sub": _sym_sub, "mul": _sym_mul, "div": _sym_div, "pow": _sym_pow,
            "exp": _sym_exp, "functions": lambda *parts: sp.Tuple(*parts)}
NUMERIC = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": protected_div, "pow": operator.pow,
           "exp": math.exp}
ARITY = {"exp": 1}  # operators taking one argument; the others take two


def constant_name(value):
    """Terminal name of a constant: 1 -> 'c1', 0.1 -> 'c0_1', 10 -> 'c10'."""
    text = str(value).replace(".", "_").replace("-", "m")
    return f"c{text}"


class Functions(tuple):
    """Type of the root of a genome that evolves several functions at once (e.g. facilitation and depression):
    only the ``functions`` primitive returns it, so variation keeps exactly one tuple at the root."""


def make_pset(inputs, constants=(1,), operators=("add", "sub", "mul", "div"), outputs=1):
    """Typed primitive set: every input, constant and operator result is a float; with ``outputs`` > 1 the tree's
    root is a ``functions`` node holding one float subtree per evolved function."""
    pset = gp.PrimitiveSetTyped("rule", [float] * len(inputs), Functions if outputs > 1 else float)
    if outputs > 1:
        pset.addPrimitive(_functions, [float] * outputs, Functions, name="functions")
    for name in operators:
        pset.addPrimitive(NUMERIC[name], [float] * ARITY.get(name, 2), float, name=name)
    for value in constants:
        pset.addTerminal(float(value), float, name=constant_name(value))
    pset.renameArguments(**{f"ARG{k}": name for k, name in enumerate(inputs)})
    return pset


def _sympy_constant(value):
    return sp.Rational(str(value))


class Genome:
    """Converts between DEAP trees and SymPy for one primitive set."""

    def __init__(self, inputs, constants=(1,), operators=("add", "sub", "mul", "div"), outputs=()):
        self.inputs = tuple(inputs)
        self.constants = tuple(constants)
        self.operators = tuple(operators)
        self.outputs = tuple(outputs)  # names of the evolved functions when there are several
        self.pset = make_pset(self.inputs, self.constants, self.operators, outputs=max(1, len(self.outputs)))
        self.symbols = {name: sp.Symbol(name, real=True) for name in self.inputs}
        self.terminal_values = dict(self.symbols)
        # DEAP keeps ARGk as the node name of renamed arguments (the new name is the node's value)
        self.terminal_values.update({f"ARG{k}": self.symbols[name] for k, name in enumerate(self.inputs)})
        for value in self.constants:
            self.terminal_values[constant_name(value)] = _sympy_constant(value)
        self._by_name = {}
        for prims in self.pset.primitives.values():
            for prim in prims:
                self._by_name[prim.name] = prim
        for terms in self.pset.terminals.values():
            for term in terms:
                self._by_name[term.name] = term

    def to_sympy(self, tree):
        """The SymPy expression of a tree, built node by node with SymPy constructors."""
        stack = []
        for node in reversed(tree):
            if isinstance(node, gp.Primitive):
                args = [stack.pop() for _ in range(node.arity)]
                stack.append(SYMBOLIC[node.name](*args))
            else:
                stack.append(self.terminal_values[node.name])
        (expr,) = stack
        return expr

    def to_names(self, tree):
        """The tree as a list of node names (for JSON checkpoints; no parsing needed to read it back)."""
        return [node.name for node in tree]

    def from_names(self, names):
        return creator.RuleTree([self._by_name[name] for name in names])


def cache_key(expr):
    """The expression cache key: the canonical form's structural representation."""
    return sp.srepr(canonical(expr))


def readable(expr):
    """A short human-readable form of a canonical expression (factorised; part by part for a Tuple)."""
    if expr is sp.nan:
        return "nan"
    if isinstance(expr, sp.Tuple):
        return sp.Tuple(*[sp.factor(part) for part in expr])
    return sp.factor(expr)


class ExpressionCache:
    """Results by canonical expression; counts hits and misses for the hit rate."""

    def __init__(self, entries=None):
        self.entries = dict(entries or {})
        self.hits = 0
        self.lookups = 0

    def __contains__(self, key):
        return key in self.entries

    def get(self, key):
        self.lookups += 1
        if key in self.entries:
            self.hits += 1
            return self.entries[key]
        return None

    def put(self, key, result):
        self.entries[key] = result

    @property
    def hit_rate(self):
        return self.hits / self.lookups if self.lookups else 0.0


def make_toolbox(genome, *, init_min=1, init_max=3, mut_max=2, max_height=6, max_size=25):
    """A DEAP toolbox: initialisation, one-point crossover, mixed mutation, bloat limits (staticLimit)."""
    pset = genome.pset
    if genome.outputs:
        init_min = max(1, init_min)  # the functions root needs children
    tb = base.Toolbox()
    tb.register("expr", _within_limits, gp.genHalfAndHalf, max_height, max_size, pset=pset, min_=init_min,
                max_=init_max)
    tb.register("individual", tools.initIterate, creator.RuleTree, tb.expr)
    tb.register("population", tools.initRepeat, list, tb.individual)
    tb.register("mate", gp.cxOnePoint)
    tb.register("expr_mut", gp.genFull, min_=0, max_=mut_max)
    tb.register("mutate", mutate, pset=pset, expr=tb.expr_mut)
    for name in ("mate", "mutate"):
        tb.decorate(name, gp.staticLimit(key=operator.attrgetter("height"), max_value=max_height))
        tb.decorate(name, gp.staticLimit(key=len, max_value=max_size))
    tb.register("select", select_distinct)
    return tb


def random_candidates(genome, toolbox, seed, accept=lambda tree, expr: True):
    """Endless (tree, canonical expression) pairs from random trees: distinct, not NaN, using an input, and
    ``accept(tree, expr)``-ed (e.g. simulable). Drawn from a stream of their own seeded with ``seed``, lent to
    DEAP's ``random`` only while one pair is drawn: the caller's ``random`` is left alone, and the caller's own
    draws between two pairs do not change the pairs."""
    stream, seen = SearchRandom(seed), set()
    while True:
        with stream:
            tree, expr = _next_candidate(genome, toolbox, accept, seen)
        yield tree, expr


def _next_candidate(genome, toolbox, accept, seen):
    while True:
        tree = toolbox.individual()
        expr = canonical(genome.to_sympy(tree))
        key = sp.srepr(expr)
        if expr is not sp.nan and key not in seen and expr.free_symbols and accept(tree, expr):
            seen.add(key)
            return tree, expr


def _within_limits(generate, max_height, max_size, **kwargs):
    """A generated expression that already respects the bloat limits (drawn again until it does)."""
    while True:
        expr = generate(**kwargs)
        tree = gp.PrimitiveTree(expr)
        if tree.height <= max_height and len(tree) <= max_size:
            return expr


def select_distinct(individuals, k):
    """The k best individuals with distinct canonical expressions (attribute ``key``), best first.

    Plain selBest lets one expression and its many equivalent trees fill the whole parent pool, after which
    variation keeps producing cached duplicates; taking each canonical expression once keeps the search moving.
    Ties keep the pool's order (stable sort), so the selection is deterministic. Duplicates fill up only when
    there are fewer than k distinct expressions.
    """
    ranked = sorted(individuals, key=lambda ind: ind.fitness.values[0], reverse=True)
    chosen, seen, rest = [], set(), []
    for ind in ranked:
        key = getattr(ind, "key", None)
        if key is not None and key in seen:
            rest.append(ind)
            continue
        seen.add(key)
        chosen.append(ind)
    return (chosen + rest)[:k]


def mutate(individual, pset, expr):
    """One of: replace a subtree (0.35), replace a node (0.2), insert a node above a subtree (0.3), shrink (0.15);
    chosen with the global ``random``, as DEAP's operators draw (a campaign lends it its own stream, ``rng``).
    Insertion turns e.g. (v - u) into s*(v - u) in one step."""
    choice = random.random()
    if choice < 0.35:
        if individual.root.ret is Functions:
            return replace_subtree_below_root(individual, expr, pset)
        return gp.mutUniform(individual, expr=expr, pset=pset)
    if choice < 0.55:
        return gp.mutNodeReplacement(individual, pset=pset)
    if choice < 0.85:
        return gp.mutInsert(individual, pset=pset)
    if len(individual) > 1:
        return gp.mutShrink(individual)
    return gp.mutUniform(individual, expr=expr, pset=pset)


def replace_subtree_below_root(individual, expr, pset):
    """DEAP's mutUniform, but never at the root: a ``functions`` root must stay (no terminal has its type)."""
    index = random.randrange(1, len(individual))
    slice_ = individual.searchSubtree(index)
    individual[slice_] = expr(pset=pset, type_=individual[index].ret)
    return (individual,)


def vary(population, toolbox, lambda_, cxpb, mutpb, tournsize=3, extra_mutations=0):
    """λ offspring, each by crossover (cxpb), mutation (mutpb) or reproduction, as in DEAP's ``varOr``; with
    ``extra_mutations`` = k > 0 every offspring is then mutated k more times (escalating variation: reaches
    expressions a few steps further from converged parents; each step within the bloat limits, as
    ``toolbox.mutate`` is). Draws from the global ``random`` (a campaign lends it its own stream); k = 0 draws
    exactly what plain variation draws.

    DEAP's ``algorithms.varOr`` itself is not used because it picks parents uniformly (``random.sample``,
    ``random.choice``) where this search picks them by tournaments of ``tournsize`` (fitter parents are varied
    more often), and its copies are not cloned; its loop is kept here with DEAP's ``selTournament`` inside."""
    offspring = []
    for _ in range(lambda_):
        op = random.random()
        if op < cxpb:
            a, b = (toolbox.clone(ind) for ind in tools.selTournament(population, 2, tournsize))
            a, b = toolbox.mate(a, b)
            del a.fitness.values
            offspring.append(a)
        elif op < cxpb + mutpb:
            (a,) = (toolbox.clone(ind) for ind in tools.selTournament(population, 1, tournsize))
            (a,) = toolbox.mutate(a)
            del a.fitness.values
            offspring.append(a)
        else:
            offspring.append(toolbox.clone(random.choice(population)))
    if extra_mutations > 0:
        offspring = [mutate_repeatedly(ind, toolbox, extra_mutations) for ind in offspring]
    return offspring


def mutate_repeatedly(individual, toolbox, steps):
    """``individual`` after ``steps`` further mutations (a step that would break a bloat limit is undone by
    ``toolbox.mutate``'s staticLimit, so the result always respects them)."""
    for _ in range(steps):
        (individual,) = toolbox.mutate(individual)
    if individual.fitness.valid:
        del individual.fitness.values
    return individual


def equivalent_up_to_positive_factor(expr, target):
    """True when expr = c * target for a constant c > 0 (SymPy-exact)."""
    if expr is sp.nan or target == 0:
        return False
    ratio = sp.cancel(sp.together(expr / target))
    return bool(ratio.is_number and ratio.is_positive)

