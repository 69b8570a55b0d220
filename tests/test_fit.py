"""plastlab.rules.fit and `plastlab rules fit`: recovery of a known law, the fitted rule file, bad data refused."""
import hashlib
import tomllib

import numpy as np
import pytest
from brian2 import ms

from plastlab.cli.commands import main
from plastlab.errors import DataError
from plastlab.rules.files import load_rule
from plastlab.rules.fit import fit_rule, free_parameters, read_measurements

NC_TRUE = {"a_plus": 0.07376001452742792, "a_minus": -0.04963699617346189, "mu_plus": 26.730656991521247,
           "mu_minus": -22.325265872889496, "tau_plus": 9.300596954566565, "tau_minus": -10.81180238558187}
PARAMS = ",".join(NC_TRUE)


def write_nc_data(path, *, seed=0, sd=0.002, dts=None):
    """Δw of the NC law at three w0 plus Gaussian noise of sd ``sd`` (seeded), with a dw_sd column."""
    rule = load_rule("nc_memristor")
    dts = np.r_[np.arange(-60, 0, 3), np.arange(3, 61, 3)].astype(float) if dts is None else np.asarray(dts, float)
    w0 = np.array([0.25, 0.5, 0.75])
    true = rule.window_curve(dts * ms, w0)
    rng = np.random.default_rng(seed)
    lines = ["delta_t,w0,dw,dw_sd"]
    for i, dt in enumerate(dts):
        for j, w in enumerate(w0):
            lines.append(f"{dt:g},{w:g},{true[i, j] + sd * rng.standard_normal():.8g},{sd:g}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_recovers_a_known_law_within_its_standard_errors(tmp_path):
    data = write_nc_data(tmp_path / "nc.csv")
    start = load_rule("nc_memristor").with_parameters(mu_plus="20*ms", tau_minus="-15*ms", a_plus=0.05)
    result = fit_rule(start, data, params=list(NC_TRUE), starts=4)
    assert result.identifiable and result.r2 > 0.98
    for name, value, error in zip(result.names, result.estimates, result.errors):
        assert 0 < error < 0.1 * abs(NC_TRUE[name]) + 0.5, name
        assert abs(value - NC_TRUE[name]) < 4 * error, (name, value, error)
    corr = result.correlation
    assert np.allclose(np.diag(corr), 1) and np.allclose(corr, corr.T)
    # the weighted residuals of a right model are noise of sd 1: RSS ~ n - p
    assert 0.5 < result.rss / (result.data.n - len(result.names)) < 1.5
    # a wrong form (a fixed, wrong mu_plus) fits worse by the information criteria
    wrong = fit_rule(start.with_parameters(mu_plus="40*ms"), data, params=[n for n in NC_TRUE if n != "mu_plus"],
                     starts=2)
    assert wrong.aic > result.aic + 10 and wrong.bic > result.bic + 10


def test_bounds_are_respected(tmp_path):
    data = write_nc_data(tmp_path / "nc.csv")
    result = fit_rule(load_rule("nc_memristor"), data, params=["a_plus", "mu_plus"],
                      bounds={"mu_plus": (30.0, 40.0)}, starts=3)
    assert 30.0 <= result.estimates[1] <= 40.0
    assert np.isclose(result.estimates[1], 30.0, atol=0.05)  # the truth (26.7 ms) lies below the box


def test_cli_writes_a_rule_file_that_passes_check_with_provenance(tmp_path, capsys):
    data = write_nc_data(tmp_path / "nc.csv")
    out, plot = tmp_path / "nc_fitted.toml", tmp_path / "fit.png"
    assert main(["rules", "fit", "nc_memristor", str(data), "--params", PARAMS, "--starts", "2",
                 "--out", str(out), "--plot", str(plot)]) == 0
    printed = capsys.readouterr().out
    assert "R² = " in printed and "AIC" in printed and "correlations" in printed
    assert plot.stat().st_size > 1000
    assert main(["rules", "check", str(out)]) == 0
    meta = tomllib.loads(out.read_text())["metadata"]["fit"]
    assert meta["data_sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert meta["r2"] > 0.98 and {"aic", "bic", "n_points", "command"} <= set(meta)
    assert "rules fit nc_memristor" in meta["command"]
    fitted = load_rule(out)
    assert fitted.name == "nc_fitted"
    assert abs(float(fitted.parameters["mu_plus"] / ms) - NC_TRUE["mu_plus"]) < 2


@pytest.mark.parametrize("content, words", [
    ("delta_t,w0\n1,0.5\n", "missing column 'dw'"),
    ("delta_t,w0,dw\n1,0.5,abc\n-1,0.5,0.1\n", "non-numeric value 'abc' at line 2"),
    ("delta_t,w0,dw\n1,0.5,nan\n-1,0.5,0.1\n", "missing value (NaN) at line 2"),
    ("delta_t,w0,dw\n1,0.5,0.1\n-1,0.5,-0.1\n", "2 points for 6 parameters"),
    ("delta_t,w0,dw,dw_sd\n1,0.5,0.1,0\n-1,0.5,-0.1,0.1\n", "dw_sd must be > 0"),
    ("delta_t,w0,dw\n" + "".join(f"{t},0.5,0.01\n" for t in range(1, 20)), "no point with delta_t < 0"),
])
def test_bad_data_is_refused_with_one_line_and_exit_2(tmp_path, capsys, content, words):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    assert main(["rules", "fit", "nc_memristor", str(path), "--params", PARAMS, "--out",
                 str(tmp_path / "x.toml")]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x.toml").exists()


def test_one_sign_is_fine_for_parameters_of_that_branch(tmp_path):
    data = write_nc_data(tmp_path / "pos.csv", dts=np.arange(3, 61, 3))
    result = fit_rule(load_rule("nc_memristor"), data, params=["a_plus", "mu_plus", "tau_plus"], starts=2)
    assert result.r2 > 0.95
    with pytest.raises(DataError):
        fit_rule(load_rule("nc_memristor"), data, params=["a_plus", "a_minus"])


def test_free_parameters_leave_out_bounds_and_followers():
    assert "Wmax" not in free_parameters(load_rule("ppx_memristor"))
    additive = free_parameters(load_rule("stdp_additive"))  # taupost = taupre, dApre = 0.01*gmax: followers
    assert "taupre" in additive and "taupost" not in additive and "gmax" not in additive


def test_trace_rules_fit_through_their_closed_form(tmp_path):
    rule = load_rule("stdp_additive")
    dts = np.r_[np.arange(-60, 0, 5), np.arange(5, 61, 5)].astype(float)
    true = rule.window_curve(dts * ms, np.array([0.005]))[:, 0]
    path = tmp_path / "add.csv"
    path.write_text("delta_t,w0,dw\n" + "".join(f"{t:g},0.005,{d:.10g}\n" for t, d in zip(dts, true)))
    result = fit_rule(rule.with_parameters(taupre="10*ms"), read_measurements(path), params=["taupre"], starts=2)
    assert abs(result.estimates[0] - 20.0) < 1e-3


@pytest.mark.parametrize("args, flag", [
    (["nc_memristor", "DATA", "--resume"], "--resume"),
    (["nc_memristor", "DATA", "--generations", "5"], "--generations"),
    (["--symbolic", "DATA", "--plot", "f.png"], "--plot"),
    (["--symbolic", "DATA", "--params", "a_plus"], "--params"),
])
def test_options_of_the_other_kind_of_fit_are_refused_not_ignored(tmp_path, capsys, args, flag):
    data = write_nc_data(tmp_path / "nc.csv")
    args = [str(data) if a == "DATA" else a for a in args]
    assert main(["rules", "fit", *args, "--campaign-dir" if "--symbolic" in args else "--out",
                 str(tmp_path / ("c" if "--symbolic" in args else "x.toml"))]) == 2
    err = capsys.readouterr().err.strip()
    assert flag in err and len(err.splitlines()) == 1
    assert not any(p.name in ("c", "x.toml", "f.png") for p in tmp_path.iterdir())
