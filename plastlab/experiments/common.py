"""What every experiment kind shares: the loaded experiment and located errors."""
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError


@dataclass
class Experiment:
    """A checked experiment file: its head ([experiment]) and the kind's own settings."""

    name: str
    kind: str
    seed: int
    path: Path
    description: str = ""
    folds: int = 5
    datasets: list = field(default_factory=list)
    rules: list = field(default_factory=list)
    baselines: list = field(default_factory=list)
    classifier: dict = field(default_factory=dict)
    controller: dict = field(default_factory=dict)
    episodes: int = 0
    config: dict = field(default_factory=dict)

    def settings(self, dataset, rule):
        """Classifier settings for one (data set, rule) pair, general to specific."""
        c = self.classifier
        out = {k: v for k, v in c.items() if not isinstance(v, dict)}
        for key in (rule, dataset):
            out.update({k: v for k, v in c.get(key, {}).items() if not isinstance(v, dict)})
        out.update(c.get(dataset, {}).get(rule, {}))
        return out


def fail(path, message, section=None, key=None):
    return ConfigError(message, file=str(path), section=section, key=key)
