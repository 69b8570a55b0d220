"""Task families: the paper's model pieces against their formulas, candidates as exact data, failures recorded,
and one source of truth for evolved rules (real Brian2, small networks)."""
import math

import numpy as np
import pytest
import sympy as sp
import tomli_w

from plastlab import load_rule
from plastlab.brian.tasknets import Quantity, StateProbe
from plastlab.errors import ConfigError, PlastlabError
from plastlab.evolve.tasks import correlation, error, get_family, programs, reward, rule_from_document
from plastlab.evolve.tasks.correlation import _authors_streams, _authors_trial, _frozen_noise, _keep_every_spike, _v0

TINY = {"duration": 1.0, "t_drop": 0.2}
SEEDS = [11, 12, 13]
REWARD_TINY = {"n_trials": 12, "n_patterns": 4, "n_inputs": 20, "eta": 200.0}
CORRELATION_TINY = {"n_inputs": 200, "w_max": 4.0, "train": 2.0, "test": 2.0}


@pytest.mark.parametrize("make", [
    lambda v, u, s: s * (v - u),
    lambda v, u, s: (v - u) / (s + 1),
    lambda v, u, s: (s * v - u * u * s) / (v * u + 3),
    lambda v, u, s: sp.Rational(1, 10) + v**3 - u * s,
])
def test_program_is_exact(make):
    v, u, s = error.symbols()
    expr = make(v, u, s)
    rng = np.random.default_rng(0)
    pts = [rng.uniform(-2, 2, 20) for _ in range(3)]
    got = programs.values(expr, (v, u, s), pts)
    want = [float(expr.subs({v: a, u: b, s: c})) for a, b, c in zip(*pts)]
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_family_parameters_are_declared_and_the_paper_is_the_default():
    assert error.DEFAULTS["eta"] == pytest.approx(1.7 * 10 / 250)  # the authors' eta times their PSP unit
    assert error.DEFAULTS["teacher_hold"] == 5.0 and error.DEFAULTS["delay"] == 1.0
    assert (reward.DEFAULTS["rho"], reward.DEFAULTS["delta"], reward.DEFAULTS["w_mean"],
            reward.DEFAULTS["w_sd"]) == (0.01, 0.2, 0.0, 1000.0)
    assert correlation.DEFAULTS["thinning"] == pytest.approx(1 / 6)
    assert correlation.DEFAULTS["w0_mean"] == pytest.approx(20 / (3000 - 2 * math.sqrt(3000)) / 0.018, abs=1e-3)
    with pytest.raises(PlastlabError, match="unknown task family"):
        get_family("juggling")
    with pytest.raises(ConfigError, match="tau_x"):
        error.params_with_defaults({"tau_x": 1})
    with pytest.raises(ConfigError, match="dt"):
        reward.params_with_defaults({"dt": -1.0})


# --- error family -------------------------------------------------------------------------------------------

def test_outside_encoding_and_non_finite_are_reported():
    v, u, s = error.symbols()
    with pytest.raises(programs.OutsideOperators, match="exp"):
        programs.to_program(sp.exp(v), (v, u, s))
    # v_student**3 runs away; 1/(v_teacher + 70) divides by zero at t = 0 (the held teacher sample is E_L)
    res = error.evaluate_batch([sp.exp(v), v / (u - u), u**3, s / (v + 70), s * (v - u)], SEEDS, TINY)
    assert res[0]["fitness"] == -math.inf and "outside the program's operators" in res[0]["reason"]
    assert res[1]["fitness"] == -math.inf and "not finite" in res[1]["reason"]
    assert res[2]["fitness"] == -math.inf and ("NaN" in res[2]["reason"] or "inf" in res[2]["reason"])
    assert res[3]["fitness"] == -math.inf and "division by zero" in res[3]["reason"]
    assert math.isfinite(res[4]["fitness"]) and res[4]["reason"] == "" and len(res[4]["per_instance"]) == 3


