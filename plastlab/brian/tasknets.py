"""Networks built from declarative specs: what a task family describes (groups, connections, a rule's plastic
synapses, operations, probes, runs), Brian2 builds here.

A spec holds plain numbers, arrays and Brian2 code strings; physical values are :class:`Quantity` (a number and
a unit name), so the caller never imports Brian2. The builder knows nothing of tasks: it makes the objects the
spec names, runs them and hands back the values asked for as numpy arrays. Objects keep the spec's names, which
also order operations of equal ``when`` and ``order`` (Brian2 sorts by name).
"""
import contextlib
import contextvars
from dataclasses import dataclass, field

import numpy as np

from . import adapters

__all__ = ["Quantity", "Table", "SpikeSource", "Neurons", "Connection", "Plastic", "Operation", "StateProbe",
           "SpikeCount", "Run", "NetworkSpec", "simulate", "using_device", "structure_key"]


@dataclass(frozen=True)
class Quantity:
    """``value`` times a Brian2 unit (``"ms"``, ``"second"``, ``"Hz"``), or divided by it (``"/ms"``)."""

    value: float
    unit: str

    def to_brian(self):
        import brian2

        if self.unit.startswith("/"):
            return self.value / getattr(brian2, self.unit[1:])
        return self.value * getattr(brian2, self.unit)


@dataclass(frozen=True)
class Table:
    """A function of time (and index) in the namespace: ``name(t, i)`` = ``values[step, i]`` (a TimedArray)."""

    values: np.ndarray
    every: Quantity


@dataclass(frozen=True)
class SpikeSource:
    """``n`` inputs; input ``indices[k]`` spikes at step ``steps[k]`` of the network's ``dt``."""

    name: str
    n: int
    indices: np.ndarray
    steps: np.ndarray


@dataclass(frozen=True)
class Neurons:
    name: str
    n: int
    model: str
    method: str = "exact"
    threshold: str = None
    reset: str = None
    refractory: Quantity = None
    values: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Connection:
    """Synapses with hand-written (non-plastic) code; ``connect`` goes to ``Synapses.connect``."""

    name: str
    source: str
    target: str
    model: str = ""
    on_pre: str = None
    connect: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)
    delay: Quantity = None


@dataclass(frozen=True)
class Plastic:
    """Synapses running a Rule through ``codegen.synapses`` (with ``program``: its placeholders computed by
    compiled programs, ``programs.ProgramCalls``); ``periodic_order`` places the rule's ``[periodic]`` updates
    among the operations at the end of a step. ``delay`` is a Quantity or ``{"pre": ..., "post": ...}``.
    ``network_namespace``: the synapses also see the spec's namespace (whose names the rule must not redefine
    with other values); otherwise only the rule's parameters."""

    name: str
    source: str
    target: str
    rule: object
    program: object = None
    extra_model: str = ""
    transmit: str = None
    transmit_last: bool = False
    method: str = None
    delay: object = None
    periodic_order: int = None
    network_namespace: bool = True
    connect: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Operation:
    """Code that ``group`` runs every ``every`` (default: every step) at ``when``/``order``."""

    name: str
    group: str
    code: str
    every: Quantity = None
    when: str = "end"
    order: int = 0


@dataclass(frozen=True)
class StateProbe:
    """Records ``variables`` of ``group`` (``record``: True or indices) every ``every`` (default: every step)."""

    name: str
    group: str
    variables: tuple
    record: object = True
    every: Quantity = None
    when: str = "start"
    order: int = 0


@dataclass(frozen=True)
class SpikeCount:
    name: str
    group: str


@dataclass(frozen=True)
class Run:
    """Advance the network by ``duration`` with the operations named in ``paused`` switched off."""

    duration: Quantity
    paused: tuple = ()


@dataclass(frozen=True)
class NetworkSpec:
    """Everything one network is: objects by kind, the shared ``namespace`` (numbers, Quantity, Table), the runs
    and the final values to read back (``read``: (object, variable) pairs)."""

    dt: Quantity
    namespace: dict
    sources: tuple = ()
    neurons: tuple = ()
    connections: tuple = ()
    plastic: tuple = ()
    operations: tuple = ()
    probes: tuple = ()
    runs: tuple = ()
    read: tuple = ()


def _namespace(values, b2):
    def convert(value):
        if isinstance(value, Quantity):
            return value.to_brian()
        if isinstance(value, Table):
            return b2.TimedArray(value.values, dt=value.every.to_brian())
        return value

    return {name: convert(value) for name, value in values.items()}


