"""Simulated spike-pair windows equal the closed forms (window rules: F clipped; trace rules: pair integral)."""
import numpy as np
import pytest
import xarray as xr
from brian2 import ms

from plastlab import PlastlabError
from plastlab.brian.protocols import pair_window, time_grid
from plastlab.plots import plot_window
from plastlab.store import write_dataset

CLOSED_FORM = ["stdp_additive", "stdp_weight_dependent", "stdp_nearest", "nc_memristor", "ppx_memristor",
               "stdp_homeostatic"]


@pytest.mark.parametrize("name", CLOSED_FORM)
def test_simulated_window_equals_closed_form_within_1e_9(name):
    w0 = [0.2, 0.5, 0.8] if name != "stdp_additive" else [0.002, 0.005, 0.008]
    ds = pair_window(name, time_grid(-100, 100, 1), w0)
    assert ds.dw.dims == ("delta_t", "w0") and ds.delta_t.attrs["units"] == "ms"
    assert np.any(ds.dw.values != 0)
    scale = np.abs(ds.dw_analytic).max().item()
    np.testing.assert_allclose(ds.dw, ds.dw_analytic, rtol=1e-9, atol=1e-12 * scale)


def test_dataset_round_trips_through_netcdf_with_provenance(tmp_path):
    ds = pair_window("nc_memristor", time_grid(-20, 20, 5), [0.5])
    path = write_dataset(ds, tmp_path / "window.nc")
    back = xr.open_dataset(path)
    np.testing.assert_array_equal(back.dw, ds.dw)
    assert back.attrs["rule"] == "nc_memristor" and "tanh" in back.attrs["rule_equations"]
    assert "brian2" in back.attrs["package_versions"]
    plot_window(ds, tmp_path / "window.png")
    assert (tmp_path / "window.png").stat().st_size > 10_000


def test_off_grid_delta_t_and_unknown_inputs_are_refused():
    with pytest.raises(PlastlabError, match="multiples"):
        pair_window("nc_memristor", np.array([0.05]) * ms, [0.5])
    with pytest.raises(PlastlabError, match="time units"):
        pair_window("nc_memristor", np.array([1.0]), [0.5])
    with pytest.raises(PlastlabError, match="no input 'dopamine'"):
        pair_window("rstdp_eligibility", np.array([1.0]) * ms, [0.5], inputs={"dopamine": 1})


# --- issue 29: the protocol battery, pairing schemes, closed forms ---------------------------------------------

from plastlab import load_rule  # noqa: E402
from plastlab.brian import protocols as P  # noqa: E402
from plastlab.datasets import sjostrom2001  # noqa: E402
from plastlab.rules.protocols import (  # noqa: E402
    expected_drift,
    frequency_schedule,
    mean_drift,
    quadruplet_schedule,
    replay,
)


@pytest.mark.parametrize("name", ["stdp_triplet_all_to_all", "stdp_triplet_nearest", "stdp_weight_dependent",
                                  "stdp_nearest", "stdp_sboev_nest", "stdp_additive", "stdp_flat"])
def test_frequency_and_triplet_simulations_equal_their_closed_forms(name):
    w0 = 0.005 if name == "stdp_additive" else 0.5
    ds = P.frequency(name, rho=[20, 50], delta_t=[10, -10], pairings=20, w0=[w0])
    assert ds.dw.dims == ("rho", "delta_t", "w0") and ds.rho.attrs["units"] == "Hz"
    assert np.all(ds.dw.values != 0)
    np.testing.assert_allclose(ds.dw, ds.dw_closed_form, rtol=1e-9, atol=1e-12)
    tr = P.triplet(name, repetitions=5, w0=[w0])
    np.testing.assert_allclose(tr.dw, tr.dw_closed_form, rtol=1e-9, atol=1e-12)


def test_triplet_nearest_reproduces_sjostrom_frequency_dependence():
    """Pair STDP cannot potentiate at Δt = -10 ms and 50 Hz; the triplet rule does, within 2 SEM of the data."""
    rule = load_rule("stdp_triplet_nearest")
    data = sjostrom2001()
    schedule = frequency_schedule(data[:, 0], [10, -10], 60)
    for rho, d, mean, sem in data:
        model = replay(rule, *schedule[(rho, d)], 1.0) - 1.0
        assert abs(model - mean) < 2 * sem, (rho, d, model, mean)
    pair = load_rule("stdp_sboev")
    assert replay(pair, *schedule[(50.0, -10.0)], 0.5) < 0.5


def test_rates_curve_is_bcm_like_and_agrees_with_its_closed_form_within_the_standard_error():
    name = "stdp_triplet_all_to_all"
    ds = P.rates(name, pre_rate=[10], post_rate=[2, 40], seeds=16, duration=5, w0=1.0)
    low, high = ds.dw_dt.values[0]
    assert low < 0 < high  # depression at low, potentiation at high postsynaptic rates
    z = (ds.dw_dt - ds.dw_dt_closed_form) / ds.dw_dt_sem
    assert np.all(np.abs(z.values) < 3), z.values
    # the grid (1 ms, NEST's coincidences) and the 5 s start from zero traces cost ~10% against the stationary
    # continuous-time drift; both vanish as dt -> 0 and duration -> oo
    assert ds.dw_dt_closed_form.values[0, 1] == pytest.approx(ds.dw_dt_mean_field.values[0, 1], rel=0.15)
    rule = load_rule(name)
    assert expected_drift(rule, 10, 40, 1.0, dt=1e-4, duration=100) == pytest.approx(mean_drift(rule, 10, 40, 1.0),
                                                                                     rel=0.01)