def test_error_teacher_potential_is_sampled_and_held_every_5_ms():
    p = error.params_with_defaults({"duration": 0.1, "t_drop": 0.0})
    rule = rule_from_document(error.rule_document(error.reference(), "delta", "", p))
    got = error.run(p, error.instances(p, [11]), error.rule_plasticity(rule), record_inputs=p["dt"])
    held, teacher = got["held"], got["teacher"]
    steps_per_hold = int(round(p["teacher_hold"] / p["dt"]))
    blocks = held[: (held.size // steps_per_hold) * steps_per_hold].reshape(-1, steps_per_hold)
    # constant within each 5 ms block, equal to the teacher's potential at the block's first step
    assert np.all(blocks == blocks[:, :1])
    np.testing.assert_allclose(blocks[:, 0], teacher[::steps_per_hold][: blocks.shape[0]], rtol=0, atol=1e-12)
    assert np.ptp(teacher) > 1.0  # the teacher's potential moves, so holding it is visible


def test_error_instances_are_reproducible_and_independent_of_dt():
    p = error.params_with_defaults(TINY)
    a, b, c = error.sample_instance(p, 5), error.sample_instance(p, 5), error.sample_instance(p, 6)
    assert np.array_equal(a["steps"], b["steps"]) and np.array_equal(a["teacher_w"], b["teacher_w"])
    assert not np.array_equal(a["teacher_w"], c["teacher_w"])
    assert ((a["teacher_w"] >= -5) & (a["teacher_w"] <= 35)).all()
    rates = np.bincount(a["indices"], minlength=5) / p["duration"]
    assert ((rates > 100) & (rates < 950)).all()
    half = error.sample_instance(error.params_with_defaults(dict(TINY, dt=0.05)), 5)
    np.testing.assert_array_equal(half["teacher_w"], a["teacher_w"])


def _champion_file(tmp_path, family, expr):
    """The champion's rule file as plastlab evolve writes it, read back from disk."""
    doc = family.rule_document(expr, "champion", "a non-trivial candidate", family_params[family.NAME])
    path = tmp_path / "champion.toml"  # a rule file is named after its rule
    path.write_text(tomli_w.dumps(doc))
    return load_rule(path)


family_params = {"error": error.params_with_defaults(TINY), "reward": reward.params_with_defaults(REWARD_TINY),
                 "correlation": correlation.params_with_defaults(CORRELATION_TINY)}


def _same_trajectory(family, expr, rule, seeds, every):
    p = family_params[family.NAME]
    insts = family.instances(p, seeds)
    table = programs.table([expr], family.symbols())
    batched = family.run(p, insts, family.program_plasticity(p, table, 1), record_w=every)
    compiled = family.run(p, insts, family.rule_plasticity(rule), record_w=every)
    a, b = batched["w_trajectory"], compiled["w_trajectory"]
    assert a.shape == b.shape and a.shape[1] > 3
    assert np.ptp(a) > 1e-3  # the weights move: the comparison is not between two constants
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)
    return batched, compiled


def test_error_champion_rule_file_runs_the_same_trajectory_as_the_batched_network(tmp_path):
    v, u, s = error.symbols()
    expr = s * (v - u) * (2 * u - 1) / v  # a champion of the paper's run 0
    rule = _champion_file(tmp_path, error, expr)
    batched, compiled = _same_trajectory(error, expr, rule, SEEDS, every=50.0)
    np.testing.assert_allclose(batched["sqerr"], compiled["sqerr"], rtol=1e-9)


def test_error_baselines_order():
    base = error.baselines()
    res = error.evaluate_batch([base["no_plasticity"], base["delta_rule"], -base["delta_rule"]], SEEDS, TINY)
    fit = [r["fitness"] for r in res]
    assert fit[1] > fit[0]  # the delta rule beats no plasticity
    assert fit[0] > fit[2] or not math.isfinite(fit[2])  # the anti-delta rule is worse than doing nothing
    alone = error.evaluate_batch([base["delta_rule"]], SEEDS, TINY)[0]  # independent of the batch
    assert alone["fitness"] == pytest.approx(fit[1], rel=1e-12)


# --- reward family ------------------------------------------------------------------------------------------

def test_reward_champion_rule_file_runs_the_same_trajectory_as_the_batched_network(tmp_path):
    r, e = reward.symbols()
    expr = e * (r - 1) + e * e * r / 1000
    rule = _champion_file(tmp_path, reward, expr)
    batched, compiled = _same_trajectory(reward, expr, rule, [1, 2], every=500.0)
    np.testing.assert_array_equal(batched["total_R"], compiled["total_R"])


def test_reward_rate_per_neuron_is_a_named_option_with_the_same_learning():
    """``rate_per_neuron`` (off by default: the document as before) moves the eligibility's expected-rate term from
    every synapse to its neuron; the weights learned by the paper's rule, batched and as a rule file, agree to
    rounding (same arithmetic on the same v)."""
    off = reward.params_with_defaults(REWARD_TINY)
    on = dict(off, rate_per_neuron=True)
    assert off["rate_per_neuron"] is False
    doc = reward.rule_document(reward.reference(), "ref", "", off)
    assert doc["traces"]["eligibility"]["rate"] == "-eligibility/tau_M - K*rho_syn*exp((v - theta)/delta_syn)*pre_trace"
    assert "expected_rate" in reward.rule_document(reward.reference(), "ref", "", on)["inputs"]
    weights = {}
    for name, p in (("off", off), ("on", on)):
        insts = reward.instances(p, [1])
        rule = reward.rule_plasticity(rule_from_document(reward.rule_document(reward.reference(), "ref", "", p)))
        weights[name] = np.concatenate(reward.run(p, insts, rule)["w"])
        batch = reward.evaluate_batch([reward.reference()], [1], p)
        weights[name + " fitness"] = batch[0]["fitness"]
    assert np.ptp(weights["off"]) > 100  # the rule learned something
    np.testing.assert_allclose(weights["on"], weights["off"], rtol=1e-12, atol=1e-9)
    assert weights["on fitness"] == weights["off fitness"]
    from pathlib import Path

    from plastlab.evolve.campaign import load_campaign, spec_digest

    spec = load_campaign(Path(__file__).resolve().parents[1] / "evolve" / "reward.toml")
    earlier = dict(spec, family_params={k: v for k, v in spec["family_params"].items() if k != "rate_per_neuron"})
    assert spec_digest(spec) == spec_digest(earlier)  # checkpoints from before the option still resume
    assert spec_digest(dict(spec, family_params=dict(spec["family_params"], rate_per_neuron=True))) != \
        spec_digest(spec)


def _trial_probes(p):
    """The network's state at every trial boundary (after the reset) and, every step, the quantities of the
    eligibility formula."""
    T = Quantity(p["trial"], "ms")
    return (StateProbe("rest_v", "neurons", ("v",), every=T, when="end", order=4),
            StateProbe("rest_trace_monitor", "traces", ("x", "sbar"), every=T, when="end", order=4),
            StateProbe("rest_E", "syn", ("eligibility",), every=T, when="end", order=4),
            StateProbe("every_step", "syn", ("eligibility", "v_post", "sbar_pre"), record=[0], when="end", order=1))


def test_reward_trials_start_from_rest_and_eligibility_follows_the_authors_formula():
    p = reward.params_with_defaults(dict(REWARD_TINY, n_trials=3, w_mean=-2000.0, w_sd=10.0))  # never fires
    rule = reward.rule_plasticity(rule_from_document(reward.rule_document(reward.reference(), "r", "", p)))
    got = reward.run(p, reward.instances(p, [1]), rule, probes=_trial_probes(p))
    v, tr, E, m = (got["probes"][name] for name in ("rest_v", "rest_trace_monitor", "rest_E", "every_step"))
    assert np.all(v["v"][:, 1:] == p["E_L"]) and np.all(tr["x"][:, 1:] == 0)
    assert np.all(tr["sbar"][:, 1:] == 0) and np.all(E["eligibility"][:, 1:] == 0)
    assert got["active"].sum() == 0  # silent: every trial ends with action -1
    # within a silent trial: dE/dt = -E/tau_M - K*rho_syn*exp((u - theta)/delta_syn)*s̄ (an Euler step from the
    # previous step's E and s̄ and this step's u: Brian2 updates the neuron, then the synapses, then the traces)
    e, u, s = (m[name][0] for name in ("eligibility", "v_post", "sbar_pre"))
    dt, steps = p["dt"] * 1e-3, int(round(p["trial"] / p["dt"]))
    first = slice(1, steps)  # steps of the first trial after t = 0
    predicted = e[first][:-1] + dt * (-e[first][:-1] / (p["tau_M"] * 1e-3)
                                      - p["K"] * p["rho_syn"] * np.exp((u[first][1:] - p["theta"]) / p["delta_syn"])
                                      * s[first][:-1])
    np.testing.assert_allclose(e[first][1:], predicted, rtol=1e-6, atol=1e-12)
    assert e[steps - 1] < 0 and np.ptp(s[first]) > 0  # active inputs on a silent trial: E < 0


def test_reward_family_failures_and_batch_independence():
    r, e = reward.symbols()
    base = reward.baselines()
    exprs = [base["no_plasticity"], base["eligibility_reward_minus_1"], e / (r + 1)]
    res = reward.evaluate_batch(exprs, [1, 2], REWARD_TINY)
    for x in res[:2]:
        assert x["reason"] == "" and -12 <= x["fitness"] <= 12 and len(x["per_instance"]) == 2
        assert all(float(v).is_integer() for v in x["per_instance"])  # sums of +-1 rewards
    assert res[2]["fitness"] == -math.inf and "division by zero" in res[2]["reason"]  # R = -1 happens
    alone = reward.evaluate_batch([base["eligibility_reward_minus_1"]], [1, 2], REWARD_TINY)[0]
    assert alone["per_instance"] == res[1]["per_instance"]


# --- correlation family ---------------------------------------------------------------------------------------

def test_correlation_input_thinning_statistics():
    p = correlation.params_with_defaults({"train": 60.0})
    inst = correlation.sample_instance(p, 3)
    t = inst["steps"] * p["dt"]
    phase, idx = np.mod(t, p["period"]), inst["indices"]
    inside = phase < p["pattern"]
    pattern = inst["pattern_inputs"]
    assert 0.2 < pattern.mean() < 0.32  # 1 - exp(-3 Hz * 100 ms) of the inputs take part in the pattern
    # the windows hold only the frozen pattern: the same spikes in every presentation
    first = np.sort(t[inside & (t < p["period"])])
    later = np.sort(t[inside & (t >= 7 * p["period"]) & (t < 8 * p["period"])] - 7 * p["period"])
    np.testing.assert_allclose(later, first)
    assert np.all(pattern[idx[inside]])
    window = idx[inside & (t < p["period"])]
    assert np.unique(window).size == window.size == pattern.sum()  # one spike per pattern input, as drawn there
    quiet = p["train"] * (p["period"] - p["pattern"]) / p["period"]  # s of background per input
    rate_pattern = np.sum(~inside & pattern[idx]) / (pattern.sum() * quiet)
    rate_other = np.sum(~inside & ~pattern[idx]) / ((~pattern).sum() * quiet)
    assert rate_other == pytest.approx(p["input_rate"], rel=0.03)
    assert rate_pattern == pytest.approx(p["input_rate"] * p["thinning"], rel=0.08)
    assert 0.0 <= inst["w_init"] <= 1.0 and inst["w_init"] != correlation.sample_instance(p, 4)["w_init"]


def test_signal_to_noise_ratio_of_a_known_trace():
    p = correlation.params_with_defaults()
    t = np.arange(0, 2000.0, 1.0)
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 2.0, size=t.size)
    v = noise + np.where(np.mod(t, 500) == 50, 10.0, 0.0)  # one 10 mV peak inside every pattern window
    between = noise[np.mod(t, 500) >= 100]
    expected = ((10 + noise[np.mod(t, 500) == 50]).mean() - between.mean()) / between.std()
    assert correlation.snr(v[None, :], t, p)[0] == pytest.approx(expected)


