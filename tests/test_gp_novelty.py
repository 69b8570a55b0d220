"""Escalating variation ([gp] escalate_after): once converged parents' neighbourhood is all cached, later rounds of
variation mutate their offspring further and still find unseen expressions; seeded, within the bloat limits, and
off by default without changing a checkpoint's identity. No simulation here (the cache stands in for the past)."""
import random

import pytest
from evolve_helpers import tiny_campaign

from plastlab.errors import ConfigError
from plastlab.evolve import campaign, gp
from plastlab.evolve.rng import SearchRandom

WANT = 16


PARENT = ["mul", "ARG2", "sub", "ARG0", "ARG1"]  # s̄·(v − u)


@pytest.fixture(scope="module")
def seen(tmp_path_factory):
    """Everything plain variation reached from four copies of s̄·(v − u) in 30 generations' worth of rounds (other
    seeds), and the campaign file: the cache of a search that has converged on that rule."""
    path = tiny_campaign(tmp_path_factory.mktemp("novelty"), new_per_generation=WANT)
    camp = make(path, 0)
    camp.cache.put(camp.canonical_key(camp.population[0])[1], {})
    for seed in range(30):
        for ind in offspring(camp, seed):
            camp.cache.put(camp.canonical_key(ind)[1], {})
    return path, camp.cache.entries


def make(path, escalate_after):
    spec = campaign.load_campaign(path)
    spec["gp"].update({"lambda": WANT, "escalate_after": escalate_after})
    camp = campaign.Campaign(spec, path.parent / "out", progress=False)
    parent = camp.genome.from_names(PARENT)
    camp.population = [camp.toolbox.clone(parent) for _ in range(4)]
    return camp


def converged(seen, escalate_after):
    path, entries = seen
    camp = make(path, escalate_after)
    camp.cache = gp.ExpressionCache(entries)
    return camp


def unseen(camp, offspring):
    return {camp.canonical_key(ind)[1] for ind in offspring} - set(camp.cache.entries)


def offspring(camp, seed):
    camp.random = SearchRandom(seed)
    return camp.offspring()


def test_escalation_finds_unseen_expressions_where_plain_variation_does_not(seen):
    plain, escalated = converged(seen, 0), converged(seen, 2)
    found_plain = unseen(plain, offspring(plain, 99))
    found_escalated = unseen(escalated, offspring(escalated, 99))
    assert plain.variation_rounds == campaign.VARIATION_ROUNDS and len(found_plain) < WANT
    assert len(found_escalated) == WANT and escalated.variation_rounds < campaign.VARIATION_ROUNDS


def test_escalation_is_seeded_and_respects_the_bloat_limits(seen):
    camp = converged(seen, 1)
    first, again, other = (offspring(camp, seed) for seed in (5, 5, 6))
    assert [str(ind) for ind in first] == [str(ind) for ind in again]
    assert [str(ind) for ind in first] != [str(ind) for ind in other]
    # every round taken (up to 15 extra mutations per offspring): still within max_height and max_size
    camp.spec["gp"]["new_per_generation"] = 10_000
    many = offspring(camp, 7)
    assert camp.variation_rounds == campaign.VARIATION_ROUNDS
    g = camp.spec["gp"]
    assert all(ind.height <= g["max_height"] and len(ind) <= g["max_size"] for ind in many)


def test_variation_draws_from_the_campaigns_stream_alone(seen):
    """The caller's random is as it was after variation, and what the caller draws or seeds in between does not
    change the offspring: the search's stream is the campaign's own (seeded by its seed, ``self.random``)."""
    quiet, busy = converged(seen, 1), converged(seen, 1)
    random.seed(11)
    caller = random.getstate()
    first = [str(ind) for ind in quiet.offspring()]
    assert random.getstate() == caller
    second = [str(ind) for ind in quiet.offspring()]
    assert second != first  # the stream went on
    [random.random() for _ in range(5)]  # the caller draws ...
    assert [str(ind) for ind in busy.offspring()] == first
    random.seed(99)  # ... and reseeds
    assert [str(ind) for ind in busy.offspring()] == second
    assert busy.random.getstate() == quiet.random.getstate()


def test_extra_mutations_zero_draws_what_plain_variation_draws(seen):
    camp = converged(seen, 0)
    random.seed(3)
    a = gp.vary(camp.population, camp.toolbox, 8, 0.4, 0.5, 3)
    state = random.getstate()
    random.seed(3)
    b = gp.vary(camp.population, camp.toolbox, 8, 0.4, 0.5, 3, extra_mutations=0)
    assert [str(x) for x in a] == [str(x) for x in b] and random.getstate() == state


def test_escalate_after_is_checked_and_off_keeps_the_checkpoint_identity(tmp_path):
    off = campaign.load_campaign(tiny_campaign(tmp_path))
    assert off["gp"]["escalate_after"] == 0
    before = dict(off, gp={k: v for k, v in off["gp"].items() if k != "escalate_after"})  # a spec from before
    assert campaign.spec_digest(off) == campaign.spec_digest(before)
    on = campaign.load_campaign(tiny_campaign(tmp_path, escalate_after=3))
    assert campaign.spec_digest(on) != campaign.spec_digest(off)
    with pytest.raises(ConfigError, match="escalate_after"):
        campaign.load_campaign(tiny_campaign(tmp_path, escalate_after=campaign.VARIATION_ROUNDS))