def test_expected_drift_is_the_mean_of_exact_replays_on_grid_trains():
    """The closed form of the rates protocol against 300 exact replays (pure Python, no simulation)."""
    rule = load_rule("stdp_triplet_all_to_all").with_pairing(coincident="pre_first")  # additive: exact
    rng, step, n = np.random.default_rng(3), 1e-3, 2000
    draws = [(replay(rule, (np.flatnonzero(rng.random(n - 1) < 0.03) + 1) * step,
                     (np.flatnonzero(rng.random(n - 1) < 0.03) + 1) * step, 1.0) - 1.0) / 2 for _ in range(300)]
    expected = expected_drift(rule, 30, 30, 1.0, dt=step, duration=2)
    assert abs(np.mean(draws) - expected) < 3 * np.std(draws, ddof=1) / np.sqrt(len(draws))
    assert expected != pytest.approx(expected_drift(rule.with_pairing(coincident="nest"), 30, 30, 1.0, dt=step,
                                                    duration=2), rel=1e-3)  # the convention enters
    # Pfister & Gerstner's formula for all-to-all traces
    p = {k: float(np.asarray(v)) for k, v in load_rule("stdp_triplet_all_to_all").parameters.items()}
    nu_x, nu_y = 10.0, 40.0
    expected = (nu_x * nu_y * (p["A2_plus"] * p["tau_plus"] - p["A2_minus"] * p["tau_minus"])
                + p["A3_plus"] * nu_x * nu_y ** 2 * p["tau_plus"] * p["tau_y"]
                - p["A3_minus"] * nu_x ** 2 * nu_y * p["tau_minus"] * p["tau_x"])
    assert mean_drift(load_rule("stdp_triplet_all_to_all"), nu_x, nu_y, 1.0) == pytest.approx(expected, rel=1e-12)


def test_weight_protocol_shows_multiplicative_dependence():
    ds = P.weight_dependence("stdp_weight_dependent", w0=[0.2, 0.8], delta_t=[10, -10])
    np.testing.assert_allclose(ds.dw, ds.dw_closed_form, rtol=1e-9)
    up, down = ds.dw.sel(delta_t=10).values, ds.dw.sel(delta_t=-10).values
    assert up[0] > up[1] > 0 > down[0] > down[1]


def test_coincident_conventions_differ_only_at_coincidences():
    rule = load_rule("stdp_weight_dependent")
    pre, post = np.array([0.010, 0.020]), np.array([0.015, 0.020])
    nest = replay(rule, pre, post, 0.5)
    brian = replay(rule.with_pairing(coincident="pre_first"), pre, post, 0.5)
    assert nest != brian
    sim = P.drive(rule.with_pairing(coincident="pre_first"), [pre], [post], 0.5)[0]
    assert sim == pytest.approx(brian, abs=1e-12)
    moved = np.array([0.010, 0.0201])
    assert replay(rule, moved, post, 0.5) == pytest.approx(replay(rule.with_pairing(coincident="pre_first"), moved,
                                                                  post, 0.5), abs=1e-15)


def test_bad_pairing_tables_and_protocol_options_are_refused():
    with pytest.raises(PlastlabError, match="scheme 'nearest'"):
        load_rule("stdp_weight_dependent").with_pairing(scheme="nearest")
    with pytest.raises(PlastlabError, match="non-negative time"):
        load_rule("stdp_weight_dependent").with_pairing(delay="-1*ms")
    with pytest.raises(PlastlabError, match="does not fit"):
        frequency_schedule([50], [25], 60)
    with pytest.raises(PlastlabError, match="positive"):
        frequency_schedule([0], [10], 60)
    with pytest.raises(PlastlabError, match="at least one"):
        frequency_schedule([], [10], 60)
    with pytest.raises(PlastlabError, match=">= 1"):
        frequency_schedule([10], [10], 0)


@pytest.mark.parametrize("name", ["stdp_triplet_hippocampal", "stdp_weight_dependent", "stdp_flat"])
def test_quadruplet_simulation_equals_its_closed_form(name):
    ds = P.quadruplet(name, T=[-40, -15, 15, 40], repetitions=10, w0=[0.5])  # stdp_flat: 50 ms reach
    assert ds.dw.dims == ("T", "w0") and ds.T.attrs["units"] == "ms" and ds.attrs["protocol"] == "quadruplet"
    assert np.all(ds.dw.values != 0)
    np.testing.assert_allclose(ds.dw, ds.dw_closed_form, rtol=1e-9, atol=1e-12)