def test_correlation_champion_rule_file_runs_the_same_trajectory_as_the_batched_network(tmp_path):
    w, k = correlation.symbols()
    expr = sp.Tuple(w * k - sp.Rational(1, 10) + w * w / 10, k / (w + 1))
    rule = _champion_file(tmp_path, correlation, expr)
    batched, compiled = _same_trajectory(correlation, expr, rule, [1, 2], every=100.0)
    np.testing.assert_allclose(batched["snr"], compiled["snr"], rtol=1e-9)


def test_correlation_presynaptic_spike_transmits_the_weight_its_own_depression_left(tmp_path):
    """As NEST's STDP synapses do (depress, then send the new weight): a depression that empties the synapses
    at their first spike transmits nothing, where 30 simultaneous inputs at W_max (30 mV) would fire the neuron."""
    p = correlation.params_with_defaults({"n_inputs": 30, "w_max": 1.0, "train": 0.05, "test": 0.05,
                                          "pattern": 10.0, "period": 20.0})
    inst = {"seed": 0, "steps": np.full(30, 40), "indices": np.arange(30), "w_init": 1.0,
            "pattern_inputs": np.ones(30, dtype=bool), "v0_train": 0.0, "v0_readout": 0.0}
    keeps, empties = sp.Tuple(sp.Integer(0), sp.Integer(0)), sp.Tuple(sp.Integer(0), sp.Integer(100))  # 1 - 0.01*100
    table = programs.table([keeps, empties], correlation.symbols())
    batched = correlation.run(p, [inst], correlation.program_plasticity(p, table, 2))
    assert batched["rate"][0, 0] > 0 and batched["rate"][1, 0] == 0
    assert batched["w"][1] == pytest.approx(np.zeros(30))
    compiled = correlation.run(p, [inst], correlation.rule_plasticity(_champion_file(tmp_path, correlation, empties)))
    assert compiled["rate"][0, 0] == 0


