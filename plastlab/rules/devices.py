"""Device non-idealities of a memristive synapse: the ``[device]`` table of a rule, declared and checked.

A rule says how the weight *should* change; a device changes it the way hardware does. The table (or
``load_rule(..., device={...})``, or ``--set device.KEY=VALUE`` on the commands) takes, every key optional:

``levels``
    N equally spaced conductance states between the weight bounds (N >= 2; ``inf`` or absent: continuous).
    After every weight update w is put on a level; ``rounding = "nearest"`` rounds to the nearest level,
    ``"stochastic"`` rounds up with probability equal to the fractional part (expected value preserved).
    Initial weights set by the networks are rounded to the nearest level.
``d2d``
    device-to-device variability: relative sd of each synapse's step amplitudes. Every synapse draws a
    potentiation factor and a depression factor, ``max(0, 1 + d2d*N(0, 1))``, once, at its first update; they
    stay fixed for the rest of the run (and across the per-pattern resets of the rule's state).
``c2c``
    cycle-to-cycle noise: relative sd of every update's size; each update is multiplied by ``1 + c2c*N(0, 1)``,
    drawn anew for every update.
``asymmetry``
    ratio of the depression step to the potentiation step: depressing steps are multiplied by it (1: symmetric).
``soft_bounds``
    aihwkit-style exponent γ >= 0 of state-dependent steps: potentiation is multiplied by
    ``((w_max - w)/(w_max - w_min))**γ``, depression by ``((w - w_min)/(w_max - w_min))**γ``, so steps shrink
    towards the bound they approach (0: hard bounds only; 1: linear soft bounds).
``read_noise``
    relative sd of the transmitted weight: every transmission uses ``w*(1 + read_noise*N(0, 1))`` (the stored
    weight is unchanged), drawn anew for every transmitted spike -- so every read, and every presentation of a
    pattern, differs. It applies wherever the weights are read for transmission: the rule's own synapses, and the
    frozen copies the networks read them through (the classifier's readout while calibrating and predicting,
    ``plastlab.brian.layer.FrozenCopies`` and the layer's static copy; CartPole's decision layer). A classifier
    predicts with the Brian2 seed of its fit, so predicting again gives the same answer.

Order of one update: the rule's step Δ = w_new - w (its own clip to the bounds removed) is scaled by the
asymmetry, the d2d factor and the soft-bounds factor of its sign, then by the c2c factor; w + Δ is clipped to the
bounds, then put on a level. Random numbers are Brian2's (``rand``/``randn``), so they follow the network's seed.
With every key at its default the rule is the plain rule: :mod:`plastlab.brian.codegen` writes the same code.
"""
import math
from dataclasses import asdict, dataclass, fields

import numpy as np

from ..errors import RuleError

__all__ = ["Device", "parse_device", "merge_device", "check_device", "on_levels", "DEVICE_KEYS", "PREFIX",
           "split_device_settings"]

PREFIX = "device_"  # names of the generated variables and namespace entries
ROUNDING = ("nearest", "stochastic")


@dataclass(frozen=True)
class Device:
    """The non-idealities of a device (defaults: an ideal device). See the module text for each key."""

    levels: int = None
    rounding: str = "nearest"
    d2d: float = 0.0
    c2c: float = 0.0
    asymmetry: float = 1.0
    soft_bounds: float = 0.0
    read_noise: float = 0.0

    @property
    def off(self):
        """True for an ideal device: nothing to generate."""
        return (self.levels is None and self.d2d == 0 and self.c2c == 0 and self.asymmetry == 1
                and self.soft_bounds == 0 and self.read_noise == 0)

    @property
    def changes_updates(self):
        return self.levels is not None or self.d2d or self.c2c or self.asymmetry != 1 or self.soft_bounds

    def table(self):
        """The keys that differ from an ideal device, as a rule file's ``[device]`` table."""
        ideal = Device()
        return {k: v for k, v in asdict(self).items() if v != getattr(ideal, k)}


DEVICE_KEYS = tuple(f.name for f in fields(Device))
_DOC = {"levels": "number of conductance states between the bounds (>= 2, or inf)",
        "rounding": "nearest | stochastic", "d2d": "relative sd of each synapse's step amplitudes (>= 0)",
        "c2c": "relative sd of every update's size (>= 0)",
        "asymmetry": "depression step / potentiation step (> 0)",
        "soft_bounds": "exponent γ of the state-dependent step (>= 0)",
        "read_noise": "relative sd of the transmitted weight (>= 0)"}


