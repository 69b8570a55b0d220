"""Experiment files: one registry of kinds, each loaded, validated, run and written to results; and the task
families that compose a learning network with evolution (registered with ``plastlab.evolve.tasks`` here)."""
from . import classification_family  # noqa: F401 (registers the classification task family)
