"""The ``plastlab`` command: thin argument parsing over the library, and what a command line owes its user.

Bad input (a PlastlabError) is one line on stderr and exit 2; an internal failure a short message and exit 1
(``--debug`` shows the traceback); Ctrl-C (SIGINT) and SIGTERM stop promptly with one line and exit 130 / 143,
before any unfinished result is written; a closed pipe (``| head``) ends quietly.
"""
import argparse
import math
import os
import signal
import sys
from pathlib import Path

from .. import interrupts
from ..errors import PlastlabError
from ..interrupts import Terminated

DESCRIPTION = """plastlab: a laboratory for biologically plausible synaptic plasticity rules.

Rules live as equation files in rules/ (format: rules/README.md): list, show, check and characterise them
(plastlab rules), classify with them (plastlab classify), run experiment files (plastlab run experiments/...)
and evolve new ones (plastlab evolve evolve/...). Every command takes --help."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2), like every other refusal of plastlab; a command whose help should
    end with a table (its ``--set`` keys) sets ``help_table`` to a function that returns it, called only when the
    help is printed, so building the parser imports nothing."""

    help_table = None

    def error(self, message):
        self.exit(2, f"plastlab: error: {self.prog}: {message} (see {self.prog} --help)\n")

    def format_help(self):
        table = self.help_table() if self.help_table else ""
        return super().format_help() + (f"\n{table}\n" if table else "")