def _set_values(obj, values):
    for name, value in values.items():
        setattr(obj, name, value)


def _delay(delay):
    if isinstance(delay, dict):
        return {side: d.to_brian() for side, d in delay.items()}
    return None if delay is None else delay.to_brian()


class _Clocks:
    """One Clock per time step: every object stepping every ``dt`` shares a clock (each Clock adds per-step work
    to Brian2's loop; the same schedule and results as one ``dt=`` per object). Names are fixed by order of first
    use, so the generated code, and Brian2's cache of it, does not depend on other networks alive."""

    def __init__(self, b2):
        self.b2, self.by_step = b2, {}

    def __call__(self, dt):
        key = float(dt)
        if key not in self.by_step:
            name = "tn_clock" if not self.by_step else f"tn_clock_{len(self.by_step)}"
            self.by_step[key] = self.b2.Clock(dt, name=name)
        return self.by_step[key]


MIN_TABLE_CAPACITY = 4096  # a campaign's batch (64 candidates of up to ~60 operations) fits one build


def _table_capacity(table):
    """Room for a program table in a standalone build: at least ``MIN_TABLE_CAPACITY``, else a power of two, so
    the batches of a campaign, whose candidates' sizes vary, fit one build (a new capacity is a new compilation;
    with plain powers of two a campaign's batches of 24 error candidates crossed 256 and 512 operations, and each
    crossing compiled again: 5-50 s). Padding is inert: a program reads only its own entries."""
    n = max(len(table.ops) + 1, len(table.constants), len(table.starts), MIN_TABLE_CAPACITY)
    return 1 << (n - 1).bit_length()


TABLE_MODEL = "ops : integer\nargs : integer\nconstants : 1\nstarts : integer"


def _table_values(table, capacity):
    """A program table's arrays, zero-padded to ``capacity``, by variable of the table group."""
    arrays = table.namespace()
    return {var: np.pad(arrays[f"_program_{var}"], (0, capacity - len(arrays[f"_program_{var}"])))
            for var in ("ops", "args", "constants", "starts")}


def _program_tables(spec, b2):
    """Standalone devices: a parameter-only group per program table (set by ``run_args`` for each batch) and the
    plastic specs whose programs read their table from it."""
    from dataclasses import replace


    groups, plastic = {}, []
    for c in spec.plastic:
        if c.program is None:
            plastic.append(c)
            continue
        capacity = _table_capacity(c.program.table)
        group = b2.NeuronGroup(capacity, TABLE_MODEL, name=f"{c.name}_table")
        _set_values(group, _table_values(c.program.table, capacity))
        arrays = {var: adapters.standalone_array(b2.get_device(), group, var)
                  for var in ("ops", "args", "constants", "starts")}
        groups[c.name] = group
        plastic.append(replace(c, program=replace(c.program, arrays=arrays)))
    return groups, replace(spec, plastic=tuple(plastic))


def structure_key(spec):
    """What a standalone build depends on: the spec with its program tables reduced to their capacities (the
    tables themselves are run-time data)."""
    import hashlib
    import pickle
    from dataclasses import replace

    plastic = tuple(c if c.program is None else
                    replace(c, program=replace(c.program, table=(_table_capacity(c.program.table),
                                                                 c.program.table.n_inputs)))
                    for c in spec.plastic)
    return hashlib.sha256(pickle.dumps(replace(spec, plastic=plastic))).hexdigest()


