"""``plastlab rules fit``: a rule's parameters fitted to measured weight changes (:mod:`plastlab.rules.fit`).

Everything is checked before the fit starts (rule, data, parameters, bounds, output paths); problems are
PlastlabErrors, printed as one line with exit code 2.
"""
import shlex
from pathlib import Path


def add_fit_command(sub):
    fit = sub.add_parser(
        "fit", help="fit a rule's parameters to measured weight changes (weighted least squares on its window)",
        description="Weighted least squares (SciPy) of RULE's closed-form pair window to DATA.csv (header with "
                    "delta_t in ms (post - pre), w0, dw, optional dw_sd; other columns ignored) over the chosen "
                    "parameters within bounds, from several starts. Prints estimates with standard errors and "
                    "correlations, R², AIC and BIC; --out writes the fitted rule file (its [metadata.fit] has the "
                    "data's sha256, the fit quality and this command), --plot the data, fit and residuals. With "
                    "--symbolic DATA.csv (no RULE) the window's form is discovered instead, by the GP engine.")
    fit.add_argument("rule", metavar="RULE", help="rule name or rule file (window rules, event-driven trace rules); "
                                                  "with --symbolic: the measurements, DATA.csv")
    fit.add_argument("data", metavar="DATA.csv", nargs="?", default=None,
                     help="measurements: a header with delta_t (ms, post - pre), w0 (the weight before, in the "
                          "rule's unit), dw and optionally dw_sd (> 0; weights 1/sd²); other columns are ignored")
    fit.add_argument("--symbolic", action="store_true",
                     help="no RULE: discover the window's form with the GP engine (plastlab rules fit --symbolic "
                          "DATA.csv; one campaign per sign of delta_t, scored in closed form)")
    fit.add_argument("--generations", type=int, default=30, metavar="N",
                     help="--symbolic: generations per branch (default 30)")
    fit.add_argument("--campaign-dir", default=None, metavar="DIR",
                     help="--symbolic: the campaigns' folder, one campaign per branch in DIR/potentiation and "
                          "DIR/depression (default out/fit-DATA-seedS)")
    fit.add_argument("--resume", action="store_true",
                     help="--symbolic: continue the campaigns in --campaign-dir from their checkpoints (same --seed; "
                          "--generations may be raised): the result of an uninterrupted run")
    fit.add_argument("--overwrite", action="store_true", help="--symbolic: replace campaigns in --campaign-dir")
    fit.add_argument("--params", default=None, metavar="P1,P2,...",
                     help="parameters to fit, comma-separated (default: every free parameter of the window); the "
                          "others keep the rule's values")
    fit.add_argument("--bounds", action="append", default=[], metavar="P=LO:HI",
                     help="bounds of a fitted parameter in display units (ms for times, 1/ms for rates); an empty "
                          "side is unbounded, e.g. tau_plus=1:100 or a_plus=0: (repeatable; default unbounded)")
    fit.add_argument("--starts", type=int, default=8, metavar="N",
                     help="starting points (default 8: the rule's values and 7 random points, uniform within finite "
                          "bounds, around the rule's values otherwise)")
    fit.add_argument("--seed", type=int, default=0,
                     help="seed of the random starts; with --symbolic, of the GP campaigns (default 0)")
    fit.add_argument("--out", dest="out_rule", metavar="NEW.toml", default=None,
                     help="write the fitted rule file here (the rule is named after the file; it passes `rules check`)")
    fit.add_argument("--plot", metavar="F.png", default=None,
                     help="write data, fitted window and weighted residuals here (not with --symbolic)")
    fit.set_defaults(handler=fit_command)


def fit_command(args):
    from ..errors import ConfigError
    from ..rules.files import load_rule
    from ..rules.fit import check_fit, fit_rule, fitted_document, free_parameters, parse_bounds, read_measurements

    if args.symbolic:
        return symbolic_command(args)
    for flag, given in (("--generations", args.generations != 30), ("--campaign-dir", args.campaign_dir),
                        ("--resume", args.resume), ("--overwrite", args.overwrite)):
        if given:
            raise ConfigError("only with --symbolic (a least-squares fit runs no campaign)", key=flag)
    if args.data is None:
        raise ConfigError("needs RULE and DATA.csv (or --symbolic DATA.csv)", key="DATA.csv")
    rule = load_rule(args.rule)
    data = read_measurements(args.data)
    names = [p.strip() for p in args.params.split(",") if p.strip()] if args.params else free_parameters(rule)
    bounds = parse_bounds(args.bounds)
    if args.starts < 1:
        raise ConfigError(f"must be >= 1, got {args.starts}", key="--starts")
    check_fit(rule, data, names, bounds)
    out = _out_rule(args)
    if args.plot and not Path(args.plot).parent.is_dir():
        raise ConfigError(f"no directory '{Path(args.plot).parent}'", key="--plot")
    result = fit_rule(rule, data, params=names, bounds=bounds, starts=args.starts, seed=args.seed)
    print(f"{rule.name} fitted to {data.path} ({data.n} points, sha256 {data.sha256[:12]}...)")
    print(result.table())
    if out is not None:
        import tomli_w

        from ..store import atomic_write_text

        doc = fitted_document(result, out.stem, _command(args))
        atomic_write_text(out, tomli_w.dumps(doc))
        load_rule(out)  # the written file passes `rules check`
        print(f"wrote {out}")
    if args.plot:
        from ..rules.fit import plot_fit

        plot_fit(result, args.plot)
        print(f"wrote {args.plot}")
    return 0


