"""Champions are rules like any other: a champion of each family through every command that can drive it.

Champion files are written as ``plastlab evolve`` writes them (``campaign.write_rule_file``, what
``write_champion`` calls; ``--evaluate ... --rule-out`` for one), never by running a campaign. A correlation
champion is an ordinary trace rule: checked, shown, characterised (window, frequency), classified, run in any Brian2
network (``plastlab.synapses``) and on CartPole (slow). Error and reward champions name the input they need (a
teacher potential, a reward signal): the commands that cannot provide it refuse with that one line, exit 2, before
anything is simulated or written.
"""
import tomllib

import numpy as np
import pytest
import sympy as sp
from evolve_helpers import tiny_campaign

from plastlab.cli.commands import main
from plastlab.evolve import campaign
from plastlab.evolve.tasks import get_family
from plastlab.rules.files import load_rule

PAIR = "a pairing protocol (plastlab rules window, rules protocol)"
TEACHER = "needs a teacher potential 'v_teacher' (postsynaptic variable 'v_target'), which {} does not provide"
REWARD = "needs a reward signal 'reward' (a third factor), which {} does not provide (third factors offered: none)"


def champion(tmp_path, family, expr=None, params=None, seed=5):
    """The champion file a campaign of ``family`` (seed ``seed``) would write for ``expr`` (default: the paper's
    rule), through the campaign's own writer."""
    fam = get_family(family)
    name = f"evolved_{family}_seed{seed}"
    return campaign.write_rule_file(fam, fam.reference() if expr is None else expr,
                                    tmp_path / "champions" / f"{name}.toml", "a champion", params or {})


@pytest.fixture
def correlation_champion(tmp_path):
    return champion(tmp_path, "correlation")


def run(args, capsys):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def refused_with(args, capsys, line):
    code, out, err = run(args, capsys)
    assert code == 2, (out, err)
    assert err.count("\n") == 1 and line in err, err
    return err


# --- correlation: an ordinary trace rule -------------------------------------------------------------------------

def test_correlation_champion_is_an_ordinary_trace_rule_in_the_paper_s_weight_range(correlation_champion, capsys):
    rule = load_rule(correlation_champion)
    assert rule.form == "trace" and set(rule.traces) == {"kplus", "kminus"} and not rule.inputs and not rule.state
    assert (float(rule.w_min), float(rule.w_max)) == (0.0, 1.0) and rule.weight.clip is False
    assert run(["rules", "check", correlation_champion], capsys)[:2] == (0, "ok\n")
    code, out, _ = run(["rules", "show", correlation_champion], capsys)
    assert code == 0 and "weight w in [0, 1] (its nominal range; not clipped" in out
    assert "f_fac" not in out  # no placeholder of the batched network


def test_correlation_champion_file_runs_what_the_family_scored(tmp_path):
    """The paper's one-sided clipping as written ([weight] clip = false): a depression with f_dep < 0 carries the
    weights above 1 (the paper's run 9 does so), in the batched network and in the champion file alike."""
    from plastlab.evolve.tasks import programs

    fam = get_family("correlation")
    expr = sp.Tuple(sp.Integer(0), sp.Integer(-1))  # every pre spike: w = max(w + 0.01, 0)
    p = fam.params_with_defaults({"n_inputs": 30, "w_max": 0.1, "train": 0.05, "test": 0.05, "pattern": 10.0,
                                  "period": 20.0})  # 30 inputs of 0.1 mV: the neuron never fires
    inst = {"seed": 0, "steps": np.repeat([40, 60], 30), "indices": np.tile(np.arange(30), 2), "w_init": 1.0,
            "pattern_inputs": np.ones(30, dtype=bool), "v0_train": 0.0, "v0_readout": 0.0}
    batched = fam.run(p, [inst], fam.program_plasticity(p, programs.table([expr], fam.symbols()), 1))["w"][0]
    path = champion(tmp_path, "correlation", expr, p)
    from_file = fam.run(p, [inst], fam.rule_plasticity(load_rule(path)))["w"][0]
    np.testing.assert_allclose(batched, 1.02, rtol=1e-12)
    np.testing.assert_array_equal(from_file, batched)


def test_correlation_champion_window_and_frequency_protocol(correlation_champion, tmp_path, capsys):
    out_nc = tmp_path / "window.nc"
    code, out, err = run(["rules", "window", correlation_champion, "--dt-range", "-40,40", "--dt-step", "20",
                          "--out", out_nc], capsys)
    assert code == 0, err
    assert "max dw" in out and "max |simulated - closed form| = 0" in out and out_nc.is_file()
    code, out, err = run(["rules", "protocol", correlation_champion, "frequency", "--rho", "20",
                          "--pairings", "2"], capsys)
    assert code == 0, err
    assert "max |simulated - closed form|" in out