def main(argv=None):
    argv = _join_negative_ranges(sys.argv[1:] if argv is None else list(argv))
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    previous = interrupts.install([signal.SIGTERM])
    unraisable, sys.unraisablehook = sys.unraisablehook, _quiet_unraisable
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not hasattr(args, "handler"):
            parser.print_help()
            return 2
        refuse_brian_preferences_here()
        check_common_options(args)
        previous.update(_interrupts_stop_the_program())
        code = args.handler(args) or 0
        interrupts.raise_if_pending()  # a signal whose exception the garbage collector swallowed
        return code
    except PlastlabError as err:
        print(f"plastlab: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return _interrupted("SIGINT", 130)
    except Terminated:
        return _interrupted("SIGTERM", 143)
    except BrokenPipeError:
        _silence_stdout()
        return 141
    except Exception as err:  # an internal failure: say so briefly, keep the traceback for --debug
        if debug:
            raise
        print(f"plastlab: internal error: {type(err).__name__}: {err} (run again with --debug for the traceback)",
              file=sys.stderr)
        return 1
    finally:
        interrupts.restore(previous)
        sys.unraisablehook = unraisable
        if "plastlab.outputs" in sys.modules:  # the output directories this command locked
            sys.modules["plastlab.outputs"].release()
        _flush_quietly()


MAX_COUNT = 10**6  # folds, epochs, generations: beyond this a typo, not a plan
MAX_SEED = 2**31 - 1  # seeds are offset per fold / instance / worker and must stay valid numpy seeds


def check_common_options(args):
    """Options many commands share, checked before any work: seeds, worker counts, output paths."""
    from .. import outputs

    seed = getattr(args, "seed", None)
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise PlastlabError(f"--seed must be between 0 and {MAX_SEED}, got {seed}")
    workers = getattr(args, "workers", None)
    if workers is not None and workers < 0:
        raise PlastlabError(f"--workers must be 0 (this process) or more, got {workers}")
    for option, low in (("generations", 0), ("epochs", 1), ("folds", 2)):
        value = getattr(args, option, None)
        if value is not None and not low <= value <= MAX_COUNT:
            raise PlastlabError(f"--{option} must be between {low} and {MAX_COUNT}, got {value}")
    if getattr(args, "scheduler", None) is not None and not args.scheduler.strip():
        raise PlastlabError("--scheduler needs an address (tcp://HOST:PORT); leave it out for a local cluster")
    if not getattr(args, "tune", True):
        given = [f"--{o.replace('_', '-')}" for o in ("budget", "inner_folds") if getattr(args, o, None) is not None]
        if given:
            raise PlastlabError(f"{given[0]} only applies with --tune (the inner search); add --tune or leave it out")
    if getattr(args, "rule_out", None) is not None and getattr(args, "evaluate", None) is None:
        raise PlastlabError("--rule-out only applies with --evaluate (a campaign writes its champion to "
                            "DIR/champions/)")
    if getattr(args, "plot", None) is not None:
        outputs.check_output_path(args.plot, option="--plot", directory=False, suffixes=outputs.FIGURE_SUFFIXES)
    if getattr(args, "out", None) is not None:
        if getattr(args, "out_is_file", False):
            outputs.check_output_path(args.out, option="--out", directory=False,
                                      suffixes=getattr(args, "out_suffixes", (".nc",)))
        elif getattr(args, "handler", None) is not evolve_command or getattr(args, "evaluate", None) is None:
            outputs.claim(args.out)  # one run per directory: a second one with the same --out is refused


def refuse_brian_preferences_here():
    """Brian2 executes ./brian_preferences at import: refuse to import it from such a directory."""
    if "brian2" not in sys.modules and Path("brian_preferences").exists():
        raise PlastlabError(f"refusing to run in {Path.cwd()}: it holds a 'brian_preferences' file, which Brian2 "
                            "would execute at import; run plastlab from another directory")


def _interrupts_stop_the_program():
    """Brian2's default turns Ctrl-C into "stop this run early and go on", which would let a cut-short
    simulation produce results; the command line owns its process, so Ctrl-C stops the program instead."""
    import brian2

    brian2.prefs.core.stop_on_keyboard_interrupt = False
    # Brian2 wraps what it found (SIG_IGN under `&`); ours also notes the signal (plastlab.interrupts)
    return interrupts.install([signal.SIGINT])


def _quiet_unraisable(info):
    """Errors in ``__del__`` of Dask objects (a Client to a scheduler that answered garbage, tasks cut short by
    Ctrl-C) are reported once by the command itself; their "Exception ignored in ..." tracebacks are noise."""
    module = getattr(type(info.object), "__module__", "") or getattr(info.object, "__module__", "") or ""
    if str(module).startswith(("distributed", "tornado", "asyncio")) or isinstance(info.exc_value, KeyboardInterrupt):
        return
    sys.__unraisablehook__(info)


def _interrupted(name, code):
    import logging

    for noisy in ("asyncio", "distributed", "tornado"):  # tasks of a Dask client cut short log as they are dropped
        logging.getLogger(noisy).setLevel(logging.CRITICAL + 1)
    if "brian2" in sys.modules:  # objects dropped half-built would each log a warning at teardown
        from ..brian.adapters import quiet_console

        quiet_console()
    print(f"plastlab: interrupted by {name}: stopped; unfinished work was not written (finished parts and "
          "checkpoints are kept)", file=sys.stderr)
    return code


def _silence_stdout():
    """After a closed pipe, point stdout at /dev/null so that the interpreter's final flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _flush_quietly():
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        _silence_stdout()


def _join_negative_ranges(argv):
    """Let '--dt-range -100,100' through: argparse would read '-100,100' as an option."""
    joined = []
    for token in argv:
        if joined and joined[-1] in RANGE_OPTIONS and token.startswith("-"):
            joined[-1] = f"{joined[-1]}={token}"
        else:
            joined.append(token)
    return joined


RANGE_OPTIONS = {"--dt-range"}


def build_parser():
    parser = Parser(prog="plastlab", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
                    epilog="--debug (any command): show the traceback of an internal error")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=Parser)
    add_rules_commands(commands)
    add_evolve_command(commands)
    from .classify import add_classify_commands  # plastlab classify / plastlab run
    add_classify_commands(commands)
    from .report import add_report_command  # plastlab report
    add_report_command(commands)
    return parser


# --- plastlab rules ... --------------------------------------------------------------------------------------

def add_rules_commands(commands):
    rules = commands.add_parser("rules", help="list, show, check and characterise plasticity rules",
                                description="List, show, check and characterise plasticity rules.")
    sub = rules.add_subparsers(title="rule commands", metavar="ACTION")
    listing = sub.add_parser("list", help="one rule a line: name, form, summary and where it comes from "
                                          "($PLASTLAB_RULES, ./rules or the library shipped with plastlab)")
    listing.set_defaults(handler=rules_list)
    show = sub.add_parser("show", help="equations (text and LaTeX), parameters with units, generated Brian2 code")
    show.add_argument("rule", metavar="NAME|FILE")
    show.set_defaults(handler=rules_show)
    check = sub.add_parser("check", help="validate a rule file: prints ok, or one line saying what is wrong")
    check.add_argument("rule", metavar="FILE")
    check.set_defaults(handler=rules_check)
    window = sub.add_parser("window", help="simulate the spike-pair learning window in Brian2",
                            description="Simulate one pre/post spike pair per (Δt, w0) in Brian2 and write Δw "
                                        "as a NetCDF Dataset (dw over delta_t in ms and w0).")
    window.add_argument("rule", metavar="NAME|FILE")
    window.add_argument("--dt-range", default="-100,100", metavar="LO,HI", help="Δt range in ms (default -100,100)")
    window.add_argument("--dt-step", type=float, default=1.0, metavar="MS", help="Δt step in ms (default 1)")
    window.add_argument("--w0", default=None,
                        help="initial weights, comma-separated, in the rule's weight unit or with units (0.5*nS) "
                             "(default: 20, 50 and 80 %% of the way from the rule's w min to w max)")
    window.add_argument("--out", metavar="PATH.nc", help="write the Dataset here")
    window.add_argument("--plot", metavar="PATH.png", help="draw the window here")
    window.set_defaults(handler=rules_window, out_is_file=True)
    from .fit import add_fit_command  # plastlab rules fit
    add_fit_command(sub)
    from .protocol import add_protocol_command  # plastlab rules protocol
    add_protocol_command(sub, window=rules_window)


MAX_WINDOW_PAIRS = 200_000  # (Δt, w0) pairs of one `rules window`: a few seconds of simulation


def _numbers(text, option):
    """Comma-separated finite numbers (at least one), or a one-line refusal naming the option."""
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise PlastlabError(f"{option} expects comma-separated numbers, got '{text}'") from None
    if not values or not all(math.isfinite(v) for v in values):
        raise PlastlabError(f"{option} expects comma-separated finite numbers, got '{text}'")
    return values


def _initial_weights(rule, text):
    """--w0 as floats in SI units (what the protocol takes): plain numbers for a dimensionless weight, values with
    units (0.5*nS) for a weight with a unit; without --w0, 20, 50 and 80 % of the way from w min to w max."""
    import numpy as np
    from brian2 import get_unit
    from brian2.units.fundamentalunits import DIMENSIONLESS, get_dimensions

    from ..rules import expressions as ex

    lo, hi = (float(np.asarray(b / (get_unit(rule.weight.unit) if rule.weight.unit != DIMENSIONLESS else 1)))
              for b in (rule.w_min, rule.w_max))
    if text is None:
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise PlastlabError(f"rule '{rule.name}' has an unbounded weight range [{lo:g}, {hi:g}]: give --w0")
        return [lo + f * (hi - lo) for f in (0.2, 0.5, 0.8)]
    values = []
    for part in [p for p in text.split(",") if p.strip()][:MAX_WINDOW_PAIRS + 1]:
        try:
            value = ex.evaluate(ex.parse_expression(part, {}, section="--w0"), {})
        except PlastlabError as err:
            raise PlastlabError(f"--w0: {err}") from None
        if get_dimensions(value) not in (DIMENSIONLESS, rule.weight.unit):
            raise PlastlabError(f"--w0 {part.strip()}: the weight of rule '{rule.name}' is in "
                                f"{ex._show(rule.weight.unit)}")
        if get_dimensions(value) == DIMENSIONLESS and rule.weight.unit != DIMENSIONLESS and value != 0:
            raise PlastlabError(f"--w0 {part.strip()}: the weight of rule '{rule.name}' is in "
                                f"{ex._show(rule.weight.unit)}: give the unit, e.g. --w0 {part.strip()}*"
                                f"{_example_unit(rule)}")
        number = float(np.asarray(value))
        if not math.isfinite(number):
            raise PlastlabError(f"--w0 expects finite weights, got '{part.strip()}'")
        values.append(number)
    if not values:
        raise PlastlabError(f"--w0 expects comma-separated weights, got '{text}'")
    return values


def _example_unit(rule):
    from brian2 import get_unit

    return str(get_unit(rule.weight.unit)).split()[-1] if " " in str(get_unit(rule.weight.unit)) else \
        repr(get_unit(rule.weight.unit))


def rules_list(args):
    from ..rules.files import library_dir, load_rule, rule_origins

    library = library_dir()
    for name, path in rule_origins().items():
        origin = "library" if path.parent == library else str(path.parent)
        try:
            rule = load_rule(path)
            print(f"{name:24s} {rule.form:10s} {rule.summary}  [{origin}]")
        except PlastlabError as err:
            print(f"{name:24s} {'INVALID':10s} {err}  [{origin}]")
        except Exception as err:  # a file the checks did not foresee: listed as broken, the others still listed
            print(f"{name:24s} {'INVALID':10s} {path}: cannot be loaded ({type(err).__name__}: {err})  [{origin}]")


def rules_show(args):
    from ..brian.codegen import generate
    from ..rules.files import load_rule
    rule = load_rule(args.rule)
    print(f"{rule.name} ({rule.form})\n{rule.summary}\n{rule.citation}\n")
    print("Parameters:")
    for name, value in rule.parameters.items():
        print(f"  {name:14s} = {value}")
    print(f"  weight w in [{rule.w_min}, {rule.w_max}]" + ("" if rule.weight.clip else
          " (its nominal range; not clipped to it: the statements bound w as written, [weight] clip = false)"))
    for name, i in rule.inputs.items():
        print(f"  input {name} from {i.source}" + (f" variable {i.variable}" if i.source != "modulator" else ""))
    print("\nEquations:\n" + _indent(rule.equations_text()))
    print("\nLaTeX:\n" + _indent(rule.latex()))
    code = generate(rule)
    print("\nBrian2 code (what plastlab.synapses(rule, source, target) compiles):\n" + _indent(str(code)))
    if not rule.weight.transmit:
        print("  (no transmission: the rule does not declare [weight] transmit; networks pass their own)")


def _indent(text):
    return "\n".join("  " + line for line in text.splitlines())


def rules_check(args):
    from ..rules.files import load_rule
    load_rule(args.rule)
    print("ok")


def rules_window(args):
    from ..brian.protocols import pair_window, time_grid
    from ..plots import plot_window
    from ..rules.files import load_rule
    from ..store import write_dataset
    from .protocol import require_protocol_inputs

    bounds = _numbers(args.dt_range, "--dt-range")
    if len(bounds) != 2 or not bounds[0] < bounds[1]:
        raise PlastlabError(f"--dt-range expects LO,HI in ms with LO < HI, got '{args.dt_range}'")
    lo, hi = bounds
    if not (math.isfinite(args.dt_step) and args.dt_step > 0):
        raise PlastlabError(f"--dt-step must be a positive number of ms, got {args.dt_step}")
    rule = require_protocol_inputs(load_rule(args.rule))  # a teacher potential, a reward: refused before simulating
    w0 = _initial_weights(rule, args.w0)
    if (hi - lo) / args.dt_step * len(w0) > MAX_WINDOW_PAIRS:
        raise PlastlabError(f"--dt-range / --dt-step give more than {MAX_WINDOW_PAIRS} spike pairs: use a larger "
                            "--dt-step or fewer --w0 values")
    import numpy as np

    with np.errstate(all="ignore"):  # a rule undefined somewhere gives NaN there: counted below, not warned per pair
        ds = pair_window(rule, time_grid(lo, hi, args.dt_step), w0)
    undefined = window_summary(rule, ds)  # before anything is written: a window with no finite value is refused
    if args.out:
        write_dataset(ds, args.out)
        print(f"wrote {args.out}")
    if args.plot:
        plot_window(ds, args.plot)
        print(f"wrote {args.plot}")
    for line in undefined:
        print(line)


def window_summary(rule, ds):
    """The window's extremes as lines (printed after the files are written); a window whose every value is NaN
    or infinite is refused (PlastlabError naming the rule), one that is NaN somewhere says where."""
    import numpy as np

    dw = ds.dw.values
    finite = np.isfinite(dw)
    pairs = dw.size
    if not finite.any():
        example = "NaN" if np.isnan(dw).all() else "not finite"
        raise PlastlabError(f"rule '{rule.name}' gives no finite weight change for any of the {pairs} spike pairs "
                            f"(dw is {example} everywhere: its updates are undefined for these weights, e.g. a "
                            "division by zero or a power of a negative number)")
    masked = ds.dw.where(finite)
    peak = masked.isel(masked.argmax(...))
    trough = masked.isel(masked.argmin(...))
    lines = [f"max dw {float(peak):+.4g} at delta_t {float(peak.delta_t):g} ms, w0 {float(peak.w0):g}; "
             f"min dw {float(trough):+.4g} at delta_t {float(trough.delta_t):g} ms, w0 {float(trough.w0):g}"]
    if float(peak) == 0 and float(trough) == 0:
        lines.append(f"flat: dw = 0 for every {'finite ' if not finite.all() else ''}spike pair (rule '{rule.name}' "
                     "does not change w in this protocol)")
    if not finite.all():
        k, m = np.argwhere(~finite)[0]
        lines.append(f"dw is not finite (NaN or inf) for {int((~finite).sum())} of {pairs} spike pairs, e.g. at "
                     f"delta_t {float(ds.delta_t[k]):g} ms, w0 {float(ds.w0[m]):g}: the rule's updates are undefined "
                     "there (they are kept as NaN in the Dataset)")
    if "dw_analytic" in ds:
        both = finite & np.isfinite(ds.dw_analytic.values)
        gap = float(np.abs(dw - ds.dw_analytic.values)[both].max()) if both.any() else float("nan")
        lines.append(f"max |simulated - closed form| = {gap:.3g}"
                     + ("" if both.all() or not both.any() else " (where both are finite)"))
    return lines


# --- plastlab evolve ... -------------------------------------------------------------------------------------

def add_evolve_command(commands):
    ev = commands.add_parser(
        "evolve", help="evolve plasticity rules with genetic programming on a task family (evolve/*.toml)",
        description="Run an evolution campaign file (evolve/*.toml): DEAP μ+λ on a task family, candidates "
                    "scored in Brian2 on Dask workers. Writes DIR/campaign.nc, DIR/fitness.png, "
                    "DIR/champions/*.toml and a checkpoint after every generation.")
    ev.add_argument("campaign", metavar="FILE")
    ev.add_argument("--generations", type=int, metavar="N", help="generations after the initial one")
    ev.add_argument("--seed", type=int, metavar="S", help="GP seed (default: the file's [campaign] seed)")
    where = ev.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, metavar="N",
                       help="local Dask worker processes (default: all cores; 0: evaluate in this process)")
    where.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="use an existing Dask cluster")
    ev.add_argument("--out", metavar="DIR", help="results directory (default out/evolve-NAME-seedS)")
    ev.add_argument("--device", choices=("runtime", "cpp_standalone", "cuda_standalone"),
                    help="Brian2 device of the batched networks (default: the file's [evaluation] device, runtime); "
                         "cpp_standalone builds each network once and reruns it with new candidates")
    again = ev.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="continue from DIR/checkpoint.json")
    again.add_argument("--overwrite", action="store_true", help="replace the campaign already in DIR")
    ev.add_argument("--no-validate", action="store_true",
                    help="skip scoring champion and baselines on the validation instances at the end")
    ev.add_argument("--evaluate", metavar="EXPR",
                    help="only evaluate EXPR (in the family's input names) on the campaign's instances and print "
                         "per_instance and fitness; for the correlation family two expressions: \"F_FAC; F_DEP\"")
    ev.add_argument("--instances", choices=("train", "validation"), default="train",
                    help="with --evaluate: score on the training (default) or the validation instances")
    ev.add_argument("--rule-out", metavar="F.toml",
                    help="with --evaluate: also write the expression's rule file (the document a champion would be; "
                         "its rule name is the file's stem), checked before scoring")
    ev.set_defaults(handler=evolve_command)


def evolve_command(args):
    from .. import experiments  # noqa: F401 (registers the task families composed above the evolve floor)
    from ..evolve import campaign

    if args.evaluate is not None:
        expr, result = campaign.evaluate_expression(args.campaign, args.evaluate, instances=args.instances,
                                                    rule_out=args.rule_out)
        print(f"expression: {expr}")
        print(f"instances: {args.instances}")
        if result["reason"]:
            print(f"failed: {result['reason']} (worst fitness)")
        if result["per_instance"]:  # a candidate refused before simulating has no scores per instance
            print("per_instance: " + " ".join(f"{value:.6g}" for value in result["per_instance"]))
        print(f"fitness: {result['fitness']:.6g}")
        if result.get("rule_file"):
            print(f"wrote {result['rule_file']}")
        return 0
    camp, ds = campaign.run_campaign(args.campaign, generations=args.generations, seed=args.seed,
                                     workers=args.workers, scheduler=args.scheduler, out=args.out,
                                     resume=args.resume, overwrite=args.overwrite, validate=not args.no_validate,
                                     device=args.device)
    a = ds.attrs
    print(f"champion: {a['champion_expression']}")
    print(f"readable: {a['champion_readable']}")
    for key in sorted(a):
        if key.startswith(("train_fitness_", "validation_fitness_", "validation_instance_mean_")):
            print(f"{key}: {a[key]:.6g}")
    if "equivalence_c" in a:
        print(f"equivalence to {a['equivalence_reference']}: c = {a['equivalence_c']:.6g}, "
              f"R^2 = {a['equivalence_r2']:.6g} ({'equivalent' if a['equivalent_to_paper_rule'] else 'not equivalent'}"
              f" by c > 0 and R^2 >= 0.99)")
    print(f"results: {camp.out / 'campaign.nc'}")
    print(f"champion_fitness: {a['champion_fitness']:.6g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
