"""Reliability, round 3 (issue 27): nothing lost, nothing silent, no internal errors. One test per kind of problem,
each on tiny inputs; the bad-input sweep (benchmarks/bad_input_sweep.py) probes the same kinds at length."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from plastlab.cli import main

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
RULE = """[rule]
name = "{name}"
summary = "s"
[parameters]
taupre = "20*ms"
[weight]
unit = "{unit}"
[traces]
{trace} = "-{trace}/taupre"
[on_pre]
statements = ["{trace} += {increment}"]
[on_post]
statements = ["w = {update}"]
"""


def rule_file(tmp_path, name="r", unit="1", trace="Apre", increment="0.01", update=None):
    path = tmp_path / f"{name}.toml"
    path.write_text(RULE.format(name=name, unit=unit, trace=trace, increment=increment,
                                update=update or f"clip(w + {trace}, 0, 1)"))
    return str(path)


def refused(args, capsys, message):
    """Exit 2 with one line naming the problem."""
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


# --- data loss: one run per output directory; checkpoints checked for meaning --------------------------------

def test_a_second_run_on_a_locked_directory_is_refused_and_a_dead_runs_lock_is_not(tmp_path, capsys):
    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", f"from plastlab import outputs; outputs.claim({str(out)!r}); "
                               "print('held', flush=True); import time; time.sleep(60)"],
                              env=ENV, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        refused(["classify", "iris", "--rule", "nc_memristor", "--out", str(out)], capsys, "in use by another")
        refused(["evolve", str(ROOT / "evolve" / "error.toml"), "--out", str(out), "--workers", "0"], capsys,
                f"pid {holder.pid}")
    finally:
        holder.kill()
        holder.wait()
    assert (out / ".plastlab.lock").read_text().strip() == str(holder.pid)  # killed: its lock file stays ...
    from plastlab import outputs

    outputs.claim(out)  # ... and does not block: the kernel released the flock with the process
    outputs.release(out)
    assert not (out / ".plastlab.lock").exists()


def _state(**changes):
    from plastlab.evolve.campaign import CHECKPOINT_KEYS, content_digest

    state = {key: kind() if kind is not int else 0 for key, kind in CHECKPOINT_KEYS.items()}
    state.update({"population": [["a"]], "history": [{"generation": 0}], "cache_counts": [0, 0], **changes})
    state["content_digest"] = content_digest(state)  # recomputed, as by someone who edits the file
    return state


@pytest.mark.parametrize("changes, message", [
    ({"generation": -5, "history": []}, "negative"),
    ({"generation": 99}, "history of 1"),
    ({"history": [{"generation": 3}]}, "not 0, 1"),
    ({"evaluations": [{"generation": 7}]}, "evaluations must come"),
    ({"cache_counts": [5, 2]}, "hits <= lookups"),
    ({"population": []}, "non-empty"),
])
def test_a_checkpoint_that_does_not_hang_together_is_refused_despite_its_digest(tmp_path, changes, message):
    from plastlab.errors import ConfigError
    from plastlab.evolve.campaign import read_checkpoint

    path = tmp_path / "checkpoint.json"
    path.write_text(json.dumps(_state(**changes)))
    with pytest.raises(ConfigError, match=message):
        read_checkpoint(path, "")


def test_a_population_reordered_worst_first_is_refused():
    from types import SimpleNamespace

    from plastlab.errors import ConfigError
    from plastlab.evolve.campaign import check_population_order

    def ind(key, fitness):
        return SimpleNamespace(key=key, fitness=SimpleNamespace(values=(fitness,)))

    check_population_order([ind("a", 3.0), ind("b", 1.0), ind("a", 3.0)], 3, "c.json")  # duplicates last: fine
    with pytest.raises(ConfigError, match="not ordered best first"):
        check_population_order([ind("b", 1.0), ind("a", 3.0)], 2, "c.json")
    with pytest.raises(ConfigError, match="mu = 3"):
        check_population_order([ind("a", 3.0)], 3, "c.json")


# --- hangs: Brian2's parser behind the lab's own depth limit; every size bounded ----------------------------

def test_deeply_nested_calls_are_refused_at_once_by_rules_check(tmp_path, capsys):
    deep = "w + Apre"
    for _ in range(15):
        deep = f"clip({deep}, 0, 1)"
    start = time.perf_counter()
    refused(["rules", "check", rule_file(tmp_path, update=deep)], capsys, "nested 15 deep")
    assert time.perf_counter() - start < 5


def test_generated_code_past_the_limits_never_reaches_brian2():
    from plastlab.errors import RuleError
    from plastlab.rules.expressions import check_code

    check_code("clip(clip(w, 0, 1), 0, 1) + (((((x)))))")
    with pytest.raises(RuleError, match="nests function calls 9 deep"):
        check_code("exp(" * 9 + "x" + ")" * 9)
    with pytest.raises(RuleError, match="characters long"):
        check_code("x + " * 10_000 + "x")


@pytest.mark.parametrize("section, line, message", [
    ("[gp]", "mu = 1000000000", "'mu': must be <= 100000"),
    ("[gp]", "lambda = 1000000000", "'lambda': must be <= 100000"),
    ("[campaign]", "seed = " + "9" * 400, "integer of 400 digits"),
    ("[instances]", "train_seeds = [-1]", "'train_seeds[0]': must be >= 0"),
    ("[family]", "duration = 1e9", "'duration': 1e+09 s is outside"),
    ("[campaign]", "generations = 1000000000", "'generations': must be <= 1000000"),
])
def test_every_size_in_a_campaign_file_is_bounded(tmp_path, capsys, section, line, message):
    import re

    text = (ROOT / "evolve" / "error.toml").read_text()
    key = line.split("=")[0].strip()
    text = re.sub(rf"^{key}\s*=.*$\n", "", text, flags=re.M).replace(section, f"{section}\n{line}", 1)
    path = tmp_path / "bad.toml"
    path.write_text(text)
    refused(["evolve", str(path), "--workers", "0", "--out", str(tmp_path / "out")], capsys, message)
    assert not (tmp_path / "out").exists()  # refused: the directory made for the lock is gone again


def test_deeply_nested_toml_and_json_are_refused_before_the_parser_recurses(tmp_path, capsys):
    from plastlab.errors import ConfigError
    from plastlab.evolve.campaign import read_checkpoint

    (tmp_path / "nested.toml").write_text("[rule]\nname = \"nested\"\nx = " + "[" * 5000 + "]" * 5000 + "\n")
    refused(["rules", "check", str(tmp_path / "nested.toml")], capsys, "nested 5000 deep")
    path = tmp_path / "checkpoint.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ConfigError, match="nested 100000 deep"):
        read_checkpoint(path, "")


def test_csv_columns_and_fields_are_bounded(tmp_path, capsys):
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(["1"] * 20_001) + "\n" + ",".join(["2"] * 20_001) + "\n")
    refused(["classify", str(wide), "--rule", "nc_memristor"], capsys, "more than 10000")
    big = tmp_path / "field.csv"
    big.write_text("1," + "9" * 200_000 + ",a\n2,3,b\n")
    refused(["classify", str(big), "--rule", "nc_memristor"], capsys, "field larger than field limit")


# --- silent: refused or warned ----------------------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["classify", "iris", "--rule", "nc_memristor", "--set", "tau_m=1e-300"], "outside the range of times"),
    (["classify", "iris", "--rule", "nc_memristor", "--budget", "3"], "--budget only applies with --tune"),
    (["classify", "iris", "--rule", "nc_memristor", "--epochs", "0"], "--epochs must be between 1"),
    (["evolve", "evolve/error.toml", "--scheduler", ""], "--scheduler needs an address"),
    (["evolve", "evolve/error.toml", "--generations", "-1"], "--generations must be between 0"),
])
def test_settings_that_would_run_silently_wrong_are_refused(args, message, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    refused(args, capsys, message)


@pytest.mark.parametrize("changes, message", [
    ({"increment": "1e308*1e10"}, "larger than 1e+300"),
    ({"unit": "0*ms"}, "not a unit"),
])
def test_rules_with_infinite_constants_or_empty_units_are_refused(tmp_path, capsys, changes, message):
    refused(["rules", "check", rule_file(tmp_path, **changes)], capsys, message)


def test_a_negative_max_interval_is_refused(tmp_path, capsys):
    path = tmp_path / "win.toml"
    path.write_text('[rule]\nname = "win"\nsummary = "s"\n[window]\npotentiation = "0.01*exp(-delta_t/(20*ms))"\n'
                    'depression = "-0.01*exp(delta_t/(20*ms))"\nmax_interval = "-10*ms"\n')
    refused(["rules", "check", str(path)], capsys, "max_interval must be a positive time")


# --- checked too late: every output path before any work ------------------------------------------------------

def test_output_paths_that_cannot_be_written_are_refused_before_any_work(tmp_path, capsys):
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    for args, message in [
        (["classify", "iris", "--rule", "nc_memristor", "--out", "/proc/x"], "not a writable directory"),
        (["classify", "iris", "--rule", "nc_memristor", "--out", str(dangling)], "dangling symbolic link"),
        (["classify", "iris", "--rule", "nc_memristor", "--out", "x" * 5000], "longer than 1024"),
        (["rules", "window", "stdp_additive", "--plot", "/proc/x/w.png"], "not a writable directory"),
        (["rules", "window", "stdp_additive", "--plot", str(tmp_path / "w.xyz")], "must end in .png"),
        (["rules", "window", "stdp_additive", "--out", str(tmp_path / "w.txt")], "must end in .nc"),
    ]:
        start = time.perf_counter()
        refused(args, capsys, message)
        assert time.perf_counter() - start < 5, args


# --- internal errors that are refusals -------------------------------------------------------------------------

@pytest.mark.parametrize("changes, message", [
    ({"trace": "Min"}, "'Min' is a SymPy name"),
    ({"unit": "exp(ms)"}, "not a unit"),
    ({"unit": "1/0"}, "not a unit"),
    ({"increment": "9" * 400}, "integer of 400 digits"),
])
def test_rules_brian2_would_crash_on_are_refused_by_rules_check(tmp_path, capsys, changes, message):
    refused(["rules", "check", rule_file(tmp_path, **changes)], capsys, message)


@pytest.mark.parametrize("variable, message", [("lastspike", "reserved name"), ("v_post", "_pre/_post")])
def test_an_input_reading_a_reserved_neuron_variable_is_refused(tmp_path, capsys, variable, message):
    path = tmp_path / "inp.toml"
    path.write_text(RULE.format(name="inp", unit="1", trace="Apre", increment="0.01", update="clip(w + Apre, 0, 1)")
                    + f'[inputs]\nvv = {{ source = "post", variable = "{variable}", unit = "mV" }}\n')
    refused(["rules", "check", str(path)], capsys, message)


def test_one_broken_file_in_the_rule_path_does_not_break_rules_list(tmp_path, capsys, monkeypatch):
    (tmp_path / "broken.toml").write_text("[rule\n")
    (tmp_path / "surprise.toml").write_text(RULE.format(name="surprise", unit="1", trace="A", increment="1",
                                                        update="clip(w + A, 0, 1)"))
    monkeypatch.setenv("PLASTLAB_RULES", str(tmp_path))
    import plastlab.rules.files as files

    real = files.load_rule
    monkeypatch.setattr(files, "load_rule",
                        lambda p, **k: (_ for _ in ()).throw(ValueError("boom")) if "surprise" in str(p) else real(p))
    assert main(["rules", "list"]) == 0
    out = capsys.readouterr().out
    assert "broken" in out and "INVALID" in out and "surprise" in out and "ValueError: boom" in out
    assert "stdp_additive" in out


@pytest.mark.parametrize("args, message", [
    (["--dt-step", "nan"], "--dt-step must be a positive number"),
    (["--dt-range", "inf,inf"], "finite numbers"),
    (["--w0", ""], "--w0 expects"),
    (["--dt-step", "1e-9"], "spike pairs"),
])
def test_bad_window_options_are_refused(args, message, capsys):
    refused(["rules", "window", "stdp_additive", *args], capsys, message)


def test_default_w0_fits_every_rule_and_weights_with_units_are_asked_for_with_units(tmp_path, capsys):
    assert main(["rules", "window", "stdp_additive", "--dt-range", "-10,10", "--dt-step", "5"]) == 0
    assert "w0 0.005" in capsys.readouterr().out  # 50 % of [0, gmax = 0.01]: the default fits the bounds
    path = tmp_path / "ns.toml"
    path.write_text('[rule]\nname = "ns"\nsummary = "s"\n[parameters]\ngmax = "2*nS"\n[weight]\nunit = "nS"\n'
                    'min = "0*nS"\nmax = "gmax"\n[window]\npotentiation = "0.01*gmax*exp(-delta_t/(20*ms))"\n'
                    'depression = "-0.01*gmax*exp(delta_t/(20*ms))"\n')
    assert main(["rules", "window", str(path), "--dt-range", "-10,10", "--dt-step", "5"]) == 0
    capsys.readouterr()
    refused(["rules", "window", str(path), "--w0", "1e-9"], capsys, "give the unit")
    assert main(["rules", "window", str(path), "--w0", "1*nS", "--dt-range", "-10,10", "--dt-step", "5"]) == 0


# --- noise -------------------------------------------------------------------------------------------------------

def test_brian2s_sigint_wrapper_over_an_ignored_sigint_is_undone():
    """A Dask worker started with Ctrl-C ignored imports Brian2, whose handler would call SIG_IGN and crash."""
    import signal

    from plastlab.evolve.evaluate import _keep_sigint_ignored

    class Wrapper:
        previous_handler = signal.SIG_IGN

        def __call__(self, *args):
            raise AssertionError("called")

    previous = signal.signal(signal.SIGINT, Wrapper())
    try:
        _keep_sigint_ignored()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_dask_teardown_noise_is_dropped_and_other_unraisable_errors_are_not(capsys, monkeypatch):
    from types import SimpleNamespace

    from plastlab.cli.commands import _quiet_unraisable

    class Client:  # stands for distributed.Client
        pass

    Client.__module__ = "distributed.client"
    _quiet_unraisable(SimpleNamespace(object=Client(), exc_value=RuntimeError("x"), exc_type=RuntimeError,
                                      exc_traceback=None, err_msg=None))
    assert capsys.readouterr().err == ""
    seen = []
    monkeypatch.setattr(sys, "__unraisablehook__", seen.append)
    other = SimpleNamespace(object=object(), exc_value=RuntimeError("real"))
    _quiet_unraisable(other)
    assert seen == [other]


def test_diverging_candidates_do_not_print_brian2s_nan_warning():
    import logging

    from plastlab.evolve.evaluate import _candidates_may_diverge

    logger = logging.getLogger("brian2.groups.group.invalid_values")
    with _candidates_may_diverge():
        assert not logger.isEnabledFor(logging.WARNING)
    assert logger.level != logging.ERROR


# --- time constants: a parameter that divides as a time lies between 1 microsecond and 1e4 seconds ----------

TIMED = '[rule]\nname = "{name}"\nsummary = "s"\n[parameters]\n{params}\n[weight]\nunit = "1"\n{body}\n'
WINDOW_SHAPE = '[window]\npotentiation = "0.01*exp(-delta_t/tau)"\ndepression = "-0.01*exp(delta_t/(20*ms))"\n'


@pytest.mark.parametrize("params, body, message", [
    ('tau = "1e-300*ms"', '[continuous]\ndw_dt = "-w/tau"', "time constant 'tau' = 1e-303 s (divides in [continuous]"),
    ('tau = "-20*ms"', '[continuous]\ndw_dt = "-w/tau"', "must be a positive time between 1 microsecond"),
    ('tau = "1e9*second"', '[continuous]\ndw_dt = "-w/tau"', "and 1e4 seconds"),
    ('tau = "1e-12*ms"', WINDOW_SHAPE, "time constant 'tau' = 1e-15 s (divides in [window] 'potentiation')"),
    ('taus = "20*ms"\ntau = "1e-10*taus"', '[continuous]\ndw_dt = "-w/tau"', "time constant 'tau' = 2e-12 s"),
    ('tau = "1e-300*ms"\ngamma = "exp(-(1*ms)/tau)"', '[on_pre]\nstatements = ["w = clip(w*gamma, 0, 1)"]',
     "(divides in [parameters] 'gamma')"),
    ("", '[window]\npotentiation = "0.01*exp(-delta_t/(20*ms))"\ndepression = "-0.01*exp(delta_t/(20*ms))"\n'
     'max_interval = "1e9*second"', "max_interval must be a positive time between 1 microsecond and 1e4 seconds"),
    ("", '[traces]\nx = "-x/(20*ms)"\n[on_pre]\nstatements = ["x += 1"]\n[periodic]\ninterval = "1e5*second"\n'
     'statements = ["w = clip(w + x, 0, 1)"]', "at most 1e4 seconds"),
])
def test_absurd_time_constants_and_intervals_are_refused(tmp_path, capsys, params, body, message):
    path = tmp_path / "timed.toml"
    path.write_text(TIMED.format(name="timed", params=params, body=body))
    refused(["rules", "check", str(path)], capsys, message)


def test_the_trace_time_constant_of_a_rule_file_is_checked_and_a_signed_window_scale_is_not(tmp_path, capsys):
    path = Path(rule_file(tmp_path))
    path.write_text(path.read_text().replace('taupre = "20*ms"', 'taupre = "1e-300*ms"'))
    refused(["rules", "check", str(path)], capsys, f"{path}: [parameters]: time constant 'taupre'")
    assert main(["rules", "check", "nc_memristor"]) == 0  # tau_minus < 0 scales a tanh window: a fit's choice


# --- progress: train_acc without the teacher, bars on calibration and prediction, nothing else changed -------

def test_progress_shows_the_frozen_training_accuracy_and_changes_nothing(capsys):
    from sklearn.datasets import load_iris

    from plastlab import SpikingClassifier

    X, y = load_iris(return_X_y=True)
    runs = {}
    for progress in (False, True):
        clf = SpikingClassifier(epochs=2, calibrate=False, random_state=3, progress=progress).fit(X, y)
        runs[progress] = (clf.weights_, clf.predict(X), clf.train_accuracy_, clf.readout_scale_)
        err = capsys.readouterr().err
        shown = [float(part.split("=")[1][:5]) for part in err.replace("\r", "\n").split() if "train_acc=" in part]
        if not progress:
            assert err == ""
    for quiet, shown_run in zip(runs[False], runs[True]):
        np.testing.assert_array_equal(quiet, shown_run)  # bit-identical with the bar on and off
    # the last train_acc is the frozen network's accuracy on the training data with the final weights (readout
    # unscaled, teacher silent), which the taught train_accuracy_ (1.0 by construction here) is not
    assert shown and shown[-1] == pytest.approx(np.mean(runs[True][1] == y), abs=1e-3)
    assert set(runs[True][2]) == {1.0} and shown[-1] < 1.0
    assert "calibrating" in err and "predicting" in err
