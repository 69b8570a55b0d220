"""What a command line owes its user: interrupts that stop and say so, one-line errors, quiet closed pipes,
nothing executed from the working directory, help at once. Real subprocesses, small work."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from plastlab.cli import main

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
PLASTLAB = [sys.executable, "-m", "plastlab"]


def start(args, cwd):
    return subprocess.Popen(PLASTLAB + args, cwd=cwd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def wait_for_progress(proc, seconds):
    """Let the command get into its work (imports, the first compilation) before interrupting it."""
    deadline = time.time() + seconds
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, "the command finished before it could be interrupted"


@pytest.mark.slow
@pytest.mark.parametrize("sig, code, name", [(signal.SIGINT, 130, "SIGINT"), (signal.SIGTERM, 143, "SIGTERM")])
def test_interrupted_classify_says_so_exits_non_zero_and_writes_nothing(tmp_path, sig, code, name):
    proc = start(["classify", "iris", "--rule", "nc_memristor", "--folds", "3", "--epochs", "200",
                  "--out", str(tmp_path / "out"), "--no-progress"], tmp_path)
    wait_for_progress(proc, 5)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert f"interrupted by {name}" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "results.nc").exists()


@pytest.mark.slow
def test_interrupted_experiment_run_writes_no_summary(tmp_path):
    exp = tmp_path / "long.toml"
    exp.write_text('[experiment]\nname = "long"\nkind = "classification"\nfolds = 3\ndatasets = ["iris"]\n'
                   'rules = ["nc_memristor"]\n[classifier]\nepochs = 200\n')
    proc = start(["run", str(exp), "--out", str(tmp_path / "out"), "--no-progress"], tmp_path)
    wait_for_progress(proc, 5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted by SIGINT" in err
    assert not (tmp_path / "out" / "results.nc").exists() and not (tmp_path / "out" / "results.md").exists()


def test_closed_pipe_ends_quietly(tmp_path):
    shell = f"{' '.join(PLASTLAB)} rules show nc_memristor | head -1"
    result = subprocess.run(["bash", "-o", "pipefail", "-c", shell], cwd=tmp_path, env=ENV, capture_output=True,
                            text=True)
    assert result.stdout.startswith("nc_memristor") and result.stderr == ""
    assert result.returncode in (0, 141)


def test_argparse_errors_are_one_line(tmp_path):
    result = subprocess.run(PLASTLAB + ["rules", "window", "--w0"], cwd=tmp_path, env=ENV, capture_output=True,
                            text=True)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("plastlab: error:")


def test_internal_error_is_short_with_exit_1_and_traceback_on_debug(monkeypatch, capsys):
    import plastlab.cli.commands as cli

    def broken(args):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(cli, "rules_check", broken)
    assert main(["rules", "check", "nc_memristor"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error: ZeroDivisionError: a bug" in err and "report" not in err
    with pytest.raises(ZeroDivisionError):
        main(["--debug", "rules", "check", "nc_memristor"])


def test_no_code_runs_from_a_brian_preferences_file_in_the_working_directory(tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "brian_preferences").write_text(f"codegen.target = __import__('pathlib').Path('{marker}').touch()\n")
    result = subprocess.run(PLASTLAB + ["rules", "check", "nc_memristor"], cwd=tmp_path, env=ENV,
                            capture_output=True, text=True)
    assert result.returncode == 2 and "brian_preferences" in result.stderr
    assert not marker.exists()


def test_help_imports_nothing_heavy():
    """--help answers at once because the command line imports the library only when a command runs."""
    for args in (["--help"], ["evolve", "--help"], ["classify", "--help"], ["rules", "window", "--help"]):
        result = subprocess.run(PLASTLAB + args, env=ENV, capture_output=True, text=True)
        assert result.returncode == 0 and "usage" in result.stdout
    probe = ("import sys, plastlab.cli.commands; "
             "print(sorted(m for m in ('brian2', 'sklearn', 'matplotlib', 'sympy') if m in sys.modules))")
    imported = subprocess.run([sys.executable, "-c", probe],
                              env=ENV, capture_output=True, text=True).stdout.strip()
    assert imported == "[]"


def test_failures_leave_no_brian2_debug_files(tmp_path):
    """Brian2 keeps a debug log for every uncaught exception; plastlab catches its own, so nothing is left."""
    temp = tmp_path / "temp"
    temp.mkdir()
    env = dict(ENV, TMPDIR=str(temp))
    result = subprocess.run(PLASTLAB + ["rules", "window", "stdp_additive", "--w0", "0.5"], cwd=tmp_path, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 2 and "outside the bounds" in result.stderr
    assert sorted(p.name for p in temp.iterdir()) == []


@pytest.mark.parametrize("args, message", [
    (["classify", "iris", "--rule", "nc_memristor", "--seed", "4294967295"], "--seed must be between"),
    (["evolve", "evolve/error.toml", "--workers", "-3"], "--workers must be 0"),
    (["classify", "iris", "--rule", "nc_memristor", "--set", "tau_m=nan"], "finite"),
    (["classify", "iris", "--rule", "nc_memristor", "--set", "tau_m=inf"], "finite"),
])
def test_bad_options_are_refused_before_any_work(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_output_at_an_existing_file_is_refused_before_any_work(tmp_path, capsys):
    existing = tmp_path / "results"
    existing.write_text("precious")
    assert main(["classify", "iris", "--rule", "nc_memristor", "--out", str(existing)]) == 2
    assert main(["rules", "window", "stdp_additive", "--w0", "0.005", "--out", str(existing / "w.nc")]) == 2
    assert existing.read_text() == "precious"
    assert "existing file" in capsys.readouterr().err


def test_rules_show_prints_the_code_synapses_compiles(capsys):
    from plastlab import load_rule
    from plastlab.brian.codegen import generate

    assert main(["rules", "show", "stdp_additive"]) == 0
    out = capsys.readouterr().out
    code = str(generate(load_rule("stdp_additive")))
    assert "ge_post += w" in code and all(line in out for line in code.splitlines())


def test_run_help_names_every_experiment_kind():
    from plastlab.experiments.registry import KINDS

    result = subprocess.run(PLASTLAB + ["run", "--help"], env=ENV, capture_output=True, text=True)
    assert all(kind in result.stdout for kind in KINDS)


@pytest.mark.slow
def test_interrupted_evaluation_prints_no_fitness(tmp_path):
    sys.path.insert(0, str(ROOT / "tests"))
    from evolve_helpers import tiny_campaign

    path = tiny_campaign(tmp_path, duration=300.0)  # far longer than the wait: the signal comes mid-run
    proc = start(["evolve", str(path), "--evaluate", "pre_trace*(v_teacher - v_student)", "--workers", "0"],
                 tmp_path)
    wait_for_progress(proc, 5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted by SIGINT" in err
    assert "fitness" not in out


@pytest.mark.parametrize("damage, message", [
    (lambda text: "", "not readable JSON"),
    (lambda text: text[: len(text) // 2], "not readable JSON"),
    (lambda text: "[1, 2]", "not a JSON object"),
    (lambda text: text.replace('"generation": ', '"generation": "x", "was": '), "'generation' missing or not"),
    (lambda text: text.replace('"evaluations": ', '"evaluations": 1 + '), "not readable JSON"),
])
def test_damaged_checkpoints_are_refused_with_one_line(tmp_path, damage, message):
    import json

    from plastlab.errors import ConfigError
    from plastlab.evolve.campaign import CHECKPOINT_KEYS, content_digest, read_checkpoint

    state = {key: kind() if kind is not int else 0 for key, kind in CHECKPOINT_KEYS.items()}
    state["content_digest"] = content_digest(state)
    path = tmp_path / "checkpoint.json"
    path.write_text(damage(json.dumps(state)))
    with pytest.raises(ConfigError, match=message):
        read_checkpoint(path, state["digest"])


def test_a_checkpoint_edited_by_hand_is_refused(tmp_path):
    import json

    from plastlab.errors import ConfigError
    from plastlab.evolve.campaign import CHECKPOINT_KEYS, content_digest, read_checkpoint

    state = {key: kind() if kind is not int else 0 for key, kind in CHECKPOINT_KEYS.items()}
    state["population"] = [["a"], ["b"]]
    state["history"], state["cache_counts"] = [{"generation": 0}], [0, 0]
    state["content_digest"] = content_digest(state)
    read_checkpoint_ok = tmp_path / "ok.json"
    read_checkpoint_ok.write_text(json.dumps(state))
    assert read_checkpoint(read_checkpoint_ok, state["digest"])["population"] == [["a"], ["b"]]
    state["population"] = [["b"], ["a"]]  # reordered: the worst candidate would become the champion
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(state))
    with pytest.raises(ConfigError, match="does not match its digest"):
        read_checkpoint(edited, state["digest"])
    with pytest.raises(ConfigError, match="different campaign"):
        read_checkpoint(read_checkpoint_ok, "another")


@pytest.mark.slow
def test_a_scheduler_without_workers_or_that_never_answers_is_refused_in_seconds():
    import socket

    from dask.distributed import LocalCluster

    from plastlab.errors import ConfigError
    from plastlab.evolve.campaign import connect

    with LocalCluster(n_workers=0, processes=False, dashboard_address=None) as empty:
        with pytest.raises(ConfigError, match="has no workers"):
            connect(empty.scheduler_address, timeout=2)
    with socket.socket() as silent:  # accepts connections, never speaks
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        with pytest.raises(ConfigError, match="no Dask scheduler answered"):
            connect(f"tcp://127.0.0.1:{silent.getsockname()[1]}", timeout=2)


def test_a_campaign_directory_is_not_overwritten_without_asking(tmp_path, capsys):
    sys.path.insert(0, str(ROOT / "tests"))
    from evolve_helpers import tiny_campaign

    path = tiny_campaign(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "checkpoint.json").write_text("{}")
    assert main(["evolve", str(path), "--out", str(out), "--workers", "0"]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["evolve", str(path), "--out", str(out), "--workers", "0", "--resume"]) == 2
    assert "damaged checkpoint" in capsys.readouterr().err
    assert (out / "checkpoint.json").read_text() == "{}"


@pytest.mark.parametrize("section, line, message", [
    ("[gp]", "max_size = 1", "'max_size': must be >= 3"),
    ("[gp]", "tournament = 0", "'tournament': must be >= 1"),
    ("[gp]", 'cxpb = "0.5"', "'cxpb': must be a number"),
    ("[instances]", "validation_seeds = []", "'validation_seeds': must list at least 1"),
    ("[family]", "eta = nan", "'eta': must be a finite number"),
    ("[family]", "t_drop = 1000.0", "'t_drop': t_drop (1000.0 s) must be shorter"),
    ("[campaign]", 'name = "x/../../../../y"', "'name': 'x/../../../../y' is not allowed"),
])
def test_bad_campaign_files_are_refused_before_anything_runs(tmp_path, capsys, section, line, message):
    import re

    text = (ROOT / "evolve" / "error.toml").read_text()
    key = line.split("=")[0].strip()
    text = re.sub(rf"^{key}\s*=.*$\n", "", text, flags=re.M).replace(section, f"{section}\n{line}", 1)
    path = tmp_path / "bad.toml"
    path.write_text(text)
    assert main(["evolve", str(path), "--workers", "0", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()
