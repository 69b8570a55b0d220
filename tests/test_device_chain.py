"""The device lab's worked chain (docs/guide/devices.md) end to end, at the smallest size: synthetic measurements
-> `rules fit` -> `rules protocol FITTED window` -> `classify --rule FITTED` -> `device_sweep` on FITTED."""
import importlib.util
import tomllib
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from plastlab.cli.commands import main

ROOT = Path(__file__).resolve().parent.parent


def tiny_dataset(path, n=6, seed=0):
    """Two separated classes in two features, ``n`` samples each (label in the last column)."""
    rng = np.random.RandomState(seed)
    X = np.vstack([rng.normal([0.2, 0.25], 0.06, size=(n, 2)), rng.normal([0.8, 0.7], 0.06, size=(n, 2))])
    lines = ["f1,f2,label"] + [f"{a:.4f},{b:.4f},{c}" for (a, b), c in zip(X, ["low"] * n + ["high"] * n)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.slow
def test_measurements_fit_window_classify_and_sweep_with_the_fitted_rule(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the guide's commands run where the files are: relative paths as written there
    spec = importlib.util.spec_from_file_location("make_nc_measurements", ROOT / "data" / "make_nc_measurements.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    script.main(Path("nc_measurements.csv"))
    assert Path("nc_measurements.csv").read_bytes() == (ROOT / "data" / "nc_measurements.csv").read_bytes()

    assert main(["rules", "fit", "nc_memristor", "nc_measurements.csv", "--params", "a_plus,a_minus,mu_plus",
                 "--starts", "1", "--out", "nc_fitted.toml"]) == 0
    fit = tomllib.loads(Path("nc_fitted.toml").read_text())["metadata"]["fit"]
    assert fit["r2"] > 0.9 and fit["data_file"] == "nc_measurements.csv"

    assert main(["rules", "protocol", "nc_fitted.toml", "window", "--dt-range", "-60,60", "--dt-step", "20",
                 "--w0", "0.2,0.5,0.8", "--out", "nc_fitted_window.nc"]) == 0
    with xr.open_dataset("nc_fitted_window.nc") as window:
        assert float(abs(window.dw - window.dw_analytic).max()) < 1e-12

    tiny_dataset(Path("tiny.csv"))
    small = ["--set", "members=1", "--set", "n_fields=3", "--set", "calibrate=false"]
    assert main(["classify", "tiny.csv", "--rule", "nc_fitted.toml", "--folds", "2", "--epochs", "1", *small,
                 "--no-progress", "--out", "classified"]) == 0
    with xr.open_dataset("classified/results.nc") as res:
        assert "nc_fitted" in str(res.attrs) and np.all(np.isfinite(res.f1.values))

    Path("sweep.toml").write_text('[experiment]\nkind = "device_sweep"\nname = "fitted"\ndatasets = ["tiny.csv"]\n'
                                  'rules = ["nc_fitted.toml"]\nfolds = 2\n[sweep]\nlevels = [16]\n'
                                  '[classifier]\nmembers = 1\nepochs = 1\nn_fields = 3\ncalibrate = false\n')
    assert main(["run", "sweep.toml", "--no-progress", "--out", "swept"]) == 0
    with xr.open_dataset("swept/results.nc") as swept:
        assert list(swept.rule.values) == ["nc_fitted.toml"] and swept.f1.shape == (1, 1, 1, 1, 2)
    assert "nc_fitted.toml levels" in capsys.readouterr().out