def test_quadruplet_schedule_places_two_pairs_T_apart():
    (pre, post), = quadruplet_schedule([50], repetitions=2, rate_hz=1.0).values()
    assert len(pre) == len(post) == 4
    np.testing.assert_allclose(pre[:2] - post[:2], [0.005, -0.005])  # post-pre (Δt = -5 ms), then pre-post
    np.testing.assert_allclose((pre[1] + post[1]) / 2 - (pre[0] + post[0]) / 2, 0.050)
    np.testing.assert_allclose(pre[2:] - pre[:2], 1.0)
    with pytest.raises(PlastlabError, match="must exceed"):
        quadruplet_schedule([3])


def test_compressed_drive_gives_the_weights_of_the_full_simulation():
    """Skipping silent time (lastupdate / last spike times shifted) changes no weight: trace, window and
    delayed rules."""
    from brian2 import ms

    pre = [np.array([0.010, 0.030, 2.030, 2.050]), np.array([0.015, 1.015])]
    post = [np.array([0.020, 2.040]), np.array([0.005, 1.030, 1.500])]
    for name in ("stdp_triplet_nearest", "stdp_nearest", "stdp_sboev_nest"):
        full = P.drive(name, pre, post, 0.5, dt=1 * ms)
        fast = P.drive(name, pre, post, 0.5, dt=1 * ms, compress=True)
        np.testing.assert_allclose(fast, full, rtol=0, atol=1e-13)
        assert np.any(full != 0.5)


# --- the command: plastlab rules protocol RULE PROTOCOL ------------------------------------------------------

def test_cli_writes_a_dataset_and_a_figure(tmp_path, capsys):
    from plastlab.cli import main

    out, png = tmp_path / "f.nc", tmp_path / "f.png"
    assert main(["rules", "protocol", "stdp_triplet_nearest", "frequency", "--rho", "10,50", "--delta-t", "10,-10",
                 "--pairings", "5", "--w0", "1", "--out", str(out), "--plot", str(png)]) == 0
    ds = xr.open_dataset(out)
    assert ds.dw.dims == ("rho", "delta_t", "w0") and ds.rho.values.tolist() == [10, 50]
    assert ds.attrs["protocol"] == "frequency" and ds.attrs["rule"] == "stdp_triplet_nearest"
    assert ds.attrs["pairings"] == "5" and "nearest_symmetric" in ds.attrs["rule_pairing"]
    np.testing.assert_allclose(ds.dw, ds.dw_closed_form, rtol=1e-9)
    assert png.stat().st_size > 10_000 and "max |simulated - closed form|" in capsys.readouterr().out
    rates = tmp_path / "r.nc"
    assert main(["rules", "protocol", "stdp_triplet_all_to_all", "rates", "--post-rate", "5,40", "--seeds", "2",
                 "--duration", "1", "--w0", "1", "--out", str(rates)]) == 0
    ds = xr.open_dataset(rates)
    assert ds.dw_dt.dims == ("pre_rate", "post_rate") and {"dw_dt_sem", "dw_dt_closed_form"} <= set(ds)
    assert ds.attrs["protocol"] == "rates" and ds.post_rate.attrs["units"] == "Hz"


@pytest.mark.parametrize("options", [
    ["frequency", "--rho", ""], ["frequency", "--rho", "10,nan"], ["frequency", "--rho", "-10"],
    ["frequency", "--pairings", "0"], ["frequency", "--pairings", "-3"],
    ["frequency", "--rho", "50", "--delta-t", "25"],
    ["frequency", "--delta-t", ","], ["quadruplet", "--T", "3"], ["triplet", "--pairings", "0"],
    ["rates", "--post-rate", "-5"], ["rates", "--pre-rate", "inf"], ["rates", "--seeds", "0"],
    ["rates", "--duration", "nan"], ["rates", "--duration", "-1"], ["weight", "--delta-t", ""],
    ["frequency", "--w0", "nan"], ["frequency", "--w0", "7"]])
def test_cli_refuses_bad_options_with_exit_2_before_any_simulation(options, tmp_path, capsys, monkeypatch):
    from plastlab.cli import main

    def no_simulation(*args, **kwargs):
        raise AssertionError("simulated before refusing")

    monkeypatch.setattr(P, "drive", no_simulation)
    monkeypatch.setattr(P, "pair_window", no_simulation)
    out = tmp_path / "x.nc"
    assert main(["rules", "protocol", "stdp_weight_dependent", *options, "--out", str(out),
                 "--plot", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err, err
    assert list(tmp_path.iterdir()) == []


def test_frequency_schedule_is_n_pairs_at_rho_with_delta_t():
    schedule = P.frequency("stdp_additive", rho=[20], delta_t=[-10], pairings=7, w0=[0.005])
    assert schedule.attrs["pairings"] == "7"
    (pre, post), = frequency_schedule([20], [-10], 7).values()
    assert len(pre) == len(post) == 7 and pre.min() > 0 and post.min() > 0
    np.testing.assert_allclose(post - pre, -0.010)
    np.testing.assert_allclose(np.diff(pre), 0.050)
