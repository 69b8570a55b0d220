"""CartPole closed loop: real gymnasium, real Brian2, a handful of episodes."""
import numpy as np
import pytest

from plastlab.learn.cartpole import train_cartpole
from plastlab.errors import PlastlabError, RuleError


def test_few_episodes_dataset_and_reproducible(tmp_path):
    from plastlab.plots import plot_learning_curve

    a = train_cartpole("nc_memristor", episodes=4, seed=3)
    plot_learning_curve(a, tmp_path / "curve.png")
    assert (tmp_path / "curve.png").stat().st_size > 0
    assert a.episode_length.dims == ("episode",)
    assert len(a.episode) == 4
    lengths = a.episode_length.values
    assert np.all((lengths >= 1) & (lengths <= 200))
    assert a.attrs["seed"] == 3 and a.attrs["decisions"] == lengths.sum()
    random_steps = a.silent_steps.values + a.tied_steps.values
    assert np.all(random_steps <= lengths) and random_steps.sum() == a.attrs["random_actions"]
    assert a.weights.shape == (40, 2)
    b = train_cartpole("nc_memristor", episodes=4, seed=3)
    np.testing.assert_array_equal(lengths, b.episode_length.values)
    np.testing.assert_array_equal(a.weights.values, b.weights.values)


def test_learning_changes_weights_and_step_cap():
    ds = train_cartpole("ppx_memristor", episodes=2, seed=0, max_steps=15, w_init=0.05, w_spread=0.0)
    assert ds.episode_length.values.max() <= 15
    assert not np.allclose(ds.weights.values, 0.05)


def test_refusals():
    with pytest.raises(PlastlabError, match="unknown setting 'speed'"):
        train_cartpole("nc_memristor", episodes=1, speed=3)
    with pytest.raises(PlastlabError, match="anneal must be"):
        train_cartpole("nc_memristor", episodes=1, anneal="sometimes")
    with pytest.raises(PlastlabError, match="state_bounds"):
        train_cartpole("nc_memristor", episodes=1, state_bounds=[2.4, 1.5, 0.2])
    with pytest.raises(RuleError, match="third factor"):
        train_cartpole("rstdp_eligibility", episodes=1)


def test_step_log_and_probability_anneal():
    log = []
    ds = train_cartpole("nc_memristor", episodes=3, seed=1, anneal="probability", log=log)
    assert len(log) == ds.episode_length.values.sum()
    state, action, taught, first = log[0]
    assert state.shape == (4,) and action in (0, 1) and taught in (0, 1) and first.shape == (2,)


def test_default_settings_learn_to_balance():
    # with the default settings NC plasticity balances the pole after the first episode (seed 0: 72, then 200s)
    ds = train_cartpole("nc_memristor", episodes=4, seed=0)
    lengths = ds.episode_length.values
    assert lengths[1:].mean() > 150