def test_correlation_rule_values_that_divide_by_zero_are_bounded_as_the_authors_synapse_does():
    """zero_division = "nest": a / 0 is C's (+-inf, NaN for 0/0) and the bounds compare as stdp_sympy_synapse
    does (depression: not above 0 gives 0; facilitation: not below 1 gives W_max), so the paper's run 18
    (f_dep = -w + k-/w) empties weights instead of failing; "fail" keeps the worst fitness."""
    import brian2 as b2

    from plastlab.brian import programs as prog
    from plastlab.brian.settings import brian_settings

    x, y = sp.symbols("x y", real=True)
    got = prog.evaluate(programs.table([x / y], (x, y)), 0, [1.0, -1.0, 0.0, 3.0], [0.0, 0.0, 0.0, 2.0],
                        ieee_division=True)
    np.testing.assert_array_equal(got, [np.inf, -np.inf, np.nan, 1.5])
    with brian_settings(target="cython"):
        group = b2.NeuronGroup(4, "x : 1\nup : 1\ndown : 1", namespace=prog.bound_functions())
        group.x = [np.nan, np.inf, -np.inf, 0.5]
        group.run_regularly("up = at_most(x, 1.0)\ndown = at_least(x, 0.0)")
        b2.Network(group).run(b2.defaultclock.dt)
        np.testing.assert_array_equal(group.up[:], [1.0, 1.0, -np.inf, 0.5])
        np.testing.assert_array_equal(group.down[:], [0.0, np.inf, 0.0, 0.5])
    w, k = correlation.symbols()
    p = correlation.params_with_defaults({"n_inputs": 30, "w_max": 1.0, "train": 0.05, "test": 0.05,
                                          "pattern": 10.0, "period": 20.0})
    inst = {"seed": 0, "steps": np.repeat([40, 60], 30), "indices": np.tile(np.arange(30), 2), "w_init": 1.0,
            "pattern_inputs": np.ones(30, dtype=bool), "v0_train": 0.0, "v0_readout": 0.0}
    empties = sp.Tuple(sp.Integer(0), 100 / w)  # first spike: 1 - 0.01*100 = 0; second: 100/0 = inf
    for mode, failed in (("nest", False), ("fail", True)):
        q = dict(p, zero_division=mode)
        got = correlation.run(q, [inst], correlation.program_plasticity(q, programs.table([empties], (w, k)), 1))
        assert (got["zerodiv"][0, 0] > 0) == failed
        # nest: the second spike's -inf depression is bounded to 0; fail: Brian2's clip keeps the NaN of 100/0
        np.testing.assert_array_equal(got["w"][0], np.full(30, np.nan if failed else 0.0))


