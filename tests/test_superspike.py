"""SuperSpike: the rule compiles by the common path, the network learns (short sessions), bad input is refused."""
import numpy as np
import pytest

from plastlab import PlastlabError, RuleError, load_rule
from plastlab.brian.codegen import generate, synapses
from plastlab.learn.superspike import match_targets, run_hidden, run_spike_times, run_xor

SHORT = dict(trials=12, n_inputs=40, rate_hz=10.0, trial_ms=200.0, n_target_spikes=2, codegen="numpy",
             rule_parameters={"T_update": "200*ms", "eta": 0.01})


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


def test_short_session_reduces_loss_and_is_reproducible():
    first = run_spike_times(SHORT, seed=3)
    again = run_spike_times(SHORT, seed=3)
    np.testing.assert_array_equal(first.loss, again.loss)
    assert first.loss.dims == ("trial",) and first.sizes["trial"] == 12
    assert first.loss[-1] < first.loss[0]  # learning moves towards the target within a few updates
    np.testing.assert_allclose(first.target_times, [50.0, 150.0])


def test_xor_session_trains_and_tests_with_plasticity_off():
    ds = run_xor(dict(SHORT, n_inputs=30, n_hidden=8, trials=6, test_trials=4, trial_ms=100.0), seed=1)
    assert ds.sizes["test_trial"] == 4 and 0 <= ds.attrs["accuracy"] <= 1
    assert set(np.unique(ds.test_label)) <= {0, 1}
    assert ds.attrs["test_weight_change"] == 0  # plasticity really is off while testing
    assert ds.attrs["accuracy"] <= ds.attrs["accuracy_count"]  # timed rule implies the spike-count rule
    assert ds.test_first_spike.dims == ("test_trial", "output")


def test_hidden_feedback_kinds_share_one_set_of_targets_and_plot(tmp_path):
    from plastlab.plots import plot_spike_raster
    ds = run_hidden(dict(SHORT, trials=2, n_hidden=2, feedbacks=["symmetric", "uniform"]), seed=1)
    assert ds.target_times.dims == ("target",) and list(ds.feedback.values) == ["symmetric", "uniform"]
    plot_spike_raster(ds, tmp_path / "raster.png")
    assert (tmp_path / "raster.png").exists()


def test_matching_is_one_to_one_within_tolerance():
    assert match_targets([0.0501, 0.1489, 0.3], [0.05, 0.15], 0.002) == (2, 1)
    assert match_targets([0.0501], [0.05, 0.0505], 0.002) == (1, 0)


@pytest.mark.parametrize("settings, message", [
    (dict(feedback="sideways", n_hidden=2), "feedback must be one of"),
    (dict(colour="red"), "unknown setting 'colour'"),
    (dict(rule="rstdp_eligibility"), "third factor 'reward'"),
])
def test_bad_settings_stop_before_simulating(settings, message):
    with pytest.raises(PlastlabError, match=message):
        run_spike_times(dict(SHORT, **settings))
