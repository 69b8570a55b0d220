"""CartPole closed loop: real gymnasium, real Brian2, a handful of episodes."""
import numpy as np
import pytest

from plastlab.errors import ConfigError, RuleError
from plastlab.learn.cartpole import train_cartpole


@pytest.mark.slow
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
    """Both episodes balance to the cap of 15 steps and stop there; the rule moves the weights off their start."""
    ds = train_cartpole("ppx_memristor", episodes=2, seed=0, max_steps=15, w_init=0.05, w_spread=0.0)
    np.testing.assert_array_equal(ds.episode_length.values, [15, 15])
    assert ds.attrs["decisions"] == 30
    assert np.abs(ds.weights.values - 0.05).max() > 0.01
    frozen = train_cartpole("ppx_memristor", episodes=2, seed=0, max_steps=15, w_spread=0.0, plasticity=False)
    np.testing.assert_array_equal(frozen.weights.values, 0.05)


def test_refusals():
    with pytest.raises(ConfigError, match="'speed': unknown key"):
        train_cartpole("nc_memristor", episodes=1, speed=3)
    with pytest.raises(ConfigError, match="'anneal': must be one of"):
        train_cartpole("nc_memristor", episodes=1, anneal="sometimes")
    with pytest.raises(ConfigError, match="'state_bounds': must be a list of 4"):
        train_cartpole("nc_memristor", episodes=1, state_bounds=[2.4, 1.5, 0.2])
    with pytest.raises(RuleError, match="third factor"):
        train_cartpole("rstdp_eligibility", episodes=1)


def _skipped_teaching(monkeypatch, anneal):
    """Steps whose teaching presentation was skipped, and the step log, of a 3-episode run."""
    from plastlab.learn.cartpole import CartPoleLearner

    calls, teach = [], CartPoleLearner.teach
    monkeypatch.setattr(CartPoleLearner, "teach", lambda self, *a: calls.append(1) or teach(self, *a))
    log = []
    ds = train_cartpole("nc_memristor", episodes=3, seed=1, anneal=anneal, log=log)
    assert len(log) == ds.episode_length.values.sum()
    return len(log) - 1 - len(calls), log  # the last step ends the run before its teaching


def test_step_log_and_probability_anneal(monkeypatch):
    """anneal="probability" skips teaching presentations with probability R / max_steps (R the running reward:
    a few percent here); without annealing every step is taught."""
    skipped, log = _skipped_teaching(monkeypatch, "probability")
    assert 0 < skipped < 0.1 * len(log)
    state, action, taught, first = log[0]
    assert state.shape == (4,) and action in (0, 1) and taught in (0, 1) and first.shape == (2,)
    assert _skipped_teaching(monkeypatch, "off")[0] == 0


@pytest.mark.slow
def test_lookahead_learns_to_balance():
    # with the 0.2 s look-ahead (not the published protocol) NC plasticity balances the pole after the first
    # episode (seed 0: 72, then 200s)
    ds = train_cartpole("nc_memristor", episodes=4, seed=0, horizon=0.2, failure_distance="position", anneal="off")
    lengths = ds.episode_length.values
    assert lengths[1:].mean() > 150


def test_rule_with_a_weight_in_nS_drives_the_controller(tmp_path):
    from test_classify import NS_RULE

    path = tmp_path / "stdp_ns.toml"
    path.write_text(NS_RULE)
    twin = tmp_path / "stdp_1.toml"  # the same rule with a dimensionless weight
    twin.write_text(NS_RULE.replace('"2*nS"', "2.0").replace('unit = "nS"', 'unit = "1"')
                    .replace('"0*nS"', '"0"').replace("0*nS", "0").replace('name = "stdp_ns"', 'name = "stdp_1"'))
    ns, one = (train_cartpole(str(p), episodes=2, seed=0, max_steps=20) for p in (path, twin))
    np.testing.assert_array_equal(ns.episode_length.values, one.episode_length.values)
    np.testing.assert_allclose(ns.weights.values, one.weights.values, atol=1e-9)
    assert float(ns.weights.min()) >= 0 and float(ns.weights.max()) <= 1 and np.ptp(ns.weights.values) > 0


