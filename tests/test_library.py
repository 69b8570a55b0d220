"""Each rule in rules/ against its published formula (memristor-and-stdp.md), written out independently here."""
import math

import numpy as np
import pytest
from brian2 import ms, mV, second
from scipy.integrate import quad

from plastlab import available_rules, load_rule
from plastlab.brian.protocols import pair_window

DT = np.array([-200, -60, -40, -20, -5, -1, 1, 5, 20, 40, 60, 200.0])
W0 = np.array([0.1, 0.5, 0.9])


def curve(name, w0=W0):
    return load_rule(name).window_curve(DT * ms, w0)


def grid(fn, w0=W0):
    return np.array([[fn(dt, w) for w in w0] for dt in DT])


def test_every_rule_file_loads_with_summary_and_citation():
    names = available_rules()
    for expected in ("stdp_additive", "stdp_weight_dependent", "stdp_nearest", "nc_memristor", "ppx_memristor",
                     "stdp_homeostatic", "rstdp_eligibility", "delta_rule"):
        assert expected in names
    for name in names:
        rule = load_rule(name)
        assert rule.summary and rule.citation


def test_stdp_additive_is_brian2_example():
    rule = load_rule("stdp_additive")
    gmax, dApre = 0.01, 0.01
    dApost = -dApre * 20 / 20 * 1.05 * gmax
    assert rule.parameters["dApre"] == dApre * gmax and rule.parameters["dApost"] == dApost
    w0 = np.array([0.5]) * gmax
    expected = grid(lambda dt, w: 1e-4 * math.exp(-dt / 20) if dt > 0 else dApost * math.exp(dt / 20), w0)
    np.testing.assert_allclose(curve("stdp_additive", w0), expected, rtol=1e-9, atol=1e-15)


def test_weight_dependent_stdp_mu_one_is_multiplicative():
    lam, alpha = 0.03, 0.65
    expected = grid(lambda dt, w: lam * (1 - w) * math.exp(-dt / 6) if dt > 0 else -alpha * lam * w * math.exp(dt / 31))
    np.testing.assert_allclose(curve("stdp_weight_dependent"), expected, rtol=1e-9, atol=1e-15)


def test_nearest_neighbour_window():
    expected = grid(lambda dt, w: 0.01 * math.exp(-dt / 20) if dt > 0 else -0.0105 * math.exp(dt / 20))
    np.testing.assert_allclose(curve("stdp_nearest"), expected, rtol=1e-9, atol=1e-15)


def nc(dt, w):
    a_p, a_m = 0.07376001452742792, -0.04963699617346189
    mu_p, mu_m, tau_p, tau_m = 26.730656991521247, -22.325265872889496, 9.300596954566565, -10.81180238558187
    if dt > 0:
        dw = a_p * w * (1 + math.tanh(-(dt - mu_p) / tau_p))
    else:
        dw = a_m * w * (1 - math.tanh((dt - mu_m) / tau_m))
    return min(max(w + dw, 0), 1) - w


def test_sboev_nest_is_the_groups_window_shifted_by_nests_delay():
    """stdp_sboev_nest pairs each post spike as if it came D = 2 ms later (NEST's dendritic delay plus the
    teacher's 1 ms lead): its simulated window is stdp_sboev's at delta_t + D, on both sides of the shift."""
    delta_t = np.array([-10.0, -3.0, -1.5, -0.5, 0.5, 3.0, 8.0])
    shifted = pair_window("stdp_sboev_nest", delta_t * ms, [0.5]).dw.values[:, 0]
    plain = pair_window("stdp_sboev", (delta_t + 2.0) * ms, [0.5]).dw.values[:, 0]
    np.testing.assert_allclose(shifted, plain, rtol=1e-9)
    assert shifted[2] > 0 > shifted[1]  # an input 1.5 ms after the post spike is potentiated, 3 ms after depressed


