"""plastlab rules protocol RULE PROTOCOL: characterise a rule as experimentalists do (imports lazily)."""
import math

from ..errors import PlastlabError

PROTOCOLS = ("window", "frequency", "triplet", "quadruplet", "rates", "weight")


PAIR_PROTOCOL = "a pairing protocol (plastlab rules window, rules protocol)"


def require_protocol_inputs(rule):
    """The pairing protocols drive two spiking neurons and nothing else: a rule that reads an input (a teacher
    potential, a reward) is refused with the requirement check's line, before anything is simulated. (In Python,
    ``plastlab.brian.protocols.pair_window(rule, ..., inputs={...})`` holds inputs constant.)"""
    from ..brian.requirements import Offer, require

    return require(rule, Offer(network=PAIR_PROTOCOL))


def add_protocol_command(sub, window):
    """``window``: the handler of ``rules window``, which ``rules protocol RULE window`` is."""
    p = sub.add_parser("protocol", help="run a characterisation protocol (window, frequency, triplet, quadruplet, "
                                        "rates, weight) in Brian2, beside its closed form",
                       description="Simulate a protocol in Brian2 (and its closed form where the rule has one) and "
                                   "write a NetCDF Dataset; `rules window` is `rules protocol RULE window`.")
    p.add_argument("rule", metavar="NAME|FILE")
    p.add_argument("protocol", choices=PROTOCOLS)
    p.add_argument("--rho", default="0.1,10,20,40,50", help="frequency: pairing frequencies in Hz")
    p.add_argument("--delta-t", default="10,-10", help="frequency, weight: Δt = t_post - t_pre in ms")
    p.add_argument("--pairings", type=int, default=60, help="frequency: pairs per condition; triplet, quadruplet: "
                                                            "repetitions (default 60)")
    p.add_argument("--T", default="-100,-75,-50,-25,-15,15,25,50,75,100", help="quadruplet: T in ms")
    p.add_argument("--pre-rate", default="10", help="rates: presynaptic Poisson rates in Hz")
    p.add_argument("--post-rate", default="1,5,10,20,30,40,50", help="rates: postsynaptic Poisson rates in Hz")
    p.add_argument("--seeds", type=int, default=5, help="rates: trains per condition (default 5)")
    p.add_argument("--seed", type=int, default=0, help="rates: random seed (default 0)")
    p.add_argument("--duration", type=float, default=10.0, help="rates: seconds per train (default 10)")
    p.add_argument("--w0", default=None, help="initial weight(s), comma-separated (default: middle of the bounds; "
                                              "weight: 11 values across the bounds)")
    p.add_argument("--dt-range", default="-100,100", metavar="LO,HI", help="window: Δt range in ms")
    p.add_argument("--dt-step", type=float, default=1.0, metavar="MS", help="window: Δt step in ms")
    p.add_argument("--out", metavar="PATH.nc", help="write the Dataset here")
    p.add_argument("--plot", metavar="PATH.png", help="draw the figure here")
    p.set_defaults(handler=rules_protocol, window_handler=window, out_is_file=True)


def _numbers(text, option, *, positive=False, nonnegative=False):
    try:
        values = [float(part) for part in str(text).split(",") if part.strip()]
    except ValueError:
        raise PlastlabError(f"{option} expects comma-separated numbers, got '{text}'") from None
    if not values or not all(math.isfinite(v) for v in values):
        raise PlastlabError(f"{option} expects comma-separated finite numbers, got '{text}'")
    if positive and any(v <= 0 for v in values):
        raise PlastlabError(f"{option} values must be positive, got '{text}'")
    if nonnegative and any(v < 0 for v in values):
        raise PlastlabError(f"{option} values must not be negative, got '{text}'")
    return values


def _validated(args):
    """Every option of the chosen protocol checked before any simulation (PlastlabError: exit 2)."""
    if args.pairings < 1:
        raise PlastlabError(f"--pairings must be at least 1, got {args.pairings}")
    if args.protocol == "frequency":
        from ..rules.protocols import frequency_schedule

        rho, dt = _numbers(args.rho, "--rho", positive=True), _numbers(args.delta_t, "--delta-t")
        frequency_schedule(rho, dt, args.pairings)  # Δt must fit the period
        return dict(rho=rho, delta_t=dt, pairings=args.pairings)
    if args.protocol == "triplet":
        return dict(repetitions=args.pairings)
    if args.protocol == "quadruplet":
        from ..rules.protocols import quadruplet_schedule

        T = _numbers(args.T, "--T")
        quadruplet_schedule(T, args.pairings)
        return dict(T=T, repetitions=args.pairings)
    if args.protocol == "rates":
        if args.seeds < 1:
            raise PlastlabError(f"--seeds must be at least 1, got {args.seeds}")
        if not (math.isfinite(args.duration) and args.duration > 0):
            raise PlastlabError(f"--duration must be a positive number of seconds, got {args.duration}")
        return dict(pre_rate=_numbers(args.pre_rate, "--pre-rate", nonnegative=True),
                    post_rate=_numbers(args.post_rate, "--post-rate", nonnegative=True), seeds=args.seeds,
                    duration=args.duration, seed=args.seed)
    if args.protocol == "weight":
        return dict(delta_t=_numbers(args.delta_t, "--delta-t"))
    return {}


def rules_protocol(args):
    if args.protocol == "window":
        return args.window_handler(args)
    options = _validated(args)
    from ..brian import protocols as P
    from ..datasets import sjostrom2001
    from ..plots import plot_protocol
    from ..rules.files import load_rule
    from ..store import write_dataset

    rule = require_protocol_inputs(load_rule(args.rule))  # a teacher potential, a reward: refused before simulating
    if args.w0 is not None:
        w0 = _numbers(args.w0, "--w0")
        options["w0"] = w0[0] if args.protocol == "rates" else w0
    run = {"frequency": P.frequency, "triplet": P.triplet, "quadruplet": P.quadruplet, "rates": P.rates,
           "weight": P.weight_dependence}[args.protocol]
    import numpy as np

    with np.errstate(all="ignore"):  # an undefined update gives NaN (shown in the table), not a warning per pair
        ds = run(rule, **options)
    if args.out:
        write_dataset(ds, args.out)
        print(f"wrote {args.out}")
    if args.plot:
        plot_protocol(ds, args.plot, data=sjostrom2001() if args.protocol == "frequency" else None)
        print(f"wrote {args.plot}")
    name = "dw_dt" if "dw_dt" in ds else "dw"
    print(ds[name].to_dataframe().drop(columns=[c for c in ds.coords if c not in ds[name].dims], errors="ignore")
          .to_string(float_format=lambda v: f"{v:+.4g}"))
    closed = f"{name}_closed_form"
    if closed in ds and name == "dw":
        print(f"max |simulated - closed form| = {float(abs(ds[name] - ds[closed]).max()):.3g}")
