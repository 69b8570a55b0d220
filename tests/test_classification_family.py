"""The classification task family: window shapes scored by the classifier's held-out accuracy (real Brian2 fits,
tiny data)."""
import math

import pytest
import sympy as sp

import plastlab.experiments  # noqa: F401 (registers the family)
from plastlab.errors import ConfigError
from plastlab.evolve.tasks import get_family, rule_from_document
from plastlab.rules.files import load_rule

TINY = {"dataset": "iris", "max_samples": 30, "folds": 2, "classifier": {"members": 1, "epochs": 1}}


@pytest.fixture(scope="module")
def family():
    return get_family("classification")


@pytest.mark.slow
def test_the_flat_baseline_is_the_flat_window_control(family):
    """The pair (1, -alpha) is rules/stdp_flat.toml: the same window, and the same held-out accuracy on the same
    folds."""
    import numpy as np
    from brian2 import ms

    from plastlab.rules.window import window_curve

    pair = rule_from_document(family.rule_document(family.baselines()["flat_window"], "flat", "", TINY))
    grid = np.arange(-80.0, 81.0, 5.0) * ms
    np.testing.assert_array_equal(window_curve(pair, grid, [0.5]), window_curve(load_rule("stdp_flat"), grid, [0.5]))
    flat = family.evaluate_batch([family.baselines()["flat_window"]], [3], TINY)[0]
    control = family.evaluate_rule(load_rule("stdp_flat"), [3], TINY)
    assert flat["reason"] == "" and 0 < flat["fitness"] <= 1
    assert flat["per_instance"] == control["per_instance"]


def test_a_candidate_is_a_window_rule_with_its_shapes(family):
    dt, w = family.symbols()
    doc = family.rule_document(sp.Tuple(sp.exp(-dt) * (1 - w), -w), "c", "", TINY)
    assert doc["window"]["potentiation"] == "amplitude*((1 - w)*exp(-delta_t/tau_plus))"
    assert doc["metadata"]["evolved"]["dataset"] == "iris"
    assert rule_from_document(doc).window is not None


def test_failures_and_bad_settings(family):
    assert family.evaluate_batch([sp.nan], [3], TINY)[0]["fitness"] == -math.inf
    with pytest.raises(ConfigError, match="family.classifier"):
        family.params_with_defaults(dict(TINY, classifier={"members": 0}))
    with pytest.raises(ConfigError, match="random_state"):
        family.params_with_defaults(dict(TINY, classifier={"random_state": 1}))


@pytest.mark.slow
def test_a_campaign_writes_a_champion_that_classifies(tmp_path):
    """A tiny campaign (in this process), then its champion through `rules check` and `classify`."""
    from plastlab.cli import main

    campaign = tmp_path / "tiny.toml"
    campaign.write_text(TINY_CAMPAIGN)
    assert main(["evolve", str(campaign), "--workers", "0", "--out", str(tmp_path / "out")]) == 0
    champion = next((tmp_path / "out" / "champions").glob("*.toml"))
    assert main(["rules", "check", str(champion)]) == 0
    assert main(["classify", "iris", "--rule", str(champion), "--folds", "2", "--set", "members=1",
                 "--set", "epochs=1", "--out", str(tmp_path / "classified")]) == 0
    assert (tmp_path / "classified" / "results.nc").exists()


TINY_CAMPAIGN = """
[campaign]
name = "tinyclass"
family = "classification"
seed = 2
generations = 1

[gp]
initial = 3
mu = 2
lambda = 2
new_per_generation = 1
max_height = 3
max_size = 9

[family]
dataset = "iris"
folds = 2
max_samples = 30

[family.classifier]
members = 1
epochs = 1

[instances]
train_seeds = [1]
validation_seeds = [2]

[evaluation]
batch_size = 4
"""