def _build(spec, b2):
    """The Brian2 objects of ``spec``, by name, and the operations among them (for pausing)."""
    from . import codegen

    dt, ns = spec.dt.to_brian(), _namespace(spec.namespace, b2)
    clocks = _Clocks(b2)
    clock = clocks(dt)
    objects, operations = {}, {}
    for s in spec.sources:
        objects[s.name] = b2.SpikeGeneratorGroup(s.n, s.indices, s.steps * dt, clock=clock, name=s.name)
    for g in spec.neurons:
        refractory = False if g.refractory is None else g.refractory.to_brian()
        objects[g.name] = b2.NeuronGroup(g.n, g.model, threshold=g.threshold, reset=g.reset, refractory=refractory,
                                         method=g.method, clock=clock, namespace=ns, name=g.name)
        _set_values(objects[g.name], g.values)
    for c in spec.connections:
        extra = {} if c.delay is None else {"delay": c.delay.to_brian()}
        syn = b2.Synapses(objects[c.source], objects[c.target], c.model, on_pre=c.on_pre, clock=clock, namespace=ns,
                          name=c.name, **extra)
        syn.connect(**c.connect)
        _set_values(syn, c.values)
        objects[c.name] = syn
    for c in spec.plastic:
        extra = {k: v for k, v in (("method", c.method), ("delay", _delay(c.delay))) if v is not None}
        syn = codegen.synapses(c.rule, objects[c.source], objects[c.target], c.transmit, extra_model=c.extra_model,
                               transmit_last=c.transmit_last, program=c.program,
                               namespace=ns if c.network_namespace else None, clock=clock, clocks=clocks, name=c.name,
                               **extra)
        made = codegen.rule_operations(syn)
        if "periodic" in made:
            if c.periodic_order is not None:
                made["periodic"].order = c.periodic_order
            operations[made["periodic"].name] = made["periodic"]
        syn.connect(**c.connect)
        _set_values(syn, c.values)
        objects[c.name] = syn
    for op in spec.operations:
        every = clock if op.every is None else clocks(op.every.to_brian())
        operations[op.name] = objects[op.group].run_regularly(op.code, clock=every, when=op.when, order=op.order,
                                                              name=op.name)
    for probe in spec.probes:
        if isinstance(probe, SpikeCount):
            objects[probe.name] = b2.SpikeMonitor(objects[probe.group], record=False, name=probe.name)
        else:
            every = clock if probe.every is None else clocks(probe.every.to_brian())
            objects[probe.name] = b2.StateMonitor(objects[probe.group], list(probe.variables), record=probe.record,
                                                  clock=every, when=probe.when, order=probe.order, name=probe.name)
    return objects, operations


def _recorded(spec, objects):
    out = {f"{name}.{var}": adapters.owned(getattr(objects[name], var)[:]) for name, var in spec.read}
    for probe in spec.probes:
        monitor = objects[probe.name]
        if isinstance(probe, SpikeCount):
            out[probe.name] = {"count": adapters.owned(monitor.count[:])}
        else:
            out[probe.name] = dict({v: adapters.owned(getattr(monitor, v)) for v in probe.variables},
                                   t=adapters.owned(monitor.t_))
    return out


def _run_all(spec, b2, objects, operations):
    net = b2.Network(*objects.values())
    for run in spec.runs:
        for name in run.paused:
            operations[name].active = False
        net.run(run.duration.to_brian(), namespace={})
        for name in run.paused:
            operations[name].active = True


_DEVICE = contextvars.ContextVar("plastlab_tasknet_device", default="runtime")


@contextlib.contextmanager
def using_device(device):
    """``simulate`` runs on ``device`` inside the body (this thread/context only; the previous device after)."""
    from .device import check_device

    token = _DEVICE.set(check_device(device or "runtime"))
    try:
        yield
    finally:
        _DEVICE.reset(token)


def simulate(spec, device=None):
    """Build ``spec``, run its runs in order and return the values of ``spec.read`` (key ``"object.variable"``)
    and of every probe (key: its name; a dict of arrays, ``t`` in seconds).

    ``device``: ``"runtime"`` (Cython target) or a standalone device (``brian/device.py``): built once per
    structure (``structure_key``), then run with ``run_args`` carrying the program tables of each new batch.
    ``None``: the device of the enclosing ``using_device`` (default ``"runtime"``)."""
    import brian2 as b2

    device = _DEVICE.get() if device is None else device

    from .settings import brian_settings

    if device == "runtime":
        with brian_settings(target="cython"):
            objects, operations = _build(spec, b2)
            _run_all(spec, b2, objects, operations)
            return _recorded(spec, objects)
    from . import device as devices

    devices.check_device(device)

    def build(dev):
        tables, tabled = _program_tables(spec, b2)
        objects, operations = _build(tabled, b2)
        _run_all(tabled, b2, objects, operations)
        return objects, {"tables": tables}

    key = structure_key(spec)
    entry = devices.ready(key)
    if entry is None:  # building needs the settings (and their garbage collection); a built program only runs
        with brian_settings(target=None):
            entry = devices.built(key, build, device)
    tables = entry.extra["tables"]
    run_args = {}
    for c in spec.plastic:
        if c.program is not None:
            group = tables[c.name]
            for var, values in _table_values(c.program.table, len(group)).items():
                run_args[getattr(group, var)] = values
    entry.run(run_args)
    return _recorded(spec, entry.objects)
