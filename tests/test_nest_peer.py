"""NEST 3.10 as a peer: identical spike trains through a NEST synapse and the plastlab rule that claims to be it.

Trains: seeded Poisson pairs on the 0.1 ms grid with forced coincidences at the synapse (a post spike that
reaches it exactly with a pre spike), bursts on consecutive steps, and NEST's own edge-case trains
(testsuite/pytests/test_stdp_synapse.py). Weights must agree to 1e-9 after every presynaptic spike and at the end
(a last presynaptic spike, after which NEST has applied every pending potentiation). NEST is a test dependency
(setup.cfg [test]): without it these tests fail and say how to install it.
"""
import numpy as np
import pytest

try:
    import nest
except ImportError:  # pragma: no cover - the message is the point
    nest = None

from plastlab import load_rule
from plastlab.brian.protocols import drive

DT = 0.1  # ms
LEAD = 1.0  # ms: generator -> parrot delay, the same on both sides
EDGE_PRE = [1, 5, 6, 7, 9, 11, 12, 13, 14.5, 16.1]
EDGE_POST = [2, 3, 4, 8, 9, 10, 12, 13.2, 15.1, 16.4]


@pytest.fixture(scope="module", autouse=True)
def _nest():
    if nest is None:
        pytest.fail("NEST is a test dependency of plastlab: pip install nest-simulator==3.10.0 "
                    "(or pip install -e .[test])", pytrace=False)
    nest.set_verbosity("M_ERROR")


def _grid(times):
    return np.unique(np.round(np.asarray(times, dtype=float) / DT).astype(int)) * DT


def trains(seed, delay, *, rate=25.0, duration=2000.0):
    """(pre, post) times in ms: Poisson pairs, coincidences at the synapse, bursts; a pre spike first (the nearest
    schemes of NEST pair early post spikes with a phantom pre spike at t = 0) and one last."""
    rng = np.random.default_rng(seed)
    pre = np.cumsum(rng.exponential(1000.0 / rate, int(2 * rate * duration / 1000)))
    post = np.cumsum(rng.exponential(1000.0 / rate, int(2 * rate * duration / 1000)))
    pre, post = pre[(pre > 5) & (pre < duration)], post[(post > 5) & (post < duration)]
    pre, post = _grid(pre), _grid(post)
    post = post[~np.isin(np.round(post / DT), np.round((pre - delay) / DT))]  # only the forced coincidences below
    coincident = rng.choice(pre[pre > 10], size=12, replace=False) - delay
    burst_pre = rng.choice(pre[:-5], size=4, replace=False)
    burst_post = rng.choice(post[:-5], size=4, replace=False)
    pre = _grid(np.concatenate([[1.0], pre, burst_pre + DT, burst_pre + 2 * DT]))
    post = _grid(np.concatenate([post, coincident, burst_post + DT, burst_post + 2 * DT]))
    post = post[post > 1.0 + DT]
    pre = _grid(np.concatenate([pre, [duration + 300.0]]))
    return pre, post


def run_nest(model, pre, post, *, w0, delay, syn=None, neuron=None):
    """Weights NEST's ``model`` transmits at each presynaptic spike (in order)."""
    nest.ResetKernel()
    nest.set(resolution=DT, local_num_threads=1)
    gen_pre = nest.Create("spike_generator", params={"spike_times": list(pre)})
    gen_post = nest.Create("spike_generator", params={"spike_times": list(post)})
    parrot_pre, parrot_post = nest.Create("parrot_neuron"), nest.Create("parrot_neuron", params=neuron or {})
    nest.Connect(gen_pre, parrot_pre, syn_spec={"delay": LEAD})
    nest.Connect(gen_post, parrot_post, syn_spec={"delay": LEAD})
    recorder = nest.Create("weight_recorder")
    nest.CopyModel(model, "peer", {"weight_recorder": recorder})
    spec = {"synapse_model": "peer", "weight": w0, "delay": delay, "receptor_type": 1, **(syn or {})}
    nest.Connect(parrot_pre, parrot_post, syn_spec=spec)
    nest.Simulate(float(max(pre.max(), post.max()) + LEAD + delay + 10))
    events = recorder.get("events")
    order = np.argsort(events["times"], kind="stable")
    return np.asarray(events["weights"])[order]


def run_plastlab(rule, pre, post, *, w0):
    _, after = drive(rule, [pre * 1e-3], [post * 1e-3], w0, record_pre=True)
    return after[0]


