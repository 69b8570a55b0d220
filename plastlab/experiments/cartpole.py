"""``kind = "cartpole"``: closed-loop CartPole with one or more rules; ``[controller]`` holds the settings of
:func:`plastlab.learn.cartpole.train_cartpole`."""
import numpy as np

from ..config import Param, validate
from .common import fail as _fail

TABLES = ("experiment", "controller")


HEAD = {
    "rule": Param(str, None, nullable=True),
    "rules": Param(list, [], item=Param(str)),
    "episodes": Param(int, 1000, low=1, high=1_000_000),
}


def load(exp, head, data, path):
    """Check the rules and every controller setting before anything is simulated."""
    from ..learn.cartpole import check_controller_settings
    from ..learn.classifier import resolve_rule

    head = validate(head, HEAD, file=path, section="experiment")
    exp.rules = head["rules"] or ([head["rule"]] if head["rule"] else [])
    if not exp.rules:
        raise _fail(path, "needs rule = NAME (or rules = [...])", "experiment", "rule")
    exp.episodes = head["episodes"]
    exp.controller = data.get("controller", {})
    for rule_name in exp.rules:
        rule = resolve_rule(rule_name)
        check_controller_settings(rule, exp.controller, where=f"{path}: [controller]")


def run(exp, out, *, progress=True):
    from ..learn.cartpole import train_cartpole
    from ..plots import plot_learning_curve
    from ..store import write_dataset

    results = []
    for rule_name in exp.rules:
        ds = train_cartpole(rule_name, episodes=exp.episodes, seed=exp.seed, progress=progress, **exp.controller)
        ds.attrs["experiment_file"] = str(exp.path)
        target = out if len(exp.rules) == 1 else out / rule_name
        target.mkdir(parents=True, exist_ok=True)
        write_dataset(ds, target / "results.nc")
        plot_learning_curve(ds, target / "learning_curve.png")
        last = ds.episode_length.values[-100:]
        print(f"{rule_name}: {exp.episodes} episodes, mean length of the last {len(last)}: {last.mean():.1f}; "
              f"best running mean (100): {float(ds.attrs.get('best_mean_100', np.nan)):.1f}; "
              f"wrote {target / 'results.nc'}, {target / 'learning_curve.png'}")
        results.append(ds)
    return results
