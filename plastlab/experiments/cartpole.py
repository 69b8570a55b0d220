"""``kind = "cartpole"``: closed-loop CartPole with one or more rules over one or more seeds; ``[controller]`` holds
the settings of :class:`plastlab.learn.cartpole.CartPoleLearner` (one declared table, ``CONTROLLER``).

Measured as the Sboev group does: episodes until the running reward (EMA 0.05 of episode lengths) exceeds 199.9
with the 200-step cap; runs that never get there within ``episodes`` are counted as unsolved.
"""
import numpy as np

from ..config import Param, validate
from .common import fail as _fail

TABLES = ("experiment", "controller")


HEAD = {
    "rule": Param(str, None, nullable=True),
    "rules": Param(list, [], item=Param(str)),
    "episodes": Param(int, 1000, low=1, high=1_000_000),
    "seeds": Param(list, [], item=Param(int, low=0, high=2**31 - 1)),
}


def load(exp, head, data, path):
    """Check the rules and every controller setting before anything is simulated."""
    from ..brian.layer import check_rule
    from ..learn.cartpole import controller_settings

    head = validate(head, HEAD, file=path, section="experiment")
    exp.rules = head["rules"] or ([head["rule"]] if head["rule"] else [])
    if not exp.rules:
        raise _fail(path, "needs rule = NAME (or rules = [...])", "experiment", "rule")
    exp.episodes = head["episodes"]
    exp.config["seeds"] = head["seeds"]
    exp.controller = controller_settings(data.get("controller", {}), file=str(path))
    for rule_name in exp.rules:
        check_rule(rule_name, "the CartPole controller")


def seeds_of(exp):
    return exp.config.get("seeds") or [exp.seed]


def run(exp, out, *, progress=True):
    from ..learn.cartpole import train_cartpole
    from ..plots import plot_learning_curve, plot_learning_curves
    from ..store import write_dataset

    results = []
    for rule_name in exp.rules:
        target = out if len(exp.rules) == 1 else out / rule_name
        target.mkdir(parents=True, exist_ok=True)
        runs = []
        for seed in seeds_of(exp):
            ds = train_cartpole(rule_name, episodes=exp.episodes, seed=seed, progress=progress, **exp.controller)
            solved = ds.attrs["episodes_to_solve"]
            print(f"{rule_name} seed {seed}: {len(ds.episode)} episodes, "
                  f"{'solved after ' + str(solved) if solved > 0 else 'not solved'} (running reward > "
                  f"{ds.attrs['solved_threshold']}); mean length of the last 100: {ds.attrs['mean_last_100']:.1f}",
                  flush=True)
            runs.append(ds)
            if len(runs) < len(seeds_of(exp)):  # the seeds so far, marked unfinished (a stopped run keeps them)
                write_dataset(combine_seeds(runs, exp), target / "results.nc", complete=False)
        combined = combine_seeds(runs, exp)
        write_dataset(combined, target / "results.nc")
        if len(runs) == 1:
            plot_learning_curve(runs[0], target / "learning_curve.png")
        else:
            plot_learning_curves(combined, target / "learning_curves.png")
        print(summary_line(combined) + f"; wrote {target / 'results.nc'}")
        results.append(combined)
    return results if len(results) > 1 else results[0]


def combine_seeds(runs, exp):
    """One Dataset over ``seed`` x ``episode`` (NaN after a run stopped), episodes-to-solve per seed."""
    import json

    import xarray as xr

    n = max(len(ds.episode) for ds in runs)
    pad = lambda v: np.pad(v.astype(float), (0, n - len(v)), constant_values=np.nan)  # noqa: E731
    seeds = [int(ds.attrs["seed"]) for ds in runs]
    combined = xr.Dataset(
        {
            "episode_length": (("seed", "episode"), np.array([pad(ds.episode_length.values) for ds in runs]),
                               {"long_name": "episode length (steps)"}),
            "running_reward": (("seed", "episode"), np.array([pad(ds.running_reward.values) for ds in runs]),
                               {"long_name": "running reward (EMA 0.05)"}),
            "episodes_to_solve": (("seed",), np.array([ds.attrs["episodes_to_solve"] for ds in runs]),
                                  {"long_name": "episodes until the running reward exceeds the threshold "
                                                "(-1: not within the run)"}),
            "wall_seconds": (("seed",), np.array([ds.attrs["wall_seconds"] for ds in runs]), {"units": "s"}),
        },
        coords={"seed": seeds, "episode": np.arange(n)},
    )
    solved = combined.episodes_to_solve.values > 0
    combined["solved"] = (("seed",), solved.astype(int), {"long_name": "1: solved within the run"})
    combined["episodes_to_solve_solved"] = (
        ("seed",), np.where(solved, combined.episodes_to_solve.values, np.nan),
        {"long_name": "episodes to solve, seeds that solved (NaN: not solved)"})
    keep = {k: v for k, v in runs[0].attrs.items() if k not in ("seed", "wall_seconds", "episodes_to_solve",
                                                                "mean_last_100", "best_mean_100", "random_actions",
                                                                "decisions", "simulated_seconds")}
    combined.attrs.update(keep, seeds=json.dumps(seeds), max_episodes=exp.episodes,
                          experiment_file=str(exp.path))
    return combined


def summary_line(ds):
    """Median and range of episodes-to-solve over the seeds that solved; how many never did."""
    solved = ds.episodes_to_solve.values
    ok = solved[solved > 0]
    text = (f"{ds.attrs.get('rule', '')}: {len(ok)}/{len(solved)} seeds solved within {ds.attrs['max_episodes']} "
            "episodes")
    if len(ok):
        text += f"; episodes to solve median {np.median(ok):.0f}, range {ok.min()}-{ok.max()}"
    return text
