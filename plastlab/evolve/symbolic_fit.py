"""``plastlab rules fit --symbolic``: campaigns of the fit family (:mod:`plastlab.evolve.tasks.fit`) on a file of
measurements, one per branch of the window, run by the campaign engine; the family itself never sees DEAP."""
from pathlib import Path

import sympy as sp
import tomli_w

from .. import outputs
from ..store import atomic_write_text
from .campaign import run_campaign
from .tasks.fit import BRANCHES

GP = {"initial": 200, "mu": 40, "lambda": 80, "tournament": 3, "new_per_generation": 80, "escalate_after": 4,
      "cxpb": 0.4, "mutpb": 0.5, "init_min_depth": 1, "init_max_depth": 4, "mutation_max_depth": 2,
      "max_height": 6, "max_size": 25, "constants": [-1, 1, 2], "operators": ["add", "sub", "mul", "div", "exp"]}


def campaign_document(data, *, name, seed=1, generations=30, parsimony=None, gp=None):
    """The campaign file (a dict for TOML) that fits ``data`` (Measurements): the fit family on that file."""
    family = {"data": str(data.path), "data_sha256": data.sha256}
    if parsimony is not None:
        family["parsimony"] = float(parsimony)
    return {"campaign": {"name": name, "family": "fit", "seed": int(seed), "generations": int(generations)},
            "gp": dict(GP, **(gp or {})), "family": family,
            "instances": {"train_seeds": [0], "validation_seeds": [1]},
            "evaluation": {"batch_size": 1000}}


def symbolic_fit(data, out_dir, *, name, seed=1, generations=30, parsimony=None, gp=None, resume=False,
                 overwrite=False, progress=True):
    """Evolve a window for ``data`` (Measurements): one campaign per branch, each run by
    ``campaign.run_campaign`` in this process with its campaign file ``out_dir/BRANCH/fit.toml``, checkpoint
    (``resume``), cache, ``campaign.nc``, ``fitness.png`` and champion. Returns the champions' pair of shapes
    (canonical SymPy) and the campaigns.

    ``resume`` continues each branch from its checkpoint (to ``generations``; the same champions as an
    uninterrupted run); a branch that never wrote one (a run stopped during the first branch) starts afresh, and
    with no checkpoint at all ``resume`` is refused (ConfigError), as for campaigns."""
    from ..errors import ConfigError
    from .campaign import CHECKPOINT

    found = [b for b in BRANCHES if (Path(out_dir) / b / CHECKPOINT).is_file()]
    if resume and not found:
        raise ConfigError("--resume: no checkpoint here", file=Path(out_dir))
    if found and not resume and not overwrite:  # before any branch runs, not after the first
        raise ConfigError("holds a symbolic fit already: continue it with --resume, replace it with --overwrite, "
                          "or choose another --campaign-dir", file=Path(out_dir))
    shapes, campaigns = [], []
    for branch in BRANCHES:
        folder = Path(out_dir) / branch
        outputs.claim(folder)
        doc = campaign_document(data, name=f"{name}_{branch}", seed=seed, generations=generations,
                                parsimony=parsimony, gp=gp)
        doc["family"]["branch"] = branch
        path = folder / "fit.toml"
        atomic_write_text(path, "# written by plastlab rules fit --symbolic (plastlab/evolve/symbolic_fit.py)\n"
                          + tomli_w.dumps(doc))
        camp, _ = run_campaign(path, out=folder, workers=0, resume=resume and (folder / CHECKPOINT).is_file(),
                               overwrite=overwrite, progress=progress)
        shapes.append(camp.champion_expression())
        campaigns.append(camp)
    return sp.Tuple(*shapes), campaigns
