"""Task families: exact encoding of candidates as data, baselines, failures recorded (real Brian2)."""
import math

import numpy as np
import pytest
import sympy as sp

from plastlab.evolve.tasks import error, get_family, rational
from plastlab.errors import PlastlabError

TINY = {"duration": 1.0, "t_drop": 0.2}
SEEDS = [11, 12, 13]


def test_monomials_cover_every_degree():
    mons = rational.monomials(3, 3)
    assert len(mons) == 20 and len(set(mons)) == 20
    assert all(sum(m) <= 3 for m in mons) and mons[0] == (0, 0, 0)


@pytest.mark.parametrize("make", [
    lambda v, u, s: s * (v - u),
    lambda v, u, s: (v - u) / (s + 1),
    lambda v, u, s: (s * v - u * u * s) / (v * u + 3),
    lambda v, u, s: sp.Rational(1, 10) + v**3 - u * s,
])
def test_encoding_is_exact(make):
    v, u, s = error.symbols()
    expr = make(v, u, s)
    num, den = rational.encode(expr, (v, u, s), 3)
    rng = np.random.default_rng(0)
    pts = [rng.uniform(-2, 2, 20) for _ in range(3)]
    got = rational.evaluate(num, den, pts, 3)
    want = [float(expr.subs({v: a, u: b, s: c})) for a, b, c in zip(*pts)]
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_outside_encoding_is_reported():
    v, u, s = error.symbols()
    with pytest.raises(rational.OutsideEncoding, match="degree 4"):
        rational.encode(v**4, (v, u, s), 3)
    res = error.evaluate_batch([v**2 * u**2, v / (u - u)], SEEDS, TINY)
    assert res[0]["fitness"] == -math.inf and "outside encoding" in res[0]["reason"]
    assert res[1]["fitness"] == -math.inf and "not finite" in res[1]["reason"]


def test_error_family_baselines_order_and_batch_equals_naive():
    v, u, s = error.symbols()
    base = error.baselines()
    exprs = [base["no_plasticity"], base["delta_rule"], 2 * base["delta_rule"], -base["delta_rule"]]
    res = error.evaluate_batch(exprs, SEEDS, TINY)
    fit = [r["fitness"] for r in res]
    assert all(r["reason"] == "" for r in res[:3])
    assert fit[1] > fit[0]  # the delta rule beats no plasticity
    assert fit[0] > fit[3] or not math.isfinite(fit[3])  # the anti-delta rule is worse than doing nothing
    assert len(res[1]["per_instance"]) == len(SEEDS)
    # the coefficient-data network is the same computation as compiling the expression into the code
    naive = error.evaluate_naive(2 * base["delta_rule"], SEEDS, TINY)
    assert naive["fitness"] == pytest.approx(fit[2], rel=1e-9)
    # a candidate's fitness does not depend on the batch it is simulated in
    alone = error.evaluate_batch([2 * base["delta_rule"]], SEEDS, TINY)[0]
    assert alone["fitness"] == pytest.approx(fit[2], rel=1e-12)


def test_non_finite_simulation_gives_worst_fitness_with_reason():
    v, u, s = error.symbols()
    # v_student**3 drives the weights to -inf in finite time; 1/(v_teacher + 70) divides by zero at t = 0
    res = error.evaluate_batch([u**3, s / (v + 70), error.baselines()["delta_rule"]], SEEDS, TINY)
    assert res[0]["fitness"] == -math.inf and ("NaN" in res[0]["reason"] or "inf" in res[0]["reason"])
    assert res[1]["fitness"] == -math.inf and "division by zero" in res[1]["reason"]
    assert math.isfinite(res[2]["fitness"]) and res[2]["reason"] == ""