def agree(rule, model, *, w0, delay, syn, neuron, seeds=(1, 2), rate=25.0):
    edge = (np.array(EDGE_PRE + [400.0]), np.array(EDGE_POST, float))
    for pre, post in [edge] + [trains(s, delay, rate=rate) for s in seeds]:
        ours = run_plastlab(rule, pre, post, w0=w0)
        theirs = run_nest(model, pre, post, w0=w0, delay=delay, syn=syn, neuron=neuron)
        assert len(ours) == len(theirs) == len(pre)
        assert np.any(np.abs(np.diff(theirs)) > 1e-6)  # the trains do change the weight
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)


def _weight_dependent(delay):
    rule = load_rule("stdp_weight_dependent").with_pairing(delay=f"{delay}*ms")
    p = rule.parameters
    syn = {"lambda": p["lam"], "alpha": p["alpha"], "mu_plus": p["mu_plus"], "mu_minus": p["mu_minus"],
           "tau_plus": float(p["tau_plus"] / 1e-3), "Wmax": 1.0}
    return rule, syn, {"tau_minus": float(p["tau_minus"] / 1e-3)}


@pytest.mark.parametrize("delay", [0.1, 1.0])
def test_stdp_weight_dependent_is_nests_stdp_synapse(delay):
    rule, syn, neuron = _weight_dependent(delay)
    agree(rule, "stdp_synapse", w0=0.5, delay=delay, syn=syn, neuron=neuron)


def test_stdp_weight_dependent_with_nests_test_parameters():
    rule = load_rule("stdp_weight_dependent").with_parameters(lam=0.01, alpha=0.85, mu_plus=0.0, mu_minus=0.0,
                                                              tau_plus="16.8*ms", tau_minus="33.7*ms")
    syn = {"lambda": 0.01, "alpha": 0.85, "mu_plus": 0.0, "mu_minus": 0.0, "tau_plus": 16.8, "Wmax": 1.0}
    agree(rule.with_pairing(delay="1*ms"), "stdp_synapse", w0=0.5, delay=1.0, syn=syn, neuron={"tau_minus": 33.7},
          seeds=(3,), rate=20.0)


NEAREST = {"nearest_symmetric": "stdp_nn_symm_synapse", "nearest_pre_centred": "stdp_nn_pre_centered_synapse",
           "nearest_restricted": "stdp_nn_restr_synapse"}


def test_stdp_nearest_is_nests_nn_symm_synapse():
    rule = load_rule("stdp_nearest").with_pairing(delay="0.1*ms")
    p = rule.parameters
    syn = {"lambda": p["A_plus"], "alpha": -p["A_minus"] / p["A_plus"], "mu_plus": 0.0, "mu_minus": 0.0,
           "tau_plus": float(p["tau_plus"] / 1e-3), "Wmax": 1.0}
    agree(rule, "stdp_nn_symm_synapse", w0=0.5, delay=0.1, syn=syn, neuron={"tau_minus": float(p["tau_minus"] / 1e-3)})


@pytest.mark.parametrize("scheme", sorted(NEAREST))
def test_trace_rule_nearest_schemes_are_nests(scheme):
    rule, syn, neuron = _weight_dependent(1.0)
    agree(rule.with_pairing(scheme=scheme), NEAREST[scheme], w0=0.5, delay=1.0, syn=syn, neuron=neuron)


def test_stdp_sboev_nest_is_stdp_synapse_with_2_ms_delay():
    rule = load_rule("stdp_sboev_nest")
    syn = {"lambda": 0.03, "alpha": 0.65, "mu_plus": 0.0, "mu_minus": 0.0, "tau_plus": 6.0, "Wmax": 1.0}
    agree(rule, "stdp_synapse", w0=0.5, delay=2.0, syn=syn, neuron={"tau_minus": 31.0})


def test_triplet_all_to_all_is_nests_stdp_triplet_synapse():
    rule = load_rule("stdp_triplet_all_to_all").with_pairing(delay="1*ms")
    p = {k: (float(v / 1e-3) if hasattr(v, "dim") else v) for k, v in rule.parameters.items()}
    syn = {"tau_plus": p["tau_plus"], "tau_plus_triplet": p["tau_x"], "Aplus": p["A2_plus"], "Aminus": p["A2_minus"],
           "Aplus_triplet": p["A3_plus"], "Aminus_triplet": p["A3_minus"], "Wmax": p["Wmax"]}
    neuron = {"tau_minus": p["tau_minus"], "tau_minus_triplet": p["tau_y"]}
    agree(rule, "stdp_triplet_synapse", w0=0.5, delay=1.0, syn=syn, neuron=neuron, rate=30.0)
