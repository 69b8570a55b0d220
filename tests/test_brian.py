"""Rules inside ordinary Brian2 networks."""
import numpy as np
import pytest
from brian2 import Hz, Network, NeuronGroup, PoissonGroup, SpikeGeneratorGroup, TimedArray, ms, prefs, second, seed

from plastlab import RuleError, load_rule
from plastlab.brian.codegen import generate, synapses
from plastlab.brian.examples import final_weights


@pytest.mark.slow
def test_brian2_stdp_example_rebuilt_from_rule_file_gives_identical_weights():
    prefs.codegen.target = "cython"
    hand = final_weights(None, 20 * second, seed_value=2024)
    ours = final_weights("stdp_additive", 20 * second, seed_value=2024)
    np.testing.assert_array_equal(ours, hand)
    counts, _ = np.histogram(hand / 0.01, bins=[0, 0.1, 0.9, 1.0])
    # from uniform (20 % ± 1.3 % in the outer bins) towards bimodal: 27 % after 20 s (the example's 100 s: > 35 %)
    assert counts[0] + counts[2] > 0.25 * len(hand)


def _spike_trains(rng):
    """Pre on odd, post on even time steps: no same-step coincidences, so both pairing paths must agree."""
    pre_steps = 2 * rng.choice(2000, size=60, replace=False) + 1
    post_steps = 2 * rng.choice(2000, size=60, replace=False)
    return np.sort(pre_steps) * 0.1 * ms, np.sort(post_steps) * 0.1 * ms


def _window_network(rule, pre_times, post_times, with_lastspike):
    prefs.codegen.target = "numpy"
    if with_lastspike:  # neurons with refractoriness have lastspike; a TimedArray makes them spike on cue
        groups = []
        for times in (pre_times, post_times):
            cue = np.zeros(4200)
            cue[np.round(np.asarray(times / (0.1 * ms))).astype(int)] = 1
            groups.append(NeuronGroup(1, "", threshold="cue(t) > 0.5", refractory=0 * ms,
                                      namespace={"cue": TimedArray(cue, dt=0.1 * ms)}))
        pre, post = groups
    else:
        pre = SpikeGeneratorGroup(1, np.zeros(len(pre_times), int), pre_times)
        post = SpikeGeneratorGroup(1, np.zeros(len(post_times), int), post_times)
    syn = synapses(load_rule(rule), pre, post)
    syn.connect()
    syn.w = 0.5
    net = Network(pre, post, syn)
    net.run(420 * ms, namespace={})
    return float(syn.w[0])


@pytest.mark.parametrize("rule", ["nc_memristor", "ppx_memristor", "stdp_nearest"])
def test_window_rules_pair_the_same_with_lastspike_or_per_synapse_spike_times(rule):
    pre_times, post_times = _spike_trains(np.random.default_rng(3))
    with_groups = _window_network(rule, pre_times, post_times, with_lastspike=True)
    without = _window_network(rule, pre_times, post_times, with_lastspike=False)
    assert with_groups == pytest.approx(without, rel=1e-12) and with_groups != 0.5


def test_generated_code_uses_lastspike_or_falls_back():
    rule = load_rule("nc_memristor")
    assert "lastspike_pre" in generate(rule, lastspike=(True, True)).on_post
    fallback = generate(rule, lastspike=(False, False))
    assert "lastspike" not in fallback.on_post and "tlast_pre_syn : second" in fallback.model


def test_inputs_missing_from_neurons_are_named_before_running():
    group = NeuronGroup(2, "v : volt")
    with pytest.raises(RuleError, match="v_teacher"):
        synapses(load_rule("delta_rule"), group, group)


def test_continuous_rule_with_third_factor_stays_in_bounds():
    prefs.codegen.target = "numpy"
    seed(1)
    inp = PoissonGroup(20, rates=40 * Hz)
    out = NeuronGroup(1, "dv/dt = -v/(10*ms) : 1", threshold="v > 1", reset="v = 0", method="exact")
    syn = synapses(load_rule("rstdp_eligibility"), inp, out, transmit="v_post += 3*w")
    syn.connect()
    syn.w = 0.95
    syn.reward = 50.0  # strong reward: pushes correlated weights against the upper bound
    net = Network(inp, out, syn)
    net.run(1 * second, namespace={})
    assert np.all(syn.w[:] <= 1.0) and np.all(syn.w[:] >= 0.0) and np.any(syn.w[:] != 0.95)


def test_a_synapse_without_transmission_warns_and_a_clashing_parameter_is_refused():
    from plastlab.brian.codegen import NoTransmissionWarning

    group = NeuronGroup(2, "v : 1", threshold="v > 1")
    with pytest.warns(NoTransmissionWarning, match="never drives"):
        synapses(load_rule("nc_memristor"), group, group)
    synapses(load_rule("stdp_additive"), group, group, transmit="v_post += w")  # explicit: no warning needed
    with pytest.raises(RuleError, match="'gmax', a name this network defines"):
        synapses(load_rule("stdp_additive"), group, group, transmit="v_post += w", namespace={"gmax": 0.5})
