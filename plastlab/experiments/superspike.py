"""``kind = "superspike"``: the SuperSpike tasks (``task = "spike_times" | "hidden" | "xor"``), settings in
``[settings]`` (one declared table, :data:`plastlab.learn.superspike.SETTINGS`, checked by
:func:`plastlab.learn.superspike.configure` before anything runs)."""
from ..config import Param

TABLES = ("experiment", "settings")
HEAD = {"task": Param(str, choices=("spike_times", "hidden", "xor"))}


def load(exp, head, data, path):
    from ..learn.superspike import configure

    settings = data.get("settings", {})
    configure(dict(settings, task=head["task"]), file=str(path))  # ConfigError / RuleError naming the key
    exp.config = {"task": head["task"], "settings": settings}


def run(exp, out, *, progress=True):
    from ..learn.superspike import run_experiment, summary

    ds = run_experiment(exp.config["task"], exp.config["settings"], out, seed=exp.seed,
                        report="text" if progress else None)
    print(summary(ds))
    return ds
