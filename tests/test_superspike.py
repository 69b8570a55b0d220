"""SuperSpike: the rule compiles by the common path, the network learns (short sessions), seeds are independent
copies, bad input is refused."""
import numpy as np
import pytest

from plastlab import RuleError, load_rule
from plastlab.brian.codegen import generate, synapses
from plastlab.errors import ConfigError
from plastlab.learn.superspike import DEFAULTS, configure, match_targets, run_hidden, run_spike_times, run_xor

SHORT = dict(trials=12, n_inputs=40, rate_hz=10.0, trial_ms=200.0, n_target_spikes=2, codegen="numpy",
             rule_parameters={"T_update": "200*ms", "eta": 0.01}, anneal_fraction=1.0)


def test_defaults_are_the_reference_operating_point():
    assert load_rule("superspike").parameters["eta"] == 0.001
    assert DEFAULTS["w_scale_mV"] == 1000.0 and DEFAULTS["w0"] == 0.05 and DEFAULTS["rule_parameters"] == {}


def test_weights_are_volts_on_the_synaptic_current_as_in_the_reference_code():
    """Auryn adds w (in volts) to the synaptic current: one spike at w_max = 0.1 is a 100 mV jump, a ~25 mV PSP that
    crosses the 10 mV to threshold; at the earlier 100 mV per unit weight (a 2.5 mV PSP) the output stays silent."""
    one = dict(SHORT, n_inputs=1, rate_hz=40.0, trials=1, w_init=[0.1, 0.0], rule_parameters={"eta": 0.0})
    spikes = lambda ds: int(np.isfinite(ds.output_times_first).sum())  # noqa: E731
    assert spikes(run_spike_times(one, seed=0)) >= 2
    assert spikes(run_spike_times(dict(one, w_scale_mV=100.0), seed=0)) == 0


def test_rule_reads_v_and_err_every_step_and_updates_periodically():
    rule = load_rule("superspike")
    assert rule.form == "periodic" and set(rule.inputs) == {"U", "err"}
    assert all(tr.clock_driven for tr in rule.traces.values())
    code = generate(rule)
    assert "v_post" in code.model and "err_post" in code.model and "vrms = " in code.periodic
    assert float(code.periodic_interval) == 0.5


def test_superspike_needs_an_error_signal_in_the_postsynaptic_neurons():
    from brian2 import NeuronGroup
    group = NeuronGroup(1, "v : volt")
    with pytest.raises(RuleError, match="err"):
        synapses(load_rule("superspike"), group, group)


@pytest.mark.slow
def test_short_session_reduces_loss_is_reproducible_and_leaves_brian2_settings_alone():
    from brian2 import defaultclock, prefs
    target, dt = prefs.codegen.target, defaultclock.dt
    first = run_spike_times(SHORT, seed=3)
    assert prefs.codegen.target == target and defaultclock.dt == dt
    again = run_spike_times(SHORT, seed=3)
    np.testing.assert_array_equal(first.loss, again.loss)
    assert first.loss.dims == ("seed", "trial") and first.sizes["trial"] == 12
    assert float(first.loss[0, -1]) < float(first.loss[0, 0])  # learning moves towards the target
    np.testing.assert_allclose(first.target_times, [50.0, 150.0])


def test_seeds_are_independent_copies():
    """A seed's result is the same alone and next to other seeds in the same Brian2 network."""
    busy = dict(SHORT, trials=4, w_init=[0.05, 0.02])  # outputs that spike: the loss depends on the inputs
    together = run_spike_times(dict(busy, seeds=2), seed=2)
    alone = run_spike_times(busy, seed=3)
    np.testing.assert_allclose(together.loss.sel(seed=3), alone.loss.sel(seed=3), rtol=1e-12)
    assert not np.allclose(together.loss.sel(seed=2), together.loss.sel(seed=3))


