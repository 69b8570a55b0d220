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
MAX_INT = 10**15  # any integer setting: counts, sizes and seeds are far below; 400 digits are a typo
MAX_ITEMS = 100_000  # any list setting
MAX_TEXT = 10_000  # any text setting
MAX_NESTING = 32  # brackets / tables nested in a TOML or JSON file (settings nest 2 or 3 deep)


def check_nesting(text, *, file=None, limit=MAX_NESTING):
    """Refuse TOML or JSON text whose brackets nest deeper than ``limit`` before a recursive parser sees it
    (Python's json and tomllib recurse: 10,000 '[' end in RecursionError). Brackets inside strings count too:
    an over-estimate that only matters for text no settings file needs."""
    from .errors import ConfigError

    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    if deepest > limit:
        raise ConfigError(f"brackets nested {deepest} deep, more than {limit}", file=file)
    return text


TIME_RANGE_SECONDS = (1e-6, 1e4)  # any time setting: a microsecond to nearly three hours of simulated time


def check_times(params, schema, *, file=None, section=None):
    """Every time-valued setting (its Param's doc starts with its unit: "s ...", "ms; ...", "ms: ...") within
    TIME_RANGE_SECONDS: a duration of 1e9 s would run for years, a time constant of 1e-300 ms makes every neuron
    fire at every step without a word. 0 stays allowed where the table allows it (no delay, no refractoriness)."""
    low, high = TIME_RANGE_SECONDS
    for key, param in schema.items():
        unit = re.split(r"[ ;:]", param.doc or "", maxsplit=1)[0]
        value = params.get(key)
        if unit not in ("s", "ms") or param.kind is not float or isinstance(value, bool) \
                or not isinstance(value, (int, float)) or value == 0:
            continue
        seconds = value / 1000.0 if unit == "ms" else value
        if not low <= seconds <= high:
            raise ConfigError(f"{value:g} {unit} is outside the range of times, {low * (1000 if unit == 'ms' else 1):g}"
                              f" .. {high * (1000 if unit == 'ms' else 1):g} {unit}", file=file, section=section,
                              key=key)
    return params


def parse_toml(text, *, file=None):
    """TOML text as a dict: nesting bounded first, then ``tomllib``; ConfigError (one line) for anything wrong."""
    import tomllib

    check_nesting(text, file=file)
    try:
        return tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError, ValueError) as err:
        raise ConfigError(f"not valid TOML: {err}", file=file) from None


def parse_json(text, *, file=None, what="JSON"):
    """JSON text: nesting bounded first, then ``json``; ConfigError (one line, saying ``what``) otherwise."""
    import json

    check_nesting(text, file=file)
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError, ValueError) as err:
        raise ConfigError(f"{what} (not readable JSON: {err})", file=file) from None


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
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
            fail(f"must be an integer, got {_short(value)}")
        if abs(value) > MAX_INT:
            fail(f"integer of {len(str(abs(value)))} digits is out of range (at most {MAX_INT:.0e})")
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail(f"must be a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            fail(f"must be a finite number, got {value!r}")
    elif kind is str:
        if not isinstance(value, str):
            fail(f"must be text, got {_short(value)}")
        if len(value) > MAX_TEXT:
            fail(f"text of {len(value)} characters, longer than {MAX_TEXT}")
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
        if len(value) > (param.high if param.high is not None else MAX_ITEMS):
            fail(f"must list at most {int(param.high if param.high is not None else MAX_ITEMS)} values, "
                 f"got {len(value)}")
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