def test_instances_are_reproducible_and_differ_by_seed():
    p = error.params_with_defaults(TINY)
    a, b, c = error.sample_instance(p, 5), error.sample_instance(p, 5), error.sample_instance(p, 6)
    assert np.array_equal(a["steps"], b["steps"]) and np.array_equal(a["teacher_w"], b["teacher_w"])
    assert not np.array_equal(a["teacher_w"], c["teacher_w"])
    assert ((a["teacher_w"] >= -5) & (a["teacher_w"] <= 35)).all()
    rates = np.bincount(a["indices"], minlength=5) / p["duration"]
    assert ((rates > 100) & (rates < 950)).all()


def test_unknown_family_and_parameter_are_refused():
    with pytest.raises(PlastlabError, match="unknown task family"):
        get_family("juggling")
    with pytest.raises(PlastlabError, match="unknown parameter 'tau_x'"):
        error.params_with_defaults({"tau_x": 1})


REWARD_TINY = {"n_trials": 24, "n_patterns": 4, "n_inputs": 20}


def test_reward_family_scores_rules_independently_of_the_batch():
    from plastlab.evolve.tasks import reward

    r, e = reward.symbols()
    base = reward.baselines()
    exprs = [base["no_plasticity"], base["eligibility_reward_minus_1"], e / (r + 1), -base["eligibility_reward_minus_1"]]
    res = reward.evaluate_batch(exprs, [1, 2], REWARD_TINY)
    for x in (res[0], res[1]):
        assert x["reason"] == "" and -24 <= x["fitness"] <= 24 and len(x["per_instance"]) == 2
        assert all(float(v).is_integer() for v in x["per_instance"])  # sums of +-1 rewards
    # the anti-rule -E*(R - 1) either stays finite or runs away (weights -> inf -> NaN): then worst, with reason
    assert (res[3]["reason"] == "" and -24 <= res[3]["fitness"] <= 24) or (
        res[3]["fitness"] == -math.inf and res[3]["reason"])
    # reward = -1 happens, and then eligibility/(reward + 1) divides by zero
    assert res[2]["fitness"] == -math.inf and "division by zero" in res[2]["reason"]
    alone = reward.evaluate_batch([base["eligibility_reward_minus_1"]], [1, 2], REWARD_TINY)[0]
    assert alone["per_instance"] == res[1]["per_instance"]


CORRELATION_TINY = {"n_inputs": 100, "psp": 4.0, "train": 2.0, "test": 2.0}


def test_signal_to_noise_ratio_of_a_known_trace():
    from plastlab.evolve.tasks import correlation

    p = correlation.params_with_defaults()
    t = np.arange(0, 2000.0, 1.0)
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 2.0, size=t.size)
    v = noise + np.where(np.mod(t, 500) == 50, 10.0, 0.0)  # one 10 mV peak inside every pattern window
    between = noise[np.mod(t, 500) >= 100]
    expected = ((10 + noise[np.mod(t, 500) == 50]).mean() - between.mean()) / between.std()
    # the peak is the window's maximum unless noise alone beats it (it does not for this seed)
    assert correlation.snr(v[None, :], t, p)[0] == pytest.approx(expected)


def test_correlation_family_pairs_batches_and_failures():
    from plastlab.evolve.tasks import correlation

    w, k = correlation.symbols()
    base = correlation.baselines()
    pairs = [base["no_plasticity"], base["homeostatic_stdp"], sp.Tuple(k, 1 / k), sp.Tuple(w, k)]
    res = correlation.evaluate_batch(pairs, [1, 2], CORRELATION_TINY)
    for x in (res[0], res[1], res[3]):
        assert x["reason"] == "" and math.isfinite(x["fitness"]) and len(x["per_instance"]) == 2
        assert x["fitness"] == min(x["per_instance"])
    # the depression 1/k- divides by zero at the first presynaptic spike (k- = 0 before any output spike)
    assert res[2]["fitness"] == -math.inf and "division by zero" in res[2]["reason"]
    assert res[0]["per_instance"] != res[1]["per_instance"]  # plasticity changed the weights
    alone = correlation.evaluate_batch([base["homeostatic_stdp"]], [1, 2], CORRELATION_TINY)[0]
    assert alone["per_instance"] == pytest.approx(res[1]["per_instance"], rel=1e-12)