def _number(key, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        if isinstance(value, str):
            try:
                value = float(value.strip())  # text from a command line: a plain number, never evaluated
            except ValueError:
                value = None
        if not isinstance(value, float):
            raise RuleError(f"'{key}' must be a number ({_DOC[key]})", section="device", term=key)
    value = float(value)
    if math.isnan(value):
        raise RuleError(f"'{key}' is NaN ({_DOC[key]})", section="device", term=key)
    return value


def parse_device(table):
    """A :class:`Device` from a ``[device]`` table (dict), a Device, or None (None: no table)."""
    if table is None or isinstance(table, Device):
        return table
    if not isinstance(table, dict):
        raise RuleError("[device] must be a table of key = value", section="device")
    unknown = sorted(set(table) - set(DEVICE_KEYS))
    if unknown:
        raise RuleError(f"unknown key '{unknown[0]}' (known: {', '.join(DEVICE_KEYS)})", section="device",
                        term=unknown[0])
    values = {}
    for key, raw in table.items():
        if key == "rounding":
            if raw not in ROUNDING:
                raise RuleError(f"'rounding' must be one of {', '.join(ROUNDING)}, got {raw!r}", section="device",
                                term="rounding")
            values[key] = raw
            continue
        value = _number(key, raw)
        if key == "levels":
            if math.isinf(value) and value > 0:
                values[key] = None
                continue
            if value != int(value) or value < 2:
                raise RuleError(f"'levels' must be a whole number >= 2 (or inf), got {raw!r}", section="device",
                                term="levels")
            values[key] = int(value)
            continue
        if not math.isfinite(value):
            raise RuleError(f"'{key}' must be finite ({_DOC[key]}), got {raw!r}", section="device", term=key)
        if key == "asymmetry" and value <= 0:
            raise RuleError(f"'asymmetry' must be > 0 ({_DOC[key]}), got {raw!r}", section="device", term=key)
        if value < 0:
            raise RuleError(f"'{key}' must be >= 0 ({_DOC[key]}), got {raw!r}", section="device", term=key)
        values[key] = value
    return Device(**values)


def merge_device(base, overrides):
    """``base`` (a Device, a table or None) with the keys of ``overrides`` (a table) changed."""
    base = parse_device(base)
    table = dict(asdict(base)) if base is not None else {}
    if base is not None and base.levels is None:
        table.pop("levels")
    return parse_device({**table, **dict(overrides or {})})


def check_device(parts):
    """What a device needs of its rule: weight updates at events (no continuous dw/dt), finite bounds for levels
    and soft bounds, and no rule parameter in the generated names' space."""
    device = parts.device
    if device is None or device.off:
        return parts
    if parts.dw_dt is not None:
        raise RuleError(f"rule '{parts.name}' changes w continuously (dw/dt); device non-idealities apply to "
                        "spike-triggered and periodic weight updates", section="device")
    clash = sorted(n for n in parts.parameters if n.startswith(PREFIX))
    if clash:
        raise RuleError(f"parameter '{clash[0]}': names starting with '{PREFIX}' are the device's",
                        section="parameters", term=clash[0])
    if device.levels is not None or device.soft_bounds:
        import sympy as sp

        if not (parts.weight.min.is_finite is not False and parts.weight.max.is_finite is not False
                and parts.weight.min != -sp.oo and parts.weight.max != sp.oo):
            key = "levels" if device.levels is not None else "soft_bounds"
            raise RuleError(f"'{key}' needs finite weight bounds; rule '{parts.name}' has "
                            f"[{parts.weight.min}, {parts.weight.max}]", section="device", term=key)
    return parts


def on_levels(values, lo, hi, levels):
    """``values`` (floats) rounded to the nearest of ``levels`` equally spaced states in [lo, hi]."""
    values = np.asarray(values, dtype=float)
    if levels is None:
        return values
    step = (hi - lo) / (levels - 1)
    return np.clip(lo + step * np.floor((values - lo) / step + 0.5), lo, hi)


def split_device_settings(settings):
    """(classifier settings, device table): ``device.KEY`` entries of ``--set`` go to the device."""
    plain, device = {}, {}
    for key, value in settings.items():
        if key.startswith("device."):
            device[key[len("device."):]] = value
        else:
            plain[key] = value
    return plain, device
