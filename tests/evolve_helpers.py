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
new_per_generation = {new_per_generation}
escalate_after = {escalate_after}

[family]
duration = {duration}
t_drop = 0.2

[instances]
train_seeds = [11, 12, 13]
validation_seeds = [21, 22]

[evaluation]
batch_size = {batch_size}
hurdle_instances = {hurdle_instances}
"""


def tiny_campaign(directory, generations=2, duration=1.0, batch_size=64, hurdle_instances=0, new_per_generation=0,
                  escalate_after=0):
    path = Path(directory) / "tiny.toml"
    path.write_text(TINY_ERROR.format(generations=generations, duration=duration, batch_size=batch_size,
                                      hurdle_instances=hurdle_instances, new_per_generation=new_per_generation,
                                      escalate_after=escalate_after))
    return path


TINY_CORRELATION = """
[campaign]
name = "tinycorr"
family = "correlation"
seed = 4
generations = 1

[gp]
initial = 6
mu = 3
lambda = 4
constants = [0.1, 1]

[family]
n_inputs = 100
w_max = 4.0
train = 2.0
test = 2.0

[instances]
train_seeds = [1, 2]
validation_seeds = [3]
"""


def tiny_correlation_campaign(directory):
    path = Path(directory) / "tinycorr.toml"
    path.write_text(TINY_CORRELATION)
    return path
