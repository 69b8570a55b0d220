"""The README's and rules/README.md's examples run as written."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from plastlab.rules.files import rule_from_toml

ROOT = Path(__file__).resolve().parents[1]


def blocks(path, language):
    return re.findall(rf"```{language}\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.parametrize("k", range(2))
def test_rule_file_examples_are_valid_rule_files(k):
    text = blocks(ROOT / "rules" / "README.md", "toml")[k]
    name = re.search(r'name = "(\w+)"', text).group(1)
    rule = rule_from_toml(text, source=f"{name}.toml")
    assert rule.name == name


def test_readme_python_examples_run_as_written(tmp_path):
    """The 'In Python' section of README.md, run as one script the way a reader would paste it."""
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("## In Python", 1)[1].split("\n## ", 1)[0]
    code = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(code) >= 2
    script = tmp_path / "readme_example.py"
    script.write_text("\n".join(code) + "\nprint('last rule:', rule.name)\n")
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                            env=dict(os.environ, MPLBACKEND="Agg"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("last rule: toy")


def _tiny_classify_result(path):
    """A results.nc as `plastlab classify` writes it, small: five folds of F1 and the provenance attrs."""
    import numpy as np
    import xarray as xr

    from plastlab.store import provenance, write_dataset

    ds = xr.Dataset({"f1": ("fold", np.array([0.9, 0.8, 1.0, 0.9, 0.85]))}, coords={"fold": np.arange(5)})
    ds.attrs.update(provenance(seed=3, dataset="iris", folds=5, estimator="SpikingClassifier", protocol="fixed"),
                    rule="toy_rule", silent_fraction=0.0)
    write_dataset(ds, path / "results.nc")


def _report(*args, cwd):
    return subprocess.run([sys.executable, "-m", "plastlab", "report", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, env=dict(os.environ, MPLBACKEND="Agg"))


def test_report_turns_a_result_file_into_a_page_with_its_numbers(tmp_path):
    _tiny_classify_result(tmp_path / "run")
    (tmp_path / "run" / "published.toml").write_text(
        '[[number]]\nquantity = "iris/toy_rule"\npublished = "0.97"\nsource = "a paper"\n')
    result = _report("run", "--out", "page.md", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "page.md").read_text(encoding="utf-8")
    assert "0.890 ± 0.066" in page                       # mean ± sd over the folds
    assert "0.900, 0.800, 1.000, 0.900, 0.850" in page   # every fold
    assert "| iris/toy_rule | 0.97 | **0.890 ± 0.066** | a paper |" in page
    assert "plastlab classify iris --rule toy_rule --folds 5 --seed 3" in page
    figures = list((tmp_path / "page_figures").glob("*.png"))
    assert len(figures) == 1 and figures[0].name in page


@pytest.mark.parametrize("problem", ["no result", "unknown quantity", "not netcdf"])
def test_report_refuses_bad_input_with_one_line_before_writing(tmp_path, problem):
    run = tmp_path / "run"
    run.mkdir()
    if problem == "unknown quantity":
        _tiny_classify_result(run)
        (run / "published.toml").write_text('[[number]]\nquantity = "wine/x"\npublished = "1"\nsource = "s"\n')
    elif problem == "not netcdf":
        (run / "results.nc").write_text("not a NetCDF file")
    _tiny_classify_result(tmp_path / "good")
    result = _report("good", "run", "--out", "page.md", cwd=tmp_path)  # a good result first: still nothing written
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("plastlab: error:")
    assert not (tmp_path / "page.md").exists() and not (tmp_path / "page_figures").exists()


def test_report_of_a_device_sweep_shows_each_grid_point_and_where_f1_falls(tmp_path):
    """A device_sweep's page: F1 per grid point as mean ± sd over repeats (of the fold means) and the threshold
    the experiment recorded in the file's attrs."""
    import numpy as np
    import xarray as xr

    f1 = np.array([[[[0.5, 0.7], [0.6, 0.6]], [[0.9, 0.9], [0.8, 1.0]]]])  # (dataset, rule, levels, repeat, fold)
    ds = xr.Dataset({"f1": (("dataset", "rule", "levels", "repeat", "fold"), f1[:, None][:, 0][:, None])},
                    coords={"dataset": ["iris"], "rule": ["nc_memristor"], "levels": [4.0, np.inf],
                            "repeat": [0, 1], "fold": [0, 1]})
    ds.attrs.update(kind="device_sweep", experiment="sweep", seed=0, swept="levels", drop=0.02, complete=1,
                    fixed_device="{}", ideal_f1_iris_nc_memristor=0.9, threshold_levels_iris_nc_memristor=4.0)
    (tmp_path / "run").mkdir()
    ds.to_netcdf(tmp_path / "run" / "results.nc")
    result = _report("run", "--out", "page.md", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "page.md").read_text(encoding="utf-8")
    assert "iris/nc_memristor/levels=4" in page and "0.600 ± 0.000" in page  # repeats 0.6 and 0.6
    assert "iris/nc_memristor/levels=inf" in page and "0.900 ± 0.000" in page
    assert "falls 0.02 below the ideal device (0.900) at levels = 4" in page
