"""plastlab rules fit --symbolic: the fit task family (closed-form scores on the GP engine) finds a known law."""
import csv
import shutil
import time

import numpy as np
import pytest
import sympy as sp
from brian2 import ms

from plastlab.cli.commands import main
from plastlab.errors import ConfigError
from plastlab.evolve.symbolic_fit import symbolic_fit
from plastlab.evolve.tasks import fit as family
from plastlab.evolve.tasks.fit import family_params
from plastlab.rules.files import load_rule
from plastlab.rules.fit import read_measurements
from plastlab.store import atomic_write_text


def law(dt, w0):
    """The known law: potentiation 0.01 (1 - w) e^(-Δt/20 ms), depression -0.008 w e^(Δt/10 ms)."""
    return np.where(dt > 0, 0.01 * (1 - w0) * np.exp(-dt / 20), -0.008 * w0 * np.exp(dt / 10))


def write_data(path, seed=3):
    rng = np.random.default_rng(seed)
    rows = []
    for dt in np.r_[np.arange(-60, 0, 3), np.arange(3, 61, 3)].astype(float):
        for w0 in (0.1, 0.3, 0.5, 0.7, 0.9):
            true = float(law(dt, w0))
            sd = 0.0002 + 0.03 * abs(true)
            rows.append((dt, w0, true + sd * rng.standard_normal(), sd))
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["delta_t", "w0", "dw", "dw_sd"])
        writer.writerows(rows)
    return path


SMALL = {"initial": 60, "mu": 16, "lambda": 32, "new_per_generation": 32, "max_size": 11, "max_height": 4}


def test_recovers_a_known_law_and_writes_a_checked_window_rule(tmp_path):
    data = read_measurements(write_data(tmp_path / "d.csv"))
    start = time.perf_counter()
    pair, campaigns = symbolic_fit(data, tmp_path / "camp", name="known", seed=2, generations=12, gp=SMALL,
                                   progress=False)
    assert time.perf_counter() - start < 30
    for camp in campaigns:  # the campaign machinery: checkpoint, results, champion file
        assert (camp.out / "checkpoint.json").is_file() and (camp.out / "campaign.nc").is_file()
    doc = family.rule_document(pair, "found", "test", family_params(data))
    import tomli_w

    atomic_write_text(tmp_path / "found.toml", tomli_w.dumps(doc))
    rule = load_rule(tmp_path / "found.toml")  # what `rules check` checks
    dts = np.r_[np.linspace(-60, -1, 200), np.linspace(1, 60, 200)]
    ws = np.linspace(0.05, 0.95, 19)
    found = rule.window_curve(dts * ms, ws)
    true = law(dts[:, None], ws[None, :])
    r2 = 1 - np.sum((found - true) ** 2) / np.sum((true - true.mean()) ** 2)
    assert r2 >= 0.99, (doc["window"], r2)


def test_scores_shapes_in_closed_form(tmp_path):
    data = read_measurements(write_data(tmp_path / "d.csv"))
    dt, w = family.symbols()
    p = dict(family_params(data), branch="depression")
    right, wrong = family.evaluate_batch([w * sp.exp(-dt), sp.exp(-dt)], [0], p)
    assert right["fitness"] > wrong["fitness"] and right["per_instance"][0] > 0.9
    (bad,) = family.evaluate_batch([1 / (2 * w - 1)], [0], p)  # w0 = 0.5 is measured: infinite at every τ
    assert bad["fitness"] == -np.inf and bad["reason"]


def test_cli_refuses_data_of_one_sign(tmp_path, capsys):
    path = tmp_path / "one.csv"
    path.write_text("delta_t,w0,dw\n5,0.5,0.01\n10,0.5,0.005\n")
    assert main(["rules", "fit", "--symbolic", str(path), "--campaign-dir", str(tmp_path / "c")]) == 2
    assert "both signs" in capsys.readouterr().err


TINY = dict(SMALL, initial=12, mu=4, new_per_generation=8, **{"lambda": 8})


@pytest.mark.slow
def test_resume_continues_each_branch_from_its_checkpoint(tmp_path, capsys, monkeypatch):
    """A fit stopped after one generation of the first branch (the second never started), resumed to two, is
    the uninterrupted two-generation fit: the same champions and the same history, generation by generation."""
    from plastlab import plots

    monkeypatch.setattr(plots, "plot_fitness", lambda *a, **k: None)  # the figures are not what is tested here
    data = read_measurements(write_data(tmp_path / "d.csv"))
    run = dict(name="r", seed=4, gp=TINY, progress=False)
    whole, whole_camps = symbolic_fit(data, tmp_path / "whole", generations=2, **run)
    symbolic_fit(data, tmp_path / "cut", generations=1, **run)
    shutil.rmtree(tmp_path / "cut" / "depression")
    with pytest.raises(ConfigError, match="--resume"):  # not silently restarted
        symbolic_fit(data, tmp_path / "cut", generations=2, **run)
    from plastlab.evolve.campaign import Campaign

    ran, step = [], Campaign._next_generation

    def counted(self):
        ran.append(self.spec["family_params"]["branch"])
        return step(self)

    monkeypatch.setattr(Campaign, "_next_generation", counted)
    resumed, camps = symbolic_fit(data, tmp_path / "cut", generations=2, resume=True, **run)
    assert resumed == whole
    # potentiation went on from its checkpoint (generation 2), depression ran from its start (generations 0 to 2)
    assert ran.count("potentiation") == 1 and ran.count("depression") == 3
    for a, b in zip(camps, whole_camps):
        assert [h["best_fitness"] for h in a.logbook] == [h["best_fitness"] for h in b.logbook]
        assert [h["best_expression"] for h in a.logbook] == [h["best_expression"] for h in b.logbook]
    assert main(["rules", "fit", "--symbolic", str(tmp_path / "d.csv"), "--resume", "--campaign-dir",
                 str(tmp_path / "none")]) == 2  # nothing to resume: refused before any work
    assert "no checkpoint" in capsys.readouterr().err
