"""The house rules of ARCHITECTURE.md, checked on the source: no import circle, no arrow against the floors.

Every ``import`` and ``from ... import`` in every module counts, including those inside functions.
"""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "plastlab"

# floors, top to bottom: a module may import its own subpackage or anything on a lower floor
FLOORS = {"cli": 5, "experiments": 4, "learn": 3, "evolve": 3, "brian": 2, "rules": 1,
          "config": 0, "store": 0, "plots": 0, "datasets": 0, "outputs": -0.5, "errors": -1, "interrupts": -1,
          "report": 0.5}  # report: result files -> pages; uses store, imported only by cli
PUBLIC_FACE = "plastlab"  # __init__ and __main__: re-exports only, imported by nobody inside the package


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path):
    """Absolute names of the plastlab modules a file imports (anywhere in it)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "plastlab"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif (node.module or "").split(".")[0] == "plastlab":
                target = node.module
            else:
                continue
            modules = {f"{target}.{a.name}" for a in node.names if is_module(f"{target}.{a.name}")}
            found |= modules if len(modules) == len(node.names) else modules | {target}
    return found - {name}


def is_module(name):
    path = PACKAGE.parent / name.replace(".", "/")
    return path.with_suffix(".py").is_file() or path.is_dir()


def unit(module):
    """The floor unit of a module: its subpackage or leaf module (``plastlab.learn.cartpole`` -> ``learn``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else PUBLIC_FACE


def graph():
    return {module_name(p): imported_modules(p) for p in sorted(PACKAGE.rglob("*.py"))}


def test_every_unit_has_a_floor():
    units = {unit(m) for m in graph()} - {PUBLIC_FACE, "__main__"}
    assert units <= set(FLOORS), f"modules outside the declared floors: {sorted(units - set(FLOORS))}"


def test_arrows_point_down():
    wrong = []
    for module, imports in graph().items():
        here = unit(module)
        if here in (PUBLIC_FACE, "__main__"):
            continue
        for target in imports:
            there = unit(target)
            if there == PUBLIC_FACE and target == "plastlab":
                wrong.append(f"{module} imports the package face 'plastlab'")
            elif there != here and FLOORS.get(there, 99) >= FLOORS[here]:
                wrong.append(f"{module} -> {target} ({here} floor {FLOORS[here]}, {there} floor {FLOORS.get(there)})")
    assert not wrong, "imports against the floors:\n" + "\n".join(sorted(wrong))


def test_no_import_circle():
    edges = {m: {t for t in imports if t in graph_cache} for m, imports in graph_cache.items()}
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                cycle = stack[stack.index(nxt):] + [nxt]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node)


graph_cache = graph()


def test_the_checker_sees_imports_inside_functions():
    """The walker must count an import made in a function body (``plastlab evolve`` imports its engine lazily)."""
    assert "plastlab.evolve.campaign" in imported_modules(PACKAGE / "cli" / "commands.py")


def test_every_subpackage_ships_in_a_plain_install():
    """setup.cfg lists packages by name (the rule library is mapped in from rules/): a new subpackage must be
    listed, or `pip install .` silently leaves it out."""
    import configparser

    config = configparser.ConfigParser()
    config.read(PACKAGE.parent / "setup.cfg")
    listed = set(config["options"]["packages"].split())
    present = {".".join(p.relative_to(PACKAGE.parent).parts[:-1]) for p in PACKAGE.rglob("__init__.py")}
    assert present <= listed, f"missing from setup.cfg [options] packages: {sorted(present - listed)}"
    assert "plastlab.rule_library" in listed


# --- brian/ is the one boundary to Brian2 ---------------------------------------------------------------------------

BRIAN_OBJECTS = {"NeuronGroup", "Synapses", "Network", "SpikeGeneratorGroup", "PoissonGroup", "PoissonInput",
                 "StateMonitor", "SpikeMonitor", "PopulationRateMonitor", "EventMonitor", "Function", "Clock",
                 "NetworkOperation", "network_operation", "TimedArray", "Subgroup", "MagicNetwork", "run",
                 "start_scope", "set_device", "device", "get_device", "defaultclock", "store", "restore"}
# Brian2's documented tables of the names it reserves in every namespace (the rule checks refuse them)
RESERVED_NAME_TABLES = {"brian2.core.functions": {"DEFAULT_FUNCTIONS", "DEFAULT_CONSTANTS"},
                        "brian2.units": {"allunits", "constants"}}


def brian2_uses(path):
    """(line, what) for every Brian2 object constructor or Brian2 module beyond its units that ``path`` reaches:
    ``from brian2.x import Y`` and attribute access on a name bound by ``import brian2 [as b2]``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    aliases, found = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            aliases |= {a.asname or a.name for a in node.names if a.name == "brian2"}
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("brian2.")
                      and not a.name.startswith("brian2.units")]
        elif isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] == "brian2":
            for a in node.names:
                allowed = RESERVED_NAME_TABLES.get(node.module, set())
                public_units = node.module.startswith("brian2.units") and a.name not in {"allunits", "constants"}
                if a.name in BRIAN_OBJECTS or not (node.module == "brian2" or public_units or a.name in allowed):
                    found.append((node.lineno, f"{node.module}.{a.name}"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            if node.attr in BRIAN_OBJECTS:
                found.append((node.lineno, f"brian2.{node.attr}"))
    return found


def test_only_brian_builds_brian2_objects_or_reaches_its_internals():
    """Outside plastlab/brian/, Brian2 is its units and its public preferences, never its objects or internals."""
    wrong = [f"{p.relative_to(PACKAGE.parent)}:{line}: {what}" for p in sorted(PACKAGE.rglob("*.py"))
             if "brian" not in p.relative_to(PACKAGE).parts[:1] for line, what in brian2_uses(p)]
    assert not wrong, "Brian2 objects or internals outside plastlab/brian/:\n" + "\n".join(wrong)


def test_the_boundary_checker_sees_constructors_and_internals(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("import brian2 as b2\nfrom brian2 import ms, Synapses\nfrom brian2.groups import group\n"
                      "def f():\n    return b2.NeuronGroup(1, 'v:1'), b2.second\n")
    assert [what for _, what in brian2_uses(source)] == ["brian2.Synapses", "brian2.groups.group",
                                                         "brian2.NeuronGroup"]