def test_the_classifier_and_cartpole_accept_a_correlation_champion(correlation_champion):
    """Their requirement check (the shared layer's offer) passes; the runs themselves are in the slow tier."""
    from plastlab.brian.layer import check_rule

    for network in ("the spiking classifier", "the CartPole controller"):
        assert check_rule(str(correlation_champion), network).name == "evolved_correlation_seed5"


@pytest.mark.slow
def test_correlation_champion_classifies(correlation_champion, tmp_path, capsys):
    """plastlab classify on a tiny CSV data set (numpy target: nothing to compile)."""
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    keep = np.concatenate([np.flatnonzero(y == c)[:6] for c in range(3)])  # 18 samples: a tiny CSV data set
    data = tmp_path / "tiny_iris.csv"
    np.savetxt(data, np.column_stack([X[keep], y[keep]]), delimiter=",", fmt="%g")
    code, out, err = run(["classify", data, "--rule", correlation_champion, "--folds", "2", "--epochs", "1",
                          "--set", "members=1", "--set", "n_fields=3", "--set", "target=numpy", "--no-progress",
                          "--out", tmp_path / "cls"], capsys)
    assert code == 0, err
    assert "F1-micro" in out and (tmp_path / "cls" / "results.nc").is_file()


def test_correlation_champion_in_any_brian2_network(correlation_champion):
    from brian2 import Hz, Network, NeuronGroup, PoissonGroup, ms
    from brian2.codegen.runtime.numpy_rt import NumpyCodeObject

    import plastlab

    rule = load_rule(correlation_champion)
    inputs = PoissonGroup(50, rates=40 * Hz, codeobj_class=NumpyCodeObject)
    neuron = NeuronGroup(1, "dv/dt = -v/(10*ms) : 1", threshold="v > 1", reset="v = 0", refractory=2 * ms,
                         codeobj_class=NumpyCodeObject)
    syn = plastlab.synapses(rule, inputs, neuron, transmit="v_post += 0.3*w", codeobj_class=NumpyCodeObject)
    syn.connect()
    syn.w = 0.5
    Network(inputs, neuron, syn).run(200 * ms, namespace={})
    weights = np.asarray(syn.w[:])
    assert np.all(np.isfinite(weights)) and np.ptp(weights) > 0


@pytest.mark.slow
def test_correlation_champion_on_cartpole(correlation_champion, tmp_path, capsys):
    """A few episodes of the CartPole experiment naming the champion (compiles the rule's Cython code once)."""
    experiment = tmp_path / "cartpole_champion.toml"
    experiment.write_text(f'[experiment]\nname = "cartpole_champion"\nkind = "cartpole"\n'
                          f'rule = "{correlation_champion.as_posix()}"\nepisodes = 2\nseed = 0\n\n'
                          "[controller]\nmax_steps = 15\n")
    code, out, err = run(["run", experiment, "--out", tmp_path / "cp"], capsys)
    assert code == 0, err
    assert "seed 0: 2 episodes" in out and (tmp_path / "cp" / "results.nc").is_file()


def test_window_of_a_rule_undefined_everywhere_is_refused_and_undefined_somewhere_says_where(tmp_path, capsys):
    """(k- - 1)**0.1 is NaN for every trace below 1 (C's pow): no finite window, refused before any file is written
    (this was the "All-NaN slice" internal error); k+/w is undefined at w0 = 0 only after a post-first pair."""
    fam = get_family("correlation")
    w, k = fam.symbols()
    nowhere = champion(tmp_path, "correlation", sp.Tuple(sp.Integer(0), (k - 1) ** sp.Rational(1, 10)), seed=1)
    out_nc = tmp_path / "nowhere.nc"
    refused_with(["rules", "window", nowhere, "--dt-range", "-20,20", "--dt-step", "10", "--out", out_nc], capsys,
                 "rule 'evolved_correlation_seed1' gives no finite weight change for any of the 15 spike pairs")
    assert not out_nc.exists()
    somewhere = champion(tmp_path, "correlation", sp.Tuple(k / w, sp.Integer(0)), seed=2)
    code, out, err = run(["rules", "window", somewhere, "--dt-range", "-20,20", "--dt-step", "10", "--w0", "0,0.5"],
                         capsys)
    assert code == 0, err
    assert "dw is not finite (NaN or inf) for 2 of 10 spike pairs, e.g. at delta_t -20 ms, w0 0" in out
    flat = champion(tmp_path, "correlation", sp.Tuple(sp.Integer(0), sp.Integer(0)), seed=3)
    code, out, err = run(["rules", "window", flat, "--dt-range", "-20,20", "--dt-step", "10"], capsys)
    assert code == 0 and "flat: dw = 0 for every spike pair" in out, err