def test_homeostatic_baseline_is_the_authors_rule_file():
    """With the authors' clipping the family's baseline (k+ - 0.15, 0) runs exactly rules/stdp_homeostatic.toml."""
    p = correlation.params_with_defaults(dict(CORRELATION_TINY, clip_both=True))
    insts = correlation.instances(p, [1])
    table = programs.table([correlation.reference()], correlation.symbols())
    batched = correlation.run(p, insts, correlation.program_plasticity(p, table, 1), record_w=100.0)
    compiled = correlation.run(p, insts, correlation.rule_plasticity(load_rule("stdp_homeostatic")),
                               record_w=100.0)
    assert np.ptp(batched["w_trajectory"]) > 1e-3
    np.testing.assert_allclose(batched["w_trajectory"], compiled["w_trajectory"], rtol=1e-9, atol=1e-12)


def test_correlation_family_pairs_batches_and_failures():
    w, k = correlation.symbols()
    base = correlation.baselines()
    pairs = [base["no_plasticity"], base["homeostatic_stdp"], sp.Tuple(k, 1 / k)]
    res = correlation.evaluate_batch(pairs, [1, 2], dict(CORRELATION_TINY, zero_division="fail"))
    for x in res[:2]:
        assert x["reason"] == "" and math.isfinite(x["fitness"]) and len(x["per_instance"]) == 2
        assert x["fitness"] == min(x["per_instance"])
    # the depression 1/k- divides by zero at the first presynaptic spike (k- = 0 before any output spike)
    assert res[2]["fitness"] == -math.inf and "division by zero" in res[2]["reason"]
    assert res[0]["per_instance"] != res[1]["per_instance"]  # plasticity changed the weights
    alone = correlation.evaluate_batch([base["homeostatic_stdp"]], [1, 2], CORRELATION_TINY)[0]
    assert alone["per_instance"] == pytest.approx(res[1]["per_instance"], rel=1e-12)


