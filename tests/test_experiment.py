"""plastlab classify / plastlab run: bad input stops with exit code 2 and one line before any simulation;
experiment files load and a tiny comparison runs end to end."""
import json

import numpy as np
import pytest
import xarray as xr

from plastlab.cli import main
from plastlab.errors import ConfigError
from plastlab.experiments.classification import markdown_table
from plastlab.experiments.registry import load_experiment

REPO = __import__("pathlib").Path(__file__).resolve().parents[1]


def _csv(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _no_simulation(monkeypatch):
    """Any attempt to run a Brian2 network fails the test: errors must come first."""
    import brian2

    def boom(*args, **kwargs):
        raise AssertionError("a simulation started")

    monkeypatch.setattr(brian2.Network, "run", boom)


GOOD = "a,b,label\n" + "".join(f"{i},{i % 3},{'x' if i < 6 else 'y'}\n" for i in range(12))


@pytest.mark.parametrize("text, message", [
    ("a,b,label\n1,2,x\n,3,y\n4,5,x\n", "missing value at line 3"),
    ("a,b,label\n1,2,x\n1,red,y\n4,5,x\n", "non-numeric value 'red' at line 3, b"),
    ("1,2,x\n3,4,x\n5,6,x\n", "only one class"),
    ("1,2,x\n3,4,x\n5,6,x\n7,8,y\n9,1,y\n", "class 'y' has 2 sample(s), fewer than the 5 folds"),
    ("1,2,x\n3,4\n", "line 2 has 2 columns"),
    ("1,2.5x,x\n3,4,x\n5,6,y\n", "non-numeric value '2.5x' at line 1"),  # a typo is not a header
    ("1e308,2,x\n-1e308,4,x\n5,6,y\n", "cannot be scaled"),
])
def test_bad_csv_exit_2_one_line(tmp_path, capsys, monkeypatch, text, message):
    _no_simulation(monkeypatch)
    code = main(["classify", _csv(tmp_path, text), "--rule", "nc_memristor"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and message in err


def test_csv_with_byte_order_mark_and_no_header_keeps_its_first_row(tmp_path):
    from plastlab.datasets import read_csv

    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeff1,2,x\n3,4,x\n5,6,y\n".encode("utf-8"))
    X, y = read_csv(path)
    assert X.shape == (3, 2) and X[0, 0] == 1 and list(y) == ["x", "x", "y"]


def test_device_files_are_not_read(capsys):
    assert main(["classify", "/dev/zero", "--rule", "nc_memristor"]) == 2
    assert "not a regular file" in capsys.readouterr().err


@pytest.mark.parametrize("rule, message", [
    ("no_such_rule_xyz", "no_such_rule_xyz"),
    ("rstdp_eligibility", "third factor 'reward'"),
])
def test_unknown_rule_or_third_factor_exit_2(tmp_path, capsys, monkeypatch, rule, message):
    _no_simulation(monkeypatch)
    code = main(["classify", _csv(tmp_path, GOOD), "--rule", rule, "--folds", "2"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and message in err


def test_unknown_dataset_and_setting_exit_2(capsys, monkeypatch):
    _no_simulation(monkeypatch)
    assert main(["classify", "no_such_data", "--rule", "nc_memristor"]) == 2
    assert "unknown data set 'no_such_data'" in capsys.readouterr().err
    assert main(["classify", "iris", "--rule", "nc_memristor", "--set", "nfields=3"]) == 2
    assert "'nfields': unknown key" in capsys.readouterr().err
    assert main(["classify", "iris", "--rule", "nc_memristor", "--set", "decoding=vote"]) == 2
    assert "decoding" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(p.stem for p in (REPO / "experiments").glob("*.toml")))
def test_repository_experiment_files_load(name):
    """Every shipped experiment file passes the checks of its kind."""
    exp = load_experiment(REPO / "experiments" / f"{name}.toml")
    assert exp.name == name and exp.seed >= 0


def test_bad_experiment_files(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[experiment]\nkind = "classification"\ndatasets = ["iris"]\nrules = ["nc_memristor"]\n'
                   '[classifier]\nepoch = 3\n')
    with pytest.raises(ConfigError, match=r"\[classifier.iris.nc_memristor\]: 'epoch': unknown key"):
        load_experiment(bad)
    bad.write_text('[experiment]\nkind = "cartpole"\nrule = "nc_memristor"\n[controller]\ngainz = 3\n')
    with pytest.raises(ConfigError, match=r"\[controller\]: 'gainz': unknown key"):
        load_experiment(bad)
    bad.write_text('[experiment]\nkind = "dance"\n')
    with pytest.raises(ConfigError, match=r"\[experiment\]: 'kind': must be one of"):
        load_experiment(bad)


@pytest.mark.parametrize("head, message", [
    ('kind = "cartpole"\nrule = "nc_memristor"\nseed = 1.7', r"'seed': must be an integer, got 1.7"),
    ('kind = "cartpole"\nrule = "nc_memristor"\ntrain_seed = 3', r"'train_seed': unknown key"),
    ('kind = "cartpole"\nrule = "nc_memristor"\nepisodes = 0', r"'episodes': must be >= 1"),
    ('kind = "classification"\ndatasets = ["iris"]\nrules = ["nc_memristor"]\nfold = 3', r"'fold': unknown key"),
    ('kind = "classification"\ndatasets = ["iris"]\nrules = ["nc_memristor"]\nfolds = "5"',
     r"'folds': must be an integer"),
    ('kind = "superspike"\ntask = "dance"', r"'task': must be one of"),
])
def test_experiment_head_is_one_declared_table(tmp_path, head, message):
    bad = tmp_path / "bad.toml"
    bad.write_text(f"[experiment]\n{head}\n")
    with pytest.raises(ConfigError, match=message):
        load_experiment(bad)


def test_tiny_comparison_end_to_end(tmp_path, capsys):
    rng = np.random.RandomState(0)
    rows = [f"{a:.3f},{b:.3f},{c}\n" for c, (mx, my) in enumerate([(0.2, 0.3), (0.8, 0.7)])
            for a, b in rng.normal([mx, my], 0.05, size=(8, 2))]
    data = _csv(tmp_path, "".join(rows))
    exp = tmp_path / "tiny.toml"
    exp.write_text(f'[experiment]\nname = "tiny"\nkind = "classification"\nseed = 0\nfolds = 2\n'
                   f'datasets = ["{data}"]\nrules = ["nc_memristor"]\nbaselines = ["logistic_regression"]\n'
                   f'[classifier]\nepochs = 6\ndt = 0.5\nt_gap = 5.0\n')
    out = tmp_path / "out"
    assert main(["run", str(exp), "--out", str(out), "--no-progress"]) == 0
    res = xr.open_dataset(out / "results.nc")
    assert res.f1.dims == ("model", "dataset", "fold")
    assert list(res.model.values) == ["nc_memristor", "logistic_regression"]
    assert float(res.f1.sel(model="logistic_regression").mean()) == 1.0
    assert float(res.f1.sel(model="nc_memristor").mean()) >= 0.75
    table = (out / "results.md").read_text()
    assert "| nc_memristor |" in table and "| logistic_regression |" in table
    one = xr.open_dataset(out / "data_nc_memristor" / "results.nc")
    assert one.confusion.dims == ("fold", "true", "predicted")
    assert int(one.confusion.sum()) == 16 and one.attrs["seed"] == 0
    assert "nc_memristor" in one.attrs["rule"] and "package_versions" in one.attrs
    assert (out / "data_nc_memristor" / "confusion.png").stat().st_size > 0
    assert (out / "data_nc_memristor" / "weights.png").stat().st_size > 0
    f1 = res.f1.sel(model="nc_memristor").values
    assert markdown_table(res) == table.rstrip("\n") == "\n".join([
        f"| model | {res.dataset.values[0]} |", "|---|---|", f"| nc_memristor | {f1.mean():.3f} ± {f1.std():.3f} |",
        "| logistic_regression | 1.000 ± 0.000 |", "", "F1-micro, stratified 2-fold cross-validation, seed 0."])


def test_shipped_penguins_csv_reads_as_a_data_set():
    from plastlab.datasets import load_dataset

    X, y, name = load_dataset(REPO / "data" / "penguins.csv", folds=5)
    assert name == "penguins" and X.shape == (342, 4) and np.isfinite(X).all()
    assert sorted(set(y)) == ["Adelie", "Chinstrap", "Gentoo"]


def test_experiment_names_cannot_be_paths(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[experiment]\nname = "../../etc/evil"\nkind = "cartpole"\nrule = "nc_memristor"\n')
    with pytest.raises(ConfigError, match="'name'.*not allowed"):
        load_experiment(bad)


def test_results_are_readable_by_others_and_every_dimension_has_coordinates(tmp_path):
    import os

    import xarray as xr

    from plastlab.store import write_dataset

    old = os.umask(0o022)
    try:
        path = write_dataset(xr.Dataset({"x": (("fold", "epoch"), np.zeros((2, 3)))}), tmp_path / "r.nc")
    finally:
        os.umask(old)
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    ds = xr.open_dataset(path)
    assert list(ds.epoch.values) == [0, 1, 2] and ds.attrs["complete"] == 1


def _tiny_data(tmp_path, n=8):
    rng = np.random.RandomState(0)
    rows = [f"{a:.3f},{b:.3f},{c}\n" for c, (mx, my) in enumerate([(0.2, 0.3), (0.8, 0.7)])
            for a, b in rng.normal([mx, my], 0.05, size=(n, 2))]
    return _csv(tmp_path, "".join(rows))


NESTED = ('[experiment]\nname = "nested"\nkind = "classification"\nseed = 0\nfolds = 2\nrepeats = 2\n'
          'protocol = "nested-cv"\ninner_folds = 2\nbudget = 1\ndatasets = ["{data}"]\n'
          'rules = ["nc_memristor", "frozen"]\nbaselines = ["logistic_regression"]\n'
          '[classifier]\nepochs = 2\ndt = 1.0\nt_gap = 0.0\ncalibrate = false\n'
          '[classifier.frozen]\nrule = "nc_memristor"\nplasticity = false\n'
          '[search.spiking]\ngain = [60.0, 120.0]\n'
          '[search.logistic_regression]\nC = [0.1, 1.0]\n')


def test_nested_cv_end_to_end(tmp_path):
    exp = tmp_path / "nested.toml"
    exp.write_text(NESTED.replace("{data}", _tiny_data(tmp_path)))
    out = tmp_path / "out"
    assert main(["run", str(exp), "--out", str(out), "--no-progress"]) == 0
    res = xr.open_dataset(out / "results.nc")
    assert res.attrs["protocol"] == "nested-cv" and res.attrs["budget"] == 1 and res.attrs["complete"] == 1
    assert not (out / "partial.nc").exists()
    assert res.f1.dims == ("model", "dataset", "repeat", "fold") and res.f1.shape == (3, 1, 2, 2)
    assert np.isfinite(res.f1.values).all()
    chosen = [json.loads(c) for c in res.chosen.sel(model="nc_memristor").values.ravel()]
    assert all(c["gain"] in (60.0, 120.0) for c in chosen)
    table = (out / "results.md").read_text()
    assert "Nadeau-Bengio" in table and "| nc_memristor | logistic_regression |" in table


@pytest.mark.slow
def test_nested_side_by_side_chooses_and_scores_like_randomized_search_cv(tmp_path):
    """The nested CV fits a stage's fits side by side; each outer fold's choice and score are RandomizedSearchCV's."""
    from sklearn.base import clone
    from sklearn.metrics import f1_score
    from sklearn.model_selection import RandomizedSearchCV, RepeatedStratifiedKFold, StratifiedKFold

    from plastlab import SpikingClassifier
    from plastlab.datasets import load_dataset
    from plastlab.experiments.classification import _nested_side_by_side

    X, y, _ = load_dataset(_tiny_data(tmp_path, n=10), folds=2)
    base = SpikingClassifier("nc_memristor", epochs=2, dt=1.0, t_gap=0.0, calibrate=False)
    space = {"teacher_delay": [1.0, 8.0], "n_fields": [3, 6], "gain": [30.0, 120.0]}
    outer = list(RepeatedStratifiedKFold(n_splits=2, n_repeats=1, random_state=0).split(X, y))
    got = list(_nested_side_by_side(base, space, X, y, outer, budget=3, inner_folds=2, seed=5))
    for k, (tr, te) in enumerate(outer):
        search = RandomizedSearchCV(clone(base).set_params(random_state=5 + k), space, n_iter=3, scoring="f1_micro",
                                    cv=StratifiedKFold(2, shuffle=True, random_state=5 + k), random_state=5 + k)
        search.fit(X[tr], y[tr])
        assert json.loads(got[k][2]) == search.best_params_
        assert got[k][0] == f1_score(y[te], search.predict(X[te]), average="micro")


def test_corrected_ttest_matches_the_formula():
    from scipy import stats

    from plastlab.experiments.classification import corrected_ttest

    a, b = np.array([0.9, 0.95, 0.92, 0.97]), np.array([0.88, 0.9, 0.93, 0.9])
    diff, t, p = corrected_ttest(a, b, n_train=90, n_test=10)
    d = a - b
    assert diff == pytest.approx(d.mean())
    assert t == pytest.approx(d.mean() / np.sqrt((1 / 4 + 10 / 90) * d.var(ddof=1)))
    assert p == pytest.approx(2 * stats.t.sf(abs(t), 3))


@pytest.mark.parametrize("change, message", [
    (("budget = 1", "budget = 0"), "'budget': must be >= 1"),
    (("gain = [60.0, 120.0]", "gane = [60.0]"), "'gane': unknown classifier setting in the search space"),
    (("C = [0.1, 1.0]", "D = [0.1]"), "'D': unknown key"),
    (("inner_folds = 2", "inner_folds = 5"), "fewer than inner_folds = 5"),
])
def test_bad_nested_files_exit_2_before_simulating(tmp_path, capsys, monkeypatch, change, message):
    _no_simulation(monkeypatch)
    exp = tmp_path / "nested.toml"
    exp.write_text(NESTED.replace("{data}", _tiny_data(tmp_path, n=6)).replace(*change))
    assert main(["run", str(exp), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_builtin_data_sets_name_their_classes():
    from plastlab.datasets import load_dataset

    _, y, _ = load_dataset("iris", folds=5)
    assert sorted(set(y)) == ["setosa", "versicolor", "virginica"]


def test_classify_tune_chooses_each_folds_settings_on_its_training_part(tmp_path, capsys):
    """``plastlab classify --tune`` is nested CV: each fold's settings come from an inner search over the declared
    space (minus what --set fixed); without it every fold trains with the defaults."""
    from plastlab.learn.model_selection import TUNING

    data = _tiny_data(tmp_path, n=12)
    common = ["--rule", "nc_memristor", "--folds", "2", "--set", "dt=1.0", "--set", "t_gap=0.0", "--set",
              "calibrate=false", "--no-progress"]
    assert main(["classify", data, *common, "--set", "epochs=2", "--tune", "--budget", "2", "--inner-folds", "2",
                 "--out", str(tmp_path / "tuned")]) == 0
    ds = xr.open_dataset(tmp_path / "tuned" / "results.nc")
    assert ds.attrs["protocol"] == "nested-cv" and ds.attrs["budget"] == 2 and ds.attrs["inner_folds"] == 2
    space = json.loads(ds.attrs["search_space"])
    assert "epochs" not in space and set(space) == set(TUNING.space) - {"epochs"}
    for chosen in ds.chosen.values:
        assert all(v in space[k] for k, v in json.loads(chosen).items()) and json.loads(chosen)
    assert main(["classify", data, *common, "--set", "epochs=2", "--out", str(tmp_path / "fixed")]) == 0
    fixed = xr.open_dataset(tmp_path / "fixed" / "results.nc")
    assert fixed.attrs["protocol"] == "fixed" and list(fixed.chosen.values) == ["{}", "{}"]


@pytest.mark.parametrize("args, message", [
    (["--budget", "0"], "'--budget': must be >= 1"),
    (["--inner-folds", "1"], "'--inner-folds': must be >= 2"),
    (["--inner-folds", "7"], "a class has only 6 sample(s) in an outer training part, fewer than inner_folds = 7"),
])
def test_classify_refuses_a_search_that_cannot_run(tmp_path, capsys, monkeypatch, args, message):
    _no_simulation(monkeypatch)
    code = main(["classify", _tiny_data(tmp_path, n=12), "--rule", "nc_memristor", "--folds", "2", "--tune", *args])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and message in err