def test_window_of_a_champion_with_a_power_of_its_trace(tmp_path, capsys):
    """A tiny campaign's real champion (4/5 - w, 10/10**trace): its closed form raises 10 to an array of traces."""
    w, k = get_family("correlation").symbols()
    path = champion(tmp_path, "correlation", sp.Tuple(sp.Rational(4, 5) - w, 10 / 10 ** k), seed=4)
    code, out, err = run(["rules", "window", path, "--dt-range", "-20,20", "--dt-step", "10"], capsys)
    assert code == 0, err
    assert "max |simulated - closed form| = " in out and "e-1" in out.splitlines()[-1]


# --- error and reward: they name the input they need ----------------------------------------------------------------

@pytest.mark.parametrize("family, line", [("error", TEACHER), ("reward", REWARD)])
def test_error_and_reward_champions_are_refused_where_their_input_does_not_exist(family, line, tmp_path, capsys):
    path = champion(tmp_path, family)
    name = f"rule 'evolved_{family}_seed5' "
    assert run(["rules", "check", path], capsys)[:2] == (0, "ok\n")
    code, out, _ = run(["rules", "show", path], capsys)
    assert code == 0 and "input" in out
    refused_with(["classify", "iris", "--rule", path, "--out", tmp_path / "cls"], capsys,
                 name + line.format("the spiking classifier"))
    assert not (tmp_path / "cls" / "results.nc").exists()
    for args in (["rules", "window", path, "--w0", "0.5"], ["rules", "protocol", path, "frequency", "--w0", "0.5"]):
        refused_with(args, capsys, name + line.format(PAIR))
    experiment = tmp_path / "cartpole_champion.toml"
    experiment.write_text(f'[experiment]\nname = "cp"\nkind = "cartpole"\nrule = "{path.as_posix()}"\nepisodes = 1\n')
    refused_with(["run", experiment, "--out", tmp_path / "cp"], capsys, name + line.format("the CartPole controller"))


# --- plastlab evolve --evaluate EXPR --rule-out F.toml ---------------------------------------------------------------

def test_evaluate_rule_out_writes_the_champion_document(tmp_path, capsys):
    camp = tiny_campaign(tmp_path, duration=0.5)
    out = tmp_path / "delta.toml"
    code, printed, err = run(["evolve", camp, "--evaluate", "pre_trace*(v_teacher - v_student)", "--rule-out", out],
                             capsys)
    assert code == 0, err
    assert f"wrote {out}" in printed
    rule = load_rule(out)
    fam = get_family("error")
    from plastlab.rules.expressions import canonical

    expected = campaign.rule_document(fam, canonical(fam.reference()), "delta", "", {"duration": 0.5, "t_drop": 0.2})
    written = tomllib.loads(out.read_text())
    assert {k: v for k, v in expected.items() if k != "rule"} == {k: v for k, v in written.items() if k != "rule"}
    assert rule.name == "delta" and "fitness" in rule.summary
    refused_with(["classify", "iris", "--rule", out], capsys,
                 "rule 'delta' " + TEACHER.format("the spiking classifier"))


@pytest.mark.parametrize("rule_out, message", [
    ("x.txt", "must end in .toml"),
    ("bad-name.toml", "'bad-name.toml' cannot name a rule"),
    ("no/x.toml", "not a writable directory"),  # its folder "no" is a file
])
def test_rule_out_is_checked_before_anything_is_scored(rule_out, message, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(campaign, "evaluate_task", lambda *a, **k: pytest.fail("scored before the path was checked"))
    camp = tiny_campaign(tmp_path)
    (tmp_path / "no").write_text("a file, not a folder")
    code, _, err = run(["evolve", camp, "--evaluate", "pre_trace", "--rule-out", tmp_path / rule_out], capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert message is None or message in err, err
    code, _, err = run(["evolve", camp, "--rule-out", tmp_path / "x.toml"], capsys)
    assert code == 2 and "--rule-out only applies with --evaluate" in err
