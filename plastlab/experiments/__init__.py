"""Experiment files: one registry of kinds, each loaded, validated, run and written to results."""