def test_gymnasium_thresholds_and_running_means():
    ds = train_cartpole("nc_memristor", episodes=3, seed=0, max_steps=30, plasticity=False, w_spread=0.02)
    fixed = train_cartpole("nc_memristor", episodes=0 + 1, seed=0, max_steps=30, plasticity=False)
    np.testing.assert_allclose(ds.weights.values, fixed.weights.values)  # no plasticity: weights never change
    assert ds.attrs["x_threshold"] == 2.4 and abs(ds.attrs["theta_threshold"] - 12 * 2 * 3.14159265 / 360) < 1e-6
    lengths = ds.episode_length.values
    np.testing.assert_allclose(ds.mean_100.values, np.cumsum(lengths) / np.arange(1, 4))
    np.testing.assert_allclose(ds.running_reward.values[1], 0.95 * 0.05 * lengths[0] + 0.05 * lengths[1])
    assert ds.attrs["episodes_to_solve"] == -1


def test_defaults_are_the_published_protocol():
    """No look-ahead, the action just taken judged, learning rate and teacher both scaled by 1 - R/R_max."""
    from plastlab.learn.cartpole import controller_settings

    p = controller_settings({})
    assert p["horizon"] == 0 and p["judge_delay"] == 0 and p["anneal"] == "rate+amplitude"
    assert p["reward_max"] is None  # R_max: the step cap (200)


def test_horizon_zero_judges_by_the_current_state():
    """With horizon 0 the distance to failure is the current state's; a look-ahead moves the positions ahead."""
    from plastlab.learn.cartpole import CartPoleLearner

    def distance(state, **settings):
        learner = CartPoleLearner("nc_memristor", **settings)
        learner.x_max, learner.theta_max = 2.4, 0.2
        return learner.distance(np.asarray(state))

    s = [1.2, 0.5, 0.1, 1.0]
    assert distance(s, failure_distance="position") == 0.5  # the angle's margin, velocities ignored
    assert distance(s, failure_distance="position", horizon=0.05) == pytest.approx(1 - 0.15 / 0.2)
    assert distance(s, failure_distance="state") == pytest.approx((0.5 + 0.5 + (1 - 0.5 / 1.5) + 0.5) / 4)
    assert distance([0, 1.2, 0, 0], failure_distance="state") == pytest.approx((3 + 1 - 1.2 / 1.5) / 4)
    assert distance([0, 1.2, 0, 0], failure_distance="position") == 1.0


def test_step_judged_by_its_own_change_of_distance():
    """Each step's action is taught when the step did not shrink the distance to failure, the other one when it
    did (judge_delay 0); with judge_delay = 1 the verdict of a step goes to the step before (state and action)."""
    import gymnasium as gym

    from plastlab.learn.cartpole import CartPoleLearner

    for delay in (0, 1):
        learner = CartPoleLearner("nc_memristor", judge_delay=delay, max_steps=30)
        learner.env = gym.make("CartPole-v1", max_episode_steps=30)
        learner.x_max, learner.theta_max = 2.4, learner.env.unwrapped.theta_threshold_radians
        learner.obs, _ = learner.env.reset(seed=4)
        learner.bar, states, actions = None, [], [0, 1, 1, 0, 0, 0, 1, 1, 1, 1]
        for k, action in enumerate(actions):
            states.append(learner.obs)
            result = learner.act(action, None)
            if k < delay:
                assert result is None
                continue
            worse = learner.distance(learner.obs) < learner.distance(states[k])
            state, taught = result
            np.testing.assert_array_equal(state, states[k - delay])
            assert taught == (1 - actions[k - delay] if worse else actions[k - delay])


def test_learning_rate_factor_reaches_the_update():
    """anneal = "rate": the rule's weight changes are multiplied by 1 - R/R_max, so with the running reward at
    R_max nothing changes though the teacher still drives the neurons; the same run unscaled learns."""
    from plastlab.learn.cartpole import CartPoleLearner

    def weights(anneal):
        learner = CartPoleLearner("ppx_memristor", seed=0, max_steps=15, w_init=0.05, w_spread=0.0, anneal=anneal)
        learner.running = 15.0  # R = R_max (the step cap)
        return learner.run(2).to_dataset().weights.values

    np.testing.assert_array_equal(weights("rate"), 0.05)
    assert np.abs(weights("off") - 0.05).max() > 0.01
