"""Rule files (TOML, format: rules/README.md) <-> Rules, and the search path for rule names.

Rule names are looked up in ``$PLASTLAB_RULES`` (os.pathsep-separated folders), then ``./rules``, then the
rule library shipped inside the package (``plastlab.rule_library``: the repository's ``rules/``, installed as
package data so that a plain ``pip install .`` has it). A file's ``[rule] name`` must be its file name, so a
rule is found by the name it shows.
"""
import os
from importlib import resources
from pathlib import Path

from ..config import parse_toml
from ..errors import ConfigError, RuleError
from .rule import Rule

__all__ = ["rule_from_toml", "load_rule", "available_rules", "rule_paths", "find_rule_file", "rule_origins"]

SECTIONS = ("rule", "parameters", "weight", "inputs", "state", "traces", "on_pre", "on_post", "continuous",
            "periodic", "window", "device", "pairing", "metadata")  # [metadata]: provenance (a fit's), not read
MAX_FILE_BYTES = 1_000_000


def rule_from_toml(text, *, source=None):
    """Build a Rule from the text of a rule file."""
    where = str(source) if source else None
    try:
        data = parse_toml(text)
    except ConfigError as err:  # nesting bounded, then tomllib
        raise RuleError(err.message, file=where) from None
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise RuleError(f"unknown section '{unknown[0]}' (known: {', '.join(sorted(SECTIONS))})", file=where,
                        term=unknown[0])
    for section, value in data.items():
        if not isinstance(value, dict):
            raise RuleError("must be a table", file=where, section=section)
    head = data.get("rule", {})
    extra = sorted(set(head) - {"name", "summary", "citation"})
    if extra:
        raise RuleError(f"unknown key '{extra[0]}'", file=where, section="rule", term=extra[0])
    name = head.get("name", Path(source).stem if source else None)
    if not isinstance(name, str):
        raise RuleError("missing name", file=where, section="rule")
    for key in ("summary", "citation"):
        if not isinstance(head.get(key, ""), str):
            raise RuleError(f"{key} must be text", file=where, section="rule", term=key)
    continuous = data.get("continuous", {})
    if set(continuous) - {"dw_dt"}:
        raise RuleError(f"unknown key '{sorted(set(continuous) - {'dw_dt'})[0]}'", file=where, section="continuous")
    return Rule(name, summary=head.get("summary", ""), citation=head.get("citation", ""),
                parameters=data.get("parameters"), weight=data.get("weight"), inputs=data.get("inputs"),
                state=data.get("state"), periodic=data.get("periodic"), traces=data.get("traces"),
                on_pre=data.get("on_pre", ()), on_post=data.get("on_post", ()), dw_dt=continuous.get("dw_dt"),
                window=data.get("window"), source=source, device=data.get("device"),
                pairing=data.get("pairing"))


def library_dir():
    """The rule library shipped with the package."""
    return Path(str(resources.files("plastlab.rule_library")))


def rule_paths():
    """Folders searched for rule names, first match wins: $PLASTLAB_RULES, ./rules, the shipped library."""
    extra = [Path(p) for p in os.environ.get("PLASTLAB_RULES", "").split(os.pathsep) if p]
    return [*extra, Path.cwd() / "rules", library_dir()]


def find_rule_file(name_or_path):
    text = str(name_or_path)
    if "\x00" in text:
        raise RuleError("a rule name cannot contain a NUL character")
    path = Path(text)
    if path.suffix == ".toml" or os.sep in text:
        if not path.is_file():
            raise RuleError(f"no rule file '{name_or_path}'")
        return path
    for folder in rule_paths():
        candidate = folder / f"{text}.toml"
        if candidate.is_file():
            return candidate
    raise RuleError(f"unknown rule '{name_or_path}' (known: {', '.join(available_rules()) or 'none'})")


def rule_origins():
    """{rule name: file it is loaded from}, in search order (a name found twice comes from the first folder)."""
    found = {}
    for folder in rule_paths():
        if folder.is_dir():
            for path in sorted(folder.glob("*.toml")):
                found.setdefault(path.stem, path)
    return found


def available_rules():
    return list(rule_origins())


def load_rule(name_or_path, *, device=None):
    """A Rule from a rule name (looked up in rule_paths()), a path to a TOML rule file, or a Rule; ``device`` (a
    table, :mod:`plastlab.rules.devices`) changes keys of the rule's ``[device]`` non-idealities."""
    if device:
        return load_rule(name_or_path).with_device(**device)
    if isinstance(name_or_path, Rule):
        return name_or_path
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise RuleError(f"expected a rule name, a rule file or a Rule, got {type(name_or_path).__name__}")
    path = find_rule_file(name_or_path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise RuleError(f"rule file larger than {MAX_FILE_BYTES} bytes", file=str(path))
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise RuleError(f"cannot read rule file: {err}", file=str(path)) from None
    rule = rule_from_toml(text, source=path)
    if rule.name != path.stem:
        raise RuleError(f"name '{rule.name}' differs from the file name '{path.stem}': rules are found by file name, "
                        "so the two must agree", file=str(path), section="rule", term="name")
    return rule
