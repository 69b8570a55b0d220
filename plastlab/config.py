"""Declared settings tables: one validation path for every file kind (experiments, campaigns, ``--set``).

In the spirit of scikit-learn's ``_parameter_constraints``: each kind of table declares its keys with
:class:`Param` (type, default, range or choices); :func:`validate` fills defaults and raises one
:class:`~plastlab.errors.ConfigError` naming the file, the table and the key for an unknown key, a value of the
wrong type (``1.7`` for an integer, ``"0.5"`` for a number, ``"false"`` for a boolean) or a value out of range
-- before anything is simulated or written.
"""
import math
import re
from dataclasses import dataclass

from .errors import ConfigError

__all__ = ["Param", "validate", "parse_setting", "REQUIRED", "NAME_PATTERN"]

REQUIRED = object()  # default of a key that must be given
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}"  # names that become file or folder names: no '/', no '..' start
_TRUE, _FALSE = {"true", "yes", "on", "1"}, {"false", "no", "off", "0"}


@dataclass(frozen=True)
class Param:
    """One allowed key: its type, its default and its constraints.

    ``kind`` is ``int``, ``float``, ``bool``, ``str``, ``list`` or ``dict``; ``low``/``high`` bound numbers
    (``strict`` makes them exclusive), ``choices`` lists allowed values, ``item`` is the Param of list items,
    ``length`` a list's exact length, ``nullable`` allows None (TOML cannot write it; Python callers can).
    """

    kind: type
    default: object = REQUIRED
    low: float = None
    high: float = None
    strict: bool = False
    choices: tuple = None
    item: "Param" = None
    length: int = None
    nullable: bool = False
    pattern: str = None
    doc: str = ""


def validate(table, schema, *, file=None, section=None, allow_extra=False):
    """A new dict: ``table`` checked against ``schema`` with defaults filled in. ConfigError on any problem."""
    if not isinstance(table, dict):
        raise ConfigError(f"must be a table, got {type(table).__name__}", file=file, section=section)
    if not allow_extra:
        unknown = sorted(set(table) - set(schema))
        if unknown:
            raise ConfigError(f"unknown key (known: {', '.join(sorted(schema))})", file=file, section=section,
                              key=unknown[0])
    out = dict(table) if allow_extra else {}
    for key, param in schema.items():
        if key in table:
            out[key] = check_value(table[key], param, file=file, section=section, key=key)
        elif param.default is REQUIRED:
            raise ConfigError("missing required key", file=file, section=section, key=key)
        else:
            out[key] = param.default
    return out


def check_value(value, param, *, file=None, section=None, key=None):
    """``value`` checked against one Param (ints are accepted as floats, nothing else is converted)."""
    def fail(message):
        raise ConfigError(message, file=file, section=section, key=key)

    if value is None:
        if param.nullable:
            return None
        fail("a value is required")
    kind = param.kind
    if kind is bool:
        if not isinstance(value, bool):
            fail(f"must be true or false, got {value!r}")
    elif kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            fail(f"must be an integer, got {value!r}")
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail(f"must be a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            fail(f"must be a finite number, got {value!r}")
    elif kind is str:
        if not isinstance(value, str):
            fail(f"must be text, got {value!r}")
        if "\x00" in value:
            fail("must not contain a NUL character")
        if param.pattern is not None and not re.fullmatch(param.pattern, value):
            fail(f"{value!r} is not allowed here ({param.doc or 'pattern ' + param.pattern})")
    elif kind is list:
        if not isinstance(value, (list, tuple)):
            fail(f"must be a list, got {value!r}")
        if param.length is not None and len(value) != param.length:
            fail(f"must be a list of {param.length} values, got {len(value)}")
        if param.low is not None and len(value) < param.low:
            fail(f"must list at least {int(param.low)} value(s)")
        if param.item is not None:
            value = [check_value(v, param.item, file=file, section=section, key=f"{key}[{k}]")
                     for k, v in enumerate(value)]
        return list(value)
    elif kind is dict:
        if not isinstance(value, dict):
            fail(f"must be a table, got {value!r}")
        return dict(value)
    else:  # pragma: no cover - a schema error, not a user's
        raise TypeError(f"unsupported Param kind {kind!r}")
    if param.choices is not None and value not in param.choices:
        fail(f"must be one of {', '.join(map(repr, param.choices))}, got {value!r}")
    if kind in (int, float):
        if param.low is not None and (value < param.low or (param.strict and value == param.low)):
            fail(f"must be {'>' if param.strict else '>='} {param.low}, got {value!r}")
        if param.high is not None and (value > param.high or (param.strict and value == param.high)):
            fail(f"must be {'<' if param.strict else '<='} {param.high}, got {value!r}")
    return value


def parse_setting(text, param=None):
    """A command-line value (``--set key=value``) as the type its Param declares (or guessed without one).

    Booleans accept true/false/yes/no/on/off/1/0 and nothing else; numbers must be finite.
    """
    kind = param.kind if param is not None else None
    lowered = text.strip().lower()
    if kind is bool or (kind is None and lowered in ("true", "false")):
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ConfigError(f"expected true or false, got {text!r}")
    if kind in (int, float, None):
        try:
            number = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                if kind is None:
                    return text
                raise ConfigError(f"expected a number, got {text!r}") from None
        if isinstance(number, float) and not math.isfinite(number):
            raise ConfigError(f"expected a finite number, got {text!r}")
        return number
    if kind is list:
        return [parse_setting(part) for part in text.split(",") if part.strip()]
    return text
