"""Tiny campaign files for the evolution tests (real Brian2, real DEAP; small budgets)."""
from pathlib import Path

TINY_ERROR = """
[campaign]
name = "tiny"
family = "error"
seed = 3
generations = {generations}

[gp]
mu = 4
lambda = 6
max_height = 4
max_size = 15

[family]
duration = {duration}
t_drop = 0.2

[instances]
train_seeds = [11, 12, 13]
validation_seeds = [21, 22]

[evaluation]
batch_size = {batch_size}
"""


def tiny_campaign(directory, generations=2, duration=1.0, batch_size=64):
    path = Path(directory) / "tiny.toml"
    path.write_text(TINY_ERROR.format(generations=generations, duration=duration, batch_size=batch_size))
    return path