def _out_rule(args):
    from ..errors import ConfigError
    from ..rules.checks import check_new_name

    out = Path(args.out_rule) if args.out_rule else None
    if out is not None:
        if out.suffix != ".toml":
            raise ConfigError(f"the fitted rule file must end in .toml, got '{out}'", key="--out")
        check_new_name(out.stem, "rule")
        if not out.parent.is_dir():
            raise ConfigError(f"no directory '{out.parent}'", key="--out")
    return out


def symbolic_command(args):
    """``rules fit --symbolic DATA.csv``: the fit family's campaigns (evolve/tasks/fit.py), champion as a rule."""
    import tomli_w

    from ..errors import ConfigError
    from ..evolve.symbolic_fit import symbolic_fit
    from ..evolve.tasks import fit as family
    from ..evolve.tasks.fit import family_params
    from ..rules.files import load_rule
    from ..rules.fit import read_measurements
    from ..store import atomic_write_text

    if args.data is not None:
        raise ConfigError("--symbolic takes DATA.csv only (no RULE: the form is what it finds)", key="--symbolic")
    for flag, given in (("--params", args.params), ("--bounds", args.bounds), ("--starts", args.starts != 8),
                        ("--plot", args.plot)):
        if given:
            raise ConfigError("only for a least-squares fit of a RULE, not with --symbolic" + (
                " (its figures are the campaigns' fitness.png)" if flag == "--plot" else ""), key=flag)
    data = read_measurements(args.rule)
    if not (data.delta_t > 0).any() or not (data.delta_t < 0).any():
        raise ConfigError(f"{data.path}: --symbolic needs delta_t of both signs (a window has two branches)",
                          key="DATA.csv")
    if args.generations < 0:
        raise ConfigError(f"must be >= 0, got {args.generations}", key="--generations")
    out = _out_rule(args)
    folder = Path(args.campaign_dir or f"out/fit-{Path(data.path).stem}-seed{args.seed}")
    name = out.stem if out is not None else f"fit_{Path(data.path).stem}"
    pair, _ = symbolic_fit(data, folder, name=name, seed=args.seed, generations=args.generations,
                           resume=args.resume, overwrite=args.overwrite)
    summary = f"window discovered from {Path(data.path).name} by plastlab rules fit --symbolic (seed {args.seed})"
    doc = family.rule_document(pair, name, summary, family_params(data))
    doc["metadata"]["fit"]["command"] = " ".join(shlex.quote(p) for p in ["plastlab", "rules", "fit", "--symbolic",
                                                                             args.rule, "--seed", str(args.seed),
                                                                             "--generations", str(args.generations)])
    fit = doc["metadata"]["fit"]
    print(f"{data.path} ({data.n} points): weighted R² {fit['weighted_r2']:.4f}")
    print(f"  potentiation (delta_t > 0): {doc['window']['potentiation']}")
    print(f"  depression   (delta_t < 0): {doc['window']['depression']}")
    print("  " + ", ".join(f"{k} = {v}" for k, v in doc["parameters"].items()))
    if out is not None:
        atomic_write_text(out, tomli_w.dumps(doc))
        load_rule(out)  # the written file passes `rules check`
        print(f"wrote {out}")
    return 0


def _command(args):
    parts = ["plastlab", "rules", "fit", args.rule, args.data]
    if args.params:
        parts += ["--params", args.params]
    for b in args.bounds:
        parts += ["--bounds", b]
    parts += ["--starts", str(args.starts), "--seed", str(args.seed)]
    if args.out_rule:
        parts += ["--out", args.out_rule]
    if args.plot:
        parts += ["--plot", args.plot]
    return " ".join(shlex.quote(p) for p in parts)