# --- the authors' instance draws (their exact training and validation inputs) ----------------------------------

def test_error_authors_draw_follows_their_random_stream():
    p = error.params_with_defaults({"instance_draw": "authors", "dt": 0.01})
    inst = error.sample_instance(p, 1235)
    rs = np.random.RandomState(1235)  # sim.py: np.random.seed(seed + trial), rates are the first draws
    np.testing.assert_allclose(inst["rates"], rs.uniform(150.0, 850.0, size=5))
    first_count = rs.poisson(10.0 * inst["rates"][0], 1)[0]
    assert np.sum(inst["indices"] == 0) <= first_count  # spikes on one 0.01 ms step merge
    assert np.sum(inst["indices"] == 0) >= first_count - 0.02 * first_count
    assert np.all((inst["teacher_w"] >= -5.0) & (inst["teacher_w"] <= 35.0))
    again = error.sample_instance(p, 1235)
    np.testing.assert_array_equal(again["steps"], inst["steps"])
    assert inst["steps"].min() >= 1  # their times start at one resolution step


def test_correlation_authors_draw_cuts_windows_thins_pattern_inputs_and_keeps_stream_order():
    p = correlation.params_with_defaults({"instance_draw": "authors", "train": 20.0, "n_inputs": 300})
    times, idx, pattern = _authors_trial(p, np.random.RandomState(7))
    starts = 400.1 + 500.0 * np.arange(40)
    k = np.searchsorted(starts, times, side="left") - 1
    inside = (k >= 0) & (times <= starts[np.maximum(k, 0)] + 100.0) & (times > starts[np.maximum(k, 0)])
    # inside the windows only the frozen pattern: the same offsets in every window, pattern inputs only
    assert np.all(pattern[idx[inside]])
    offsets = [np.sort(times[inside & (k == j)] - starts[j]) for j in (0, 5, 30)]
    np.testing.assert_allclose(offsets[1], offsets[0])
    np.testing.assert_allclose(offsets[2], offsets[0])
    quiet = ~inside
    rate = lambda sel: np.sum(quiet & sel[idx]) / sel.sum()  # noqa: E731 - background spikes per input
    assert rate(pattern) / rate(~pattern) == pytest.approx(1 / 6, rel=0.25)
    # their alpha as they compute it (1 - 2/2.4 = 0.16666666666666663): int(alpha * 240) = 39, not 40
    spikes_kept = [np.sum(quiet[idx == n]) for n in np.nonzero(pattern)[0][:20]]
    replay = np.random.RandomState(7)
    _frozen_noise(300, 100.0, 3.0, replay)
    background = _frozen_noise(300, 20000.0, 3.0, replay)
    for n, kept in zip(np.nonzero(pattern)[0][:20], spikes_kept):
        cut = np.array([np.any((b > starts) & (b <= starts + 100.0)) for b in background[n]])
        assert kept == int(np.sum(~cut) * (1.0 - 2.0 / 2.4))
    # trial K of a stream does not depend on which trials were asked for before
    a = correlation.sample_instance(p, 7 * 1000 + 1)
    _authors_streams.clear()
    b = [correlation.sample_instance(p, 7 * 1000 + j) for j in (0, 1)][1]
    np.testing.assert_array_equal(a["steps"], b["steps"])
    assert a["w_init"] == pytest.approx(np.random.RandomState(11214235).normal(p["w0_mean"], 0.1, 2)[1])
    # the read-out windows start where the authors' patterns do
    t = np.arange(0, 1500.0, 0.5)
    v = np.where((t >= 450.0) & (t < 451.0), 5.0, 0.0) + np.where(t == 950.0, 5.0, 0.0) + np.sin(t)
    assert correlation.snr(v[None, :], t, p)[0] > correlation.snr(v[None, :], t, dict(p, instance_draw="plastlab"))[0]


def test_correlation_initial_potential_and_repeated_spikes_as_the_authors_nest_script():
    p = correlation.params_with_defaults({"instance_draw": "authors"})
    assert _v0(p, None) == pytest.approx(np.random.RandomState(17893).normal(0.0, 10.0))
    assert _v0(p, 3) == _v0(p, None)  # main.py: the same V_m for every instance
    trial = dict(p, readout_v0="trial")
    assert _v0(trial, 3) == pytest.approx(np.random.RandomState(3).normal(0.0, 10.0))  # compute_SNR
    assert _v0(dict(p, readout_v0="rest"), 3) == 0.0
    steps, idx = _keep_every_spike(np.array([5, 5, 5, 6, 5, 9]), np.array([0, 0, 0, 0, 1, 1]))
    assert sorted(zip(idx.tolist(), steps.tolist())) == [(0, 5), (0, 6), (0, 7), (0, 8), (1, 5), (1, 9)]