def test_nc_memristor_published_fit_and_sanity_values():
    np.testing.assert_allclose(curve("nc_memristor"), grid(nc), rtol=1e-9, atol=1e-15)
    near = load_rule("nc_memristor").window_curve(np.array([-0.1, 0.1, -45, 45]) * ms, [0.5])[:, 0] / 0.5
    assert near[1] == pytest.approx(0.147, abs=2e-3) and near[0] == pytest.approx(-0.098, abs=2e-3)
    assert abs(near[2]) < 0.01 * 0.098 * 5 and abs(near[3]) < 0.01 * 0.147 * 5  # faded out by about ±40 ms


def ppx(dt, w):
    a_p, a_m, b_p, b_m = 0.3161977426412055, 0.011297914920262086, 2.213043124548639, -5.9693974750170025
    g_p, g_m = 0.031839429846118886, 0.14568323501051358
    x = abs(dt / 10) * math.exp(-g_p * (dt / 10) ** 2) if dt > 0 else 0
    y = abs(dt / 10) * math.exp(-g_m * (dt / 10) ** 2) if dt < 0 else 0
    dw = a_p * math.exp(-b_p * (1 - w)) * x - a_m * math.exp(-b_m * w) * y
    return 0 if abs(dt) > 500 else min(max(w + dw, 0), 1) - w


def test_ppx_memristor_published_fit_peaks_and_cutoff():
    np.testing.assert_allclose(curve("ppx_memristor"), grid(ppx), rtol=1e-9, atol=1e-15)
    dt = np.arange(-100, 101, 0.5)
    window = load_rule("ppx_memristor").window_curve(dt * ms, [0.5])[:, 0]
    assert dt[np.argmax(window)] == pytest.approx(40, abs=1) and dt[np.argmin(window)] == pytest.approx(-18.5, abs=1)
    assert np.all(load_rule("ppx_memristor").window_curve(np.array([-600, 600]) * ms, [0.5]) == 0)
    deeper = load_rule("ppx_memristor").window_curve(np.array([-18.5]) * ms, [0.2, 0.8])[0]
    assert deeper[1] < 10 * deeper[0] < 0  # depression grows steeply with w


def test_homeostatic_stdp_adds_constant_terms():
    # the authors' synapse: no depression; at the post spike lam*k+ + w_out (k+ = 0 when post comes first)
    lam, w_out = 0.01, -0.0015
    expected = grid(lambda dt, w: lam * math.exp(-dt / 20) + w_out if dt > 0 else w_out)
    np.testing.assert_allclose(curve("stdp_homeostatic"), expected, rtol=1e-9, atol=1e-15)


def test_reward_modulated_stdp_needs_reward_and_integrates_c_times_d():
    silent = pair_window("rstdp_eligibility", np.array([-10, 10]) * ms, [0.5], tail=0.5 * second)
    assert np.all(silent.dw.values == 0)
    ds = pair_window("rstdp_eligibility", np.array([-10, 10]) * ms, [0.5], tail=1 * second,
                     inputs={"reward": 1})
    t_pre = 0.2e-3  # the protocol's first spike; reward is on from t = 0
    t_post, t_end = t_pre + 0.010, float(ds.attrs["tail"].split()[0]) + 0.0102 + 0.0002
    c0 = 0.01 * math.exp(-10 / 20)
    d = lambda t: 1 - math.exp(-t / 0.2)  # noqa: E731
    expected = quad(lambda t: c0 * math.exp(-(t - t_post) / 1.0) * d(t), t_post, t_end)[0]
    assert ds.dw.sel(delta_t=10).item() == pytest.approx(expected, rel=0.01)
    assert ds.dw.sel(delta_t=-10).item() < 0


def test_delta_rule_moves_w_along_the_error():
    ds = pair_window("delta_rule", np.array([5.0]) * ms, [0.0], tail=2 * second,
                     inputs={"v_teacher": 10 * mV, "v_student": 0 * mV})
    # the low-pass filter keeps the integral: ∫ I dt -> 10 mV * tau_s, times eta
    assert ds.dw.item() == pytest.approx(1.7 * 10 * 0.010, rel=0.01)
    backwards = pair_window("delta_rule", np.array([5.0]) * ms, [0.0], tail=2 * second,
                            inputs={"v_teacher": 0 * mV, "v_student": 10 * mV})
    assert backwards.dw.item() == pytest.approx(-ds.dw.item())
