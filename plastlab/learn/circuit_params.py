"""The dis-inhibitory circuit's numbers and options: one declared table, ``CIRCUIT``, and the dataclass made from it.

Defaults are written once, in the table; :class:`CircuitParams` is generated from it, so an experiment file's
``[circuit]`` table and a Python caller get the same defaults and the same checks (times in ms).
"""
from dataclasses import field, fields, make_dataclass

from ..config import Param, validate
from ..errors import ConfigError

__all__ = ["CIRCUIT", "CircuitParams"]

_positive = dict(low=0, strict=True)
#: the [circuit] table: published values by default, earlier departures as named options
CIRCUIT = {
    "tau_E": Param(float, 20.0, **_positive, doc="ms"), "tau_I": Param(float, 5.0, **_positive),
    "tau_C": Param(float, 100.0, **_positive), "k_p": Param(float, 0.2, low=0), "k_i": Param(float, 0.4, low=0),
    "lam": Param(float, 1.0, low=0), "beta": Param(float, 1.0, **_positive), "dt": Param(float, 1.0, **_positive),
    "readout": Param(str, "linear", choices=("linear", "microcircuit")),
    "error": Param(str, "softmax", choices=("softmax", "difference")),
    "softmax_gain": Param(float, 1.0, **_positive), "rate_anchor": Param(float, 0.0, low=0),
    "rate_level": Param(float, 0.0, low=0),
    "feedback": Param(str, "jacobian", choices=("jacobian", "weights")),
    "q_norm": Param(float, 1.0, low=0, doc="norm of each Q (jacobian) / mean column norm (weights)"),
    "q_out": Param(float, 1.0, low=0, doc="microcircuit readout: feedback q_out * identity"),
    "optimizer": Param(str, "adam", choices=("adam", "sgd")),
    "lr": Param(float, 1e-3, **_positive, doc="Adam's learning rate"),
    "eta": Param(float, 1.0, low=0, doc="the rules' eta (1/second); sgd: the learning rate, / n_pre**eta_fan_in"),
    "eta_fan_in": Param(float, 1.0, low=0),
    "phases": Param(str, "steady_state", choices=("steady_state", "fixed")),
    "steady_state": Param(str, "integrate", choices=("integrate", "newton"),
                          doc="integrate the ODEs in Brian2 until steady, or solve the fixed point by Newton"),
    "rtol": Param(float, 1e-3, **_positive), "atol": Param(float, 1e-6, **_positive),
    "t_max": Param(float, 2000.0, **_positive, doc="ms per phase at most (steady_state)"),
    "t_open": Param(float, 30.0, low=0, doc="ms (phases = fixed)"), "t_closed": Param(float, 30.0, low=0),
    "linearise": Param(str, "batch_mean", choices=("batch_mean", "fixed")),
    "theta": Param(float, 1.5), "delta": Param(float, 1.5), "inhibition_init": Param(float, 0.8, **_positive),
    "init_scale": Param(float, 1.0, low=0),
}


def _check_combinations(params, file, section):
    """What one key alone cannot say: stability of Euler's steps, Adam's scale, Newton's preconditions."""
    def fail(message, key):
        raise ConfigError(message, file=file, section=section, key=key)

    if params.dt > min(params.tau_E, params.tau_I):  # Euler's fixed points are the ODEs'; this keeps it stable
        fail(f"dt = {params.dt} ms is too coarse for tau_E = {params.tau_E} ms, tau_I = {params.tau_I} ms (need "
             "dt <= the smallest tau for the Euler rate equations)", "dt")
    if params.optimizer == "adam" and params.eta <= 0:
        fail("must be positive with optimizer = 'adam' (the change is divided by it)", "eta")
    if params.steady_state == "newton":
        for key, ok, why in (("phases", params.phases == "steady_state", "phases = 'steady_state'"),
                             ("readout", params.readout == "linear", "the linear readout"),
                             ("lam", params.lam > 0, "a leaky controller (lam > 0)")):
            if not ok:
                fail(f"steady_state = 'newton' needs {why}", key)
    for key in ("t_open", "t_closed", "t_max"):
        steps = getattr(params, key) / params.dt
        if abs(steps - round(steps)) > 1e-9:
            fail(f"{getattr(params, key)} ms is not a whole number of dt steps (dt = {params.dt} ms)", key)


def _from_dict(cls, values, *, file=None, section="circuit"):
    """Checked through the declared table CIRCUIT (ConfigError naming the key)."""
    params = cls(**validate(dict(values or {}), CIRCUIT, file=file, section=section))
    _check_combinations(params, file, section)
    return params


def _table(self):
    """The values as a plain dict, in CIRCUIT's order (what results record as provenance)."""
    return {f.name: getattr(self, f.name) for f in fields(self)}


CircuitParams = make_dataclass(
    "CircuitParams", [(key, p.kind, field(default=p.default)) for key, p in CIRCUIT.items()],
    namespace={"from_dict": classmethod(_from_dict), "table": _table,
               "__doc__": "Numbers and options of the microcircuit, its controller and its protocol (times in ms); "
                          "fields and defaults are those of CIRCUIT."})
CircuitParams.__module__ = __name__  # make_dataclass's own ``module=`` needs Python 3.12
