"""``kind = "superspike"``: the SuperSpike tasks (``task = "spike_times" | "hidden" | "xor"``), settings in
``[settings]`` (checked by :func:`plastlab.learn.superspike.configure` before anything runs)."""
from ..config import Param
from .common import fail

TABLES = ("experiment", "settings")
HEAD = {"task": Param(str, choices=("spike_times", "hidden", "xor"))}


def load(exp, head, data, path):
    from ..errors import PlastlabError
    from ..learn.superspike import configure

    exp.config = {"task": head["task"], "settings": data.get("settings", {})}
    try:
        configure(dict(exp.config["settings"], task=head["task"]))
    except PlastlabError as err:
        raise fail(path, str(err), "settings") from None


def run(exp, out, *, progress=True):
    from ..learn.superspike import run_experiment, summary

    ds = run_experiment(exp.config["task"], exp.config["settings"], out, seed=exp.seed)
    print(summary(ds))
    return ds