@pytest.mark.slow
def test_xor_session_trains_and_tests_with_plasticity_off():
    ds = run_xor(dict(SHORT, n_inputs=30, n_hidden=8, trials=6, test_trials=4, trial_ms=100.0, seeds=2), seed=1)
    assert ds.sizes["test_trial"] == 4 and ds.sizes["seed"] == 2
    assert ds.attrs["test_weight_change"] == 0  # plasticity really is off while testing
    assert np.all(ds.accuracy <= ds.accuracy_count)  # timed rule implies the spike-count rule
    assert ds.test_first_spike.dims == ("seed", "test_trial", "output")


def test_hidden_feedback_kinds_share_inputs_and_plot_bands(tmp_path):
    from plastlab.plots import plot_loss, plot_spike_raster
    ds = run_hidden(dict(SHORT, trials=2, n_hidden=2, feedbacks=["symmetric", "random"], seeds=2), seed=1)
    assert ds.loss.dims == ("feedback", "seed", "trial") and list(ds.feedback.values) == ["symmetric", "random"]
    # the same inputs and initial weights for every feedback kind of a seed; B = W^T only where symmetric
    np.testing.assert_array_equal(ds.w_out_initial.sel(feedback="symmetric"), ds.w_out_initial.sel(feedback="random"))
    np.testing.assert_allclose(ds.feedback_weights.sel(feedback="symmetric"), ds.w_out_final.sel(feedback="symmetric"))
    plot_loss(ds, tmp_path / "loss.png")
    plot_spike_raster(ds, tmp_path / "raster.png")
    assert (tmp_path / "loss.png").stat().st_size > 1000 and (tmp_path / "raster.png").exists()


def test_random_feedback_scale_cancels_in_the_normalised_update():
    """RMaxProp divides each synapse's mean gradient by its own running rms: a common scale of B cancels."""
    runs = [run_hidden(dict(SHORT, trials=3, n_hidden=2, feedbacks=["random"], feedback_scale=scale), seed=4)
            for scale in (1.0, 10.0)]
    np.testing.assert_allclose(runs[0].loss, runs[1].loss, rtol=1e-6)
    np.testing.assert_allclose(runs[1].feedback_weights, 10 * runs[0].feedback_weights)


def test_matching_is_one_to_one_within_tolerance():
    assert match_targets([0.0501, 0.1489, 0.3], [0.05, 0.15], 0.002) == (2, 1)
    assert match_targets([0.0501], [0.05, 0.0505], 0.002) == (1, 0)


@pytest.mark.parametrize("settings, error, message", [
    (dict(feedback="sideways", n_hidden=2), ConfigError, r"\[settings\]: 'feedback': must be one of"),
    (dict(colour="red"), ConfigError, r"'colour': unknown key"),
    (dict(trials=1.5), ConfigError, r"'trials': must be an integer"),
    (dict(rule="rstdp_eligibility"), RuleError, "third factor 'reward'"),
])
def test_bad_settings_stop_before_simulating(settings, error, message):
    with pytest.raises(error, match=message):
        configure(dict(SHORT, **settings))


def test_random_positive_feedback_has_the_random_magnitudes_with_positive_signs():
    ds = run_hidden(dict(SHORT, trials=1, n_hidden=3, feedbacks=["random", "random_positive"]), seed=6)
    random, positive = ds.feedback_weights.sel(feedback="random"), ds.feedback_weights.sel(feedback="random_positive")
    np.testing.assert_allclose(positive, np.abs(random))
    assert (random < 0).any()


def test_random_feedback_with_positive_signs_is_uniform_feedback():
    """Each synapse is normalised by its own rms: a hidden unit's |B| cancels, only its sign is left."""
    ds = run_hidden(dict(SHORT, trials=3, n_hidden=3, feedbacks=["uniform", "random_positive"]), seed=4)
    np.testing.assert_allclose(ds.loss.sel(feedback="uniform"), ds.loss.sel(feedback="random_positive"), rtol=1e-6)
