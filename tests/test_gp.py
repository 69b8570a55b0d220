"""GP engine: trees -> SymPy by constructors, canonical cache keys, bloat limits, rule files (real DEAP)."""
import random

import pytest
import sympy as sp
import tomli_w

from plastlab.evolve import gp
from plastlab.evolve.tasks import error


@pytest.fixture
def genome():
    return gp.Genome(error.INPUTS, (1,))


def test_tree_to_sympy_uses_the_tree(genome):
    v, u, s = error.symbols()
    tree = genome.from_names(["mul", "ARG2", "sub", "ARG0", "ARG1"])
    assert str(tree) == "mul(pre_trace, sub(v_teacher, v_student))"
    assert genome.to_sympy(tree) == s * (v - u)
    tree = genome.from_names(["div", "add", "ARG0", "c1", "sub", "ARG1", "ARG1"])
    # protected division: a denominator that is identically zero gives 1 (DEAP's convention)
    assert genome.to_sympy(tree) == 1
    tree = genome.from_names(["div", "ARG0", "add", "ARG1", "c1"])
    assert genome.to_sympy(tree) == v / (u + 1)


def test_cache_key_is_canonical():
    v, u, s = error.symbols()
    assert gp.cache_key(s * (v - u)) == gp.cache_key(s * v - u * s) == gp.cache_key((s * v * s - s * u * s) / s)
    assert gp.cache_key(s * (v - u)) != gp.cache_key(2 * s * (v - u))
    assert gp.canonical(v / (u - u)) is sp.nan


def test_equivalence_up_to_positive_factor():
    v, u, s = error.symbols()
    target = s * (v - u)
    assert gp.equivalent_up_to_positive_factor(gp.canonical(3 * s * v - 3 * s * u), target)
    assert not gp.equivalent_up_to_positive_factor(gp.canonical(-s * (v - u)), target)
    assert not gp.equivalent_up_to_positive_factor(gp.canonical(v - u), target)


def test_variation_respects_bloat_limits_and_is_seeded(genome):
    tb = gp.make_toolbox(genome, max_height=4, max_size=13)

    def evolve(seed):
        random.seed(seed)
        pop = tb.population(n=8)
        for _ in range(30):
            pop = gp.vary(pop, tb, 8, 0.5, 0.5)
            for ind in pop:
                assert ind.height <= 4 and len(ind) <= 13
        return [str(ind) for ind in pop]

    assert evolve(5) == evolve(5)
    assert evolve(5) != evolve(6)


def test_names_roundtrip(genome):
    tb = gp.make_toolbox(genome)
    random.seed(1)
    for ind in tb.population(n=20):
        again = genome.from_names(genome.to_names(ind))
        assert str(again) == str(ind)


def test_champion_rule_file_passes_rules_check(tmp_path):
    from plastlab.cli import main
    from plastlab.rules.files import load_rule

    v, u, s = error.symbols()
    expr = gp.canonical((s * v - s * u) / (1 + 1))
    doc = error.rule_document(expr, "evolved_test", "a test champion")
    path = tmp_path / "evolved_test.toml"
    path.write_text(tomli_w.dumps(doc))
    assert main(["rules", "check", str(path)]) == 0
    rule = load_rule(str(path))
    assert rule.name == "evolved_test"


def test_two_function_genomes_keep_their_root_and_give_tuples():
    from plastlab.evolve.tasks import correlation

    genome = gp.Genome(correlation.INPUTS, (0.1, 1, 10), outputs=correlation.OUTPUTS)
    tb = gp.make_toolbox(genome, init_min=0, max_height=5, max_size=17)
    random.seed(2)
    pop = tb.population(n=12)
    for _ in range(20):
        pop = gp.vary(pop, tb, 12, 0.4, 0.5)
        for ind in pop:
            assert ind[0].name == "functions" and ind.height <= 5 and len(ind) <= 17
            expr = genome.to_sympy(ind)
            assert isinstance(expr, sp.Tuple) and len(expr) == 2
            assert str(genome.from_names(genome.to_names(ind))) == str(ind)
    w, k = correlation.symbols()
    tree = genome.from_names(["functions", "sub", "ARG1", "c0_1", "mul", "ARG0", "ARG1"])
    assert genome.to_sympy(tree) == sp.Tuple(k - sp.Rational(1, 10), w * k)
    # canonical part by part: equal pairs share a cache key, and a non-finite part makes the pair NaN
    assert gp.cache_key(sp.Tuple(k * (w + 1), k)) == gp.cache_key(sp.Tuple(k * w + k, k * k / k))
    assert gp.canonical(sp.Tuple(k, w / (k - k))) is sp.nan


def test_random_candidates_are_distinct_accepted_and_seeded(genome):
    toolbox = gp.make_toolbox(genome, max_height=4, max_size=15)
    names = lambda expr: {s.name for s in expr.free_symbols}  # noqa: E731
    no_v = lambda tree, expr: "v_student" not in names(expr)  # noqa: E731

    def draw(seed):
        pairs = gp.random_candidates(genome, toolbox, seed, no_v)
        return [expr for _, (_, expr) in zip(range(12), pairs)]

    first = draw(3)
    assert len({sp.srepr(e) for e in first}) == 12 and all(e.free_symbols for e in first)
    assert not [e for e in first if "v_student" in names(e)]
    unfiltered = [e for _, (_, e) in zip(range(12), gp.random_candidates(genome, toolbox, 3))]
    assert [e for e in unfiltered if "v_student" in names(e)]
    assert draw(3) == first and draw(4) != first
