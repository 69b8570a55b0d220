"""Networks built from declarative specs: what a task family describes (groups, connections, a rule's plastic
synapses, operations, probes, runs), Brian2 builds here.

A spec holds plain numbers, arrays and Brian2 code strings; physical values are :class:`Quantity` (a number and
a unit name), so the caller never imports Brian2. The builder knows nothing of tasks: it makes the objects the
spec names, runs them and hands back the values asked for as numpy arrays. Objects keep the spec's names, which
also order operations of equal ``when`` and ``order`` (Brian2 sorts by name).
"""
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Quantity", "Table", "SpikeSource", "Neurons", "Connection", "Plastic", "Operation", "StateProbe",
           "SpikeCount", "Run", "NetworkSpec", "simulate"]


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


def _build(spec, b2):
    """The Brian2 objects of ``spec``, by name, and the operations among them (for pausing)."""
    from . import codegen

    dt, ns = spec.dt.to_brian(), _namespace(spec.namespace, b2)
    objects, operations = {}, {}
    for s in spec.sources:
        objects[s.name] = b2.SpikeGeneratorGroup(s.n, s.indices, s.steps * dt, dt=dt, name=s.name)
    for g in spec.neurons:
        refractory = False if g.refractory is None else g.refractory.to_brian()
        objects[g.name] = b2.NeuronGroup(g.n, g.model, threshold=g.threshold, reset=g.reset, refractory=refractory,
                                         method=g.method, dt=dt, namespace=ns, name=g.name)
        _set_values(objects[g.name], g.values)
    for c in spec.connections:
        extra = {} if c.delay is None else {"delay": c.delay.to_brian()}
        syn = b2.Synapses(objects[c.source], objects[c.target], c.model, on_pre=c.on_pre, dt=dt, namespace=ns,
                          name=c.name, **extra)
        syn.connect(**c.connect)
        _set_values(syn, c.values)
        objects[c.name] = syn
    for c in spec.plastic:
        extra = {k: v for k, v in (("method", c.method), ("delay", _delay(c.delay))) if v is not None}
        syn = codegen.synapses(c.rule, objects[c.source], objects[c.target], c.transmit, extra_model=c.extra_model,
                               transmit_last=c.transmit_last, program=c.program,
                               namespace=ns if c.network_namespace else None, dt=dt, name=c.name,
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
        every = None if op.every is None else op.every.to_brian()
        operations[op.name] = objects[op.group].run_regularly(op.code, dt=every, when=op.when, order=op.order,
                                                              name=op.name)
    for probe in spec.probes:
        if isinstance(probe, SpikeCount):
            objects[probe.name] = b2.SpikeMonitor(objects[probe.group], record=False, name=probe.name)
        else:
            every = None if probe.every is None else probe.every.to_brian()
            objects[probe.name] = b2.StateMonitor(objects[probe.group], list(probe.variables), record=probe.record,
                                                  dt=every, when=probe.when, order=probe.order, name=probe.name)
    return objects, operations


def _recorded(spec, objects):
    out = {f"{name}.{var}": np.asarray(getattr(objects[name], var)[:]) for name, var in spec.read}
    for probe in spec.probes:
        monitor = objects[probe.name]
        if isinstance(probe, SpikeCount):
            out[probe.name] = {"count": np.asarray(monitor.count[:])}
        else:
            out[probe.name] = dict({v: np.asarray(getattr(monitor, v)) for v in probe.variables},
                                   t=np.asarray(monitor.t_))
    return out


def simulate(spec):
    """Build ``spec`` (Cython target), run its runs in order and return the values of ``spec.read`` (key
    ``"object.variable"``) and of every probe (key: its name; a dict of arrays, ``t`` in seconds)."""
    import brian2 as b2

    from .settings import brian_settings

    with brian_settings(target="cython"):
        objects, operations = _build(spec, b2)
        net = b2.Network(*objects.values())
        for run in spec.runs:
            for name in run.paused:
                operations[name].active = False
            net.run(run.duration.to_brian(), namespace={})
            for name in run.paused:
                operations[name].active = True
        return _recorded(spec, objects)
