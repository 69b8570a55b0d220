"""Bad-input sweep (issue 27): run plastlab as a new user would, with bad input of every kind, and count outcomes.

    python benchmarks/bad_input_sweep.py [--timeout S] [--only SUBSTRING]

Each probe is one `plastlab ...` subprocess in a scratch directory. Outcomes: clean (exit 2, one line on stderr),
internal (exit 1: an uncaught exception), traceback (a "Traceback" on stderr), hang (no end within the timeout),
silent (exit 0 where a refusal was expected), other (any other exit code). Prints one line per probe that was not
clean and the counts.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
RULE = """[rule]
name = "{name}"
summary = "s"
[parameters]
taupre = "{tau}"
[weight]
unit = "{unit}"
[traces]
{trace} = "-{trace}/taupre"
[on_pre]
statements = ["{trace} += {inc}"]
[on_post]
statements = ["w = {update}"]
"""
WINDOW = """[rule]
name = "{name}"
summary = "s"
[window]
potentiation = "{pot}"
depression = "-0.01*exp(delta_t/(20*ms))"
max_interval = "{interval}"
"""


def nest(fn, depth, inner="w + Apre", extra=", 0, 1"):
    for _ in range(depth):
        inner = f"{fn}({inner}{extra})"
    return inner


def rule_probes():
    """(label, fields) of rule files that must be refused by `rules check` (and by `rules window`)."""
    base = dict(tau="20*ms", unit="1", trace="Apre", inc="0.01", update="clip(w + Apre, 0, 1)")
    cases = [
        ("trace Min", dict(trace="Min")), ("trace Max", dict(trace="Max")), ("trace beta", dict(trace="beta")),
        ("trace S", dict(trace="S")), ("trace Q", dict(trace="Q")), ("trace Abs", dict(trace="Abs")),
        ("trace factor", dict(trace="factor")), ("trace lastspike", dict(trace="lastspike")),
        ("trace v_post", dict(trace="v_post")), ("trace t", dict(trace="t")), ("trace exp", dict(trace="exp")),
        ("unit exp(ms)", dict(unit="exp(ms)")), ("unit 1/0", dict(unit="1/0")), ("unit 0*ms", dict(unit="0*ms")),
        ("unit -1*mV", dict(unit="-1*mV")), ("unit inf", dict(unit="inf")), ("unit log(0)", dict(unit="log(0)")),
        ("unit ms**100", dict(unit="ms**100")), ("unit foo", dict(unit="foo")), ("unit ''", dict(unit="")),
        ("400 digits", dict(inc="9" * 400)), ("5000 digits", dict(inc="9" * 5000)),
        ("1e308*1e10", dict(inc="1e308*1e10")), ("1e300*1e300", dict(inc="1e300*1e300")),
        ("2**1000", dict(inc="2**1000")), ("10**400", dict(inc="10**400")),
        ("tau 1e-300*ms", dict(tau="1e-300*ms")), ("tau 0*ms", dict(tau="0*ms")), ("tau -20*ms", dict(tau="-20*ms")),
        ("tau 1e308*1e10*ms", dict(tau="1e308*1e10*ms")), ("tau exp(1000)*ms", dict(tau="exp(1000)*ms")),
        ("clip 15 deep", dict(update=nest("clip", 15))), ("clip 40 deep", dict(update=nest("clip", 40))),
        ("clip 8 deep", dict(update=nest("clip", 8))),
        ("minimum 14 deep", dict(update=nest("minimum", 14, "w", ", 1"))),
        ("exp 12 deep", dict(update=nest("exp", 12, "w", ""))), ("abs 20 deep", dict(update=nest("abs", 20, "w", ""))),
        ("parens 41 deep", dict(update="(" * 41 + "w" + ")" * 41)), ("3000 chars", dict(update="w" + "+w" * 1500)),
        ("w = 1/0", dict(update="1/0")), ("w += inf", dict(update="w + inf")),
        ("__import__", dict(update="__import__('os')")), ("lambda", dict(update="(lambda: 1)()")),
        ("attribute", dict(update="w.real")), ("string", dict(update="'a'")),
        ("unknown fn", dict(update="erf(w)")), ("keyword arg", dict(update="clip(w, lo=0, hi=1)")),
        ("unknown symbol", dict(update="w + q")),
    ]
    return [(label, dict(base, **change)) for label, change in cases]


def window_probes():
    return [("max_interval -10*ms", dict(pot="0.01*exp(-delta_t/(20*ms))", interval="-10*ms")),
            ("max_interval 0*ms", dict(pot="0.01*exp(-delta_t/(20*ms))", interval="0*ms")),
            ("max_interval 1", dict(pot="0.01*exp(-delta_t/(20*ms))", interval="1")),
            ("window 1e308*1e10", dict(pot="1e308*1e10*exp(-delta_t/(20*ms))", interval="100*ms")),
            ("window clip 15", dict(pot=nest("clip", 15, "delta_t/ms"), interval="100*ms"))]


TIMED = """[rule]
name = "{name}"
summary = "s"
[parameters]
{params}
[weight]
unit = "1"
{body}
"""
CONTINUOUS = '[continuous]\ndw_dt = "-w/tau"'
PERIODIC = ('[traces]\nx = "-x/(20*ms)"\n[on_pre]\nstatements = ["x += 1"]\n[periodic]\ninterval = "{interval}"\n'
            'statements = ["w = clip(w + x, 0, 1)"]')
SHAPE = '[window]\npotentiation = "0.01*exp(-delta_t/tau)"\ndepression = "-0.01*exp(delta_t/(20*ms))"'


def time_probes():
    """(label, parameters, body) of rules whose time constants or intervals are absurd: each must be refused."""
    return [("continuous tau 1e-300*ms", 'tau = "1e-300*ms"', CONTINUOUS),
            ("continuous tau -20*ms", 'tau = "-20*ms"', CONTINUOUS),
            ("continuous tau 1e9*second", 'tau = "1e9*second"', CONTINUOUS),
            ("window tau 1e-12*ms", 'tau = "1e-12*ms"', SHAPE),
            ("window tau 1e20*ms", 'tau = "1e20*ms"', SHAPE),
            ("derived tau 1e-10*taus", 'taus = "20*ms"\ntau = "1e-10*taus"', CONTINUOUS),
            ("gamma from tau 1e-300*ms", 'tau = "1e-300*ms"\ngamma = "exp(-(1*ms)/tau)"',
             '[on_pre]\nstatements = ["w = clip(w*gamma, 0, 1)"]'),
            ("periodic interval 1e5*second", "", PERIODIC.format(interval="1e5*second")),
            ("periodic interval 1e-300*ms", "", PERIODIC.format(interval="1e-300*ms")),
            ("max_interval 1e9*second", "", '[window]\npotentiation = "0.01*exp(-delta_t/(20*ms))"\n'
             'depression = "-0.01*exp(delta_t/(20*ms))"\nmax_interval = "1e9*second"'),
            ("max_interval 1e-300*ms", "", '[window]\npotentiation = "0.01*exp(-delta_t/(20*ms))"\n'
             'depression = "-0.01*exp(delta_t/(20*ms))"\nmax_interval = "1e-300*ms"')]


def probes(tmp):
    """(label, args, expect) with expect 'refuse' (exit 2 wanted)."""
    out = []
    for k, (label, params, body) in enumerate(time_probes()):
        path = tmp / f"timed{k}.toml"
        path.write_text(TIMED.format(name=f"timed{k}", params=params, body=body))
        out.append((f"rules check: {label}", ["rules", "check", str(path)]))
    out.append(("classify iris --progress (train_acc without the teacher)",
                ["classify", "iris", "--rule", "nc_memristor", "--folds", "2", "--epochs", "1"], "ok",
                {}))
    for k, (label, fields) in enumerate(rule_probes()):
        path = tmp / f"rule{k}.toml"
        path.write_text(RULE.format(name=f"rule{k}", **fields))
        out.append((f"rules check: {label}", ["rules", "check", str(path)]))
        out.append((f"rules window: {label}", ["rules", "window", str(path), "--dt-range", "-5,5"]))
    for k, (label, fields) in enumerate(window_probes()):
        path = tmp / f"win{k}.toml"
        path.write_text(WINDOW.format(name=f"win{k}", **fields))
        out.append((f"rules check: {label}", ["rules", "check", str(path)]))
    nested = tmp / "nested.toml"
    nested.write_text('[rule]\nname = "nested"\nx = ' + "[" * 5000 + "]" * 5000 + "\n")
    out.append(("rules check: TOML nested 5000", ["rules", "check", str(nested)]))
    table = tmp / "tables.toml"
    table.write_text("[rule]\nname = \"tables\"\n[" + ".".join(["a"] * 3000) + "]\n")
    out.append(("rules check: 3000 dotted tables", ["rules", "check", str(table)]))
    lib = tmp / "lib"
    lib.mkdir()
    (lib / "broken.toml").write_text("[rule\n")
    (lib / "unit.toml").write_text(RULE.format(name="unit", tau="20*ms", unit="exp(ms)", trace="A", inc="1",
                                               update="clip(w + A, 0, 1)"))
    out.append(("rules list with broken files", ["rules", "list"], "ok", {"PLASTLAB_RULES": str(lib)}))
    w = ["rules", "window", "stdp_additive"]
    for args in (["--dt-step", "nan"], ["--dt-step", "inf"], ["--dt-step", "0"], ["--dt-step", "-1"],
                 ["--dt-step", "1e-9"], ["--dt-range", "inf,inf"], ["--dt-range", "nan,1"], ["--dt-range", "5,-5"],
                 ["--dt-range", "1"], ["--dt-range", "1,2,3"], ["--dt-range", "a,b"], ["--w0", ""], ["--w0", "nan"],
                 ["--w0", "inf"], ["--w0", "5"], ["--w0", "1*nS"], ["--w0", "__import__('os')"],
                 ["--out", str(tmp / "w.txt")], ["--out", "/proc/x.nc"], ["--plot", str(tmp / "w.xyz")],
                 ["--plot", "/proc/x/w.png"], ["--out", "x" * 5000 + ".nc"], ["--out", str(tmp)]):
        out.append((f"rules window {' '.join(args)[:40]}", w + args))
    dangling = tmp / "dangling"
    dangling.symlink_to(tmp / "nowhere")
    c = ["classify", "iris", "--rule", "nc_memristor"]
    for args in (["--set", "tau_m=1e-300"], ["--set", "tau_m=1e300"], ["--set", "dt=nan"], ["--set", "t_gap=1e12"],
                 ["--set", "epochs=" + "9" * 400], ["--set", "n_fields=0"], ["--set", "tau_syn=-1"],
                 ["--budget", "3"], ["--inner-folds", "3"], ["--epochs", "0"], ["--epochs", "-1"],
                 ["--epochs", "10000000"], ["--folds", "1"], ["--folds", "100000000"], ["--seed", "-1"],
                 ["--seed", "9" * 30], ["--out", "/proc/x"], ["--out", str(dangling)], ["--out", "x" * 5000],
                 ["--out", "a" * 300], ["--out", ""], ["--rule", "Min"], ["--tune", "--budget", "0"]):
        out.append((f"classify {' '.join(args)[:40]}", c + args))
    wide = tmp / "wide.csv"
    wide.write_text(",".join(["1"] * 200_000) + "\n" + ",".join(["2"] * 200_000) + "\n")
    field = tmp / "field.csv"
    field.write_text("1," + "9" * 200_000 + ",a\n2,3,b\n")
    nul = tmp / "nul.csv"
    nul.write_bytes(b"1,2,a\n3,\x00,b\n")
    for path in (wide, field, nul):
        out.append((f"classify {path.name}", ["classify", str(path), "--rule", "nc_memristor"]))
    camp = (ROOT / "evolve" / "error.toml").read_text()
    import re

    for section, line in (("[gp]", "mu = 1000000000"), ("[gp]", "lambda = 1000000000"), ("[gp]", "initial = 10000000"),
                          ("[gp]", "max_height = 100000"), ("[gp]", "tournament = 100000000"),
                          ("[gp]", "constants = [1e308]"), ("[campaign]", "seed = " + "9" * 400),
                          ("[campaign]", "seed = -1"), ("[campaign]", "generations = 1000000000"),
                          ("[instances]", "train_seeds = [-1]"), ("[instances]", "train_seeds = [" + "9" * 400 + "]"),
                          ("[family]", "duration = 1e9"), ("[family]", "tau_m = 1e-300"),
                          ("[family]", "duration = 1e-300"), ("[evaluation]", "batch_size = 1000000000"),
                          ("[campaign]", 'name = "' + "x" * 5000 + '"'),
                          ("[campaign]", "deep = " + "[" * 3000 + "]" * 3000)):
        key = line.split("=")[0].strip()
        text = re.sub(rf"^{key}\s*=.*$\n", "", camp, flags=re.M).replace(section, f"{section}\n{line}", 1)
        path = tmp / f"camp{len(out)}.toml"
        path.write_text(text)
        out.append((f"evolve {section} {line[:30]}", ["evolve", str(path), "--workers", "0", "--out",
                                                       str(tmp / f"o{len(out)}")]))
    e = ["evolve", str(ROOT / "evolve" / "error.toml")]
    for args in (["--scheduler", ""], ["--scheduler", "   "], ["--scheduler", "http://x"], ["--generations", "-1"],
                 ["--generations", "10000000000"], ["--workers", "-1"], ["--seed", "-5"], ["--out", "/proc/x"],
                 ["--out", "x" * 5000], ["--out", str(dangling)], ["--evaluate", "__import__('os')"],
                 ["--evaluate", "v_post"], ["--evaluate", "1e308*1e10*pre_trace"],
                 ["--evaluate", nest("abs", 12, "pre_trace", "")], ["--evaluate", "9" * 400 + "*pre_trace"],
                 ["--resume", "--out", str(tmp / "none")]):
        out.append((f"evolve {' '.join(args)[:40]}", e + args))
    exp = tmp / "exp.toml"
    exp.write_text('[experiment]\nname = "x"\nkind = "classification"\nfolds = ' + "9" * 400 + '\n')
    out.append(("run folds 400 digits", ["run", str(exp), "--out", str(tmp / "r")]))
    deep = tmp / "deep.toml"
    deep.write_text('[experiment]\nname = "x"\nkind = "classification"\nx = ' + "[" * 3000 + "]" * 3000 + "\n")
    out.append(("run nested TOML", ["run", str(deep), "--out", str(tmp / "r2")]))
    out.append(("run --out /proc/x", ["run", str(ROOT / "experiments" / "iris.toml"), "--out", "/proc/x"]))
    return [p if len(p) == 4 else (*p, "refuse", {}) if len(p) == 2 else (*p, {}) for p in out]


def classify(proc, expect, seconds, timeout):
    if proc is None:
        return "hang"
    err = proc.stderr.strip()
    if "Traceback" in err:
        return "traceback"
    if proc.returncode == 1 or "internal error" in err:
        return "internal"
    if expect == "ok":
        return "clean" if proc.returncode == 0 and "Traceback" not in err else "other"
    if proc.returncode == 2 and len(err.splitlines()) == 1:
        return "clean"
    if proc.returncode == 0:
        return "silent"
    return "other"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    counts = {}
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        todo = [p for p in probes(tmp) if args.only in p[0]]
        for label, argv, expect, env in todo:
            start = time.perf_counter()
            try:
                proc = subprocess.run([sys.executable, "-m", "plastlab", *argv], cwd=tmp, env=dict(ENV, **env),
                                      capture_output=True, text=True, timeout=args.timeout)
            except subprocess.TimeoutExpired:
                proc = None
            kind = classify(proc, expect, time.perf_counter() - start, args.timeout)
            counts[kind] = counts.get(kind, 0) + 1
            if kind != "clean":
                detail = "" if proc is None else (proc.stderr.strip().splitlines() or [""])[-1][:150]
                print(f"{kind:9s} {label}: exit {None if proc is None else proc.returncode} {detail}", flush=True)
    print(f"tried {len(todo)}: " + ", ".join(f"{k} {counts.get(k, 0)}" for k in
                                             ("clean", "internal", "traceback", "hang", "silent", "other")))


if __name__ == "__main__":
    main()
