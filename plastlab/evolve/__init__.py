"""EVOLVE: genetic programming of plasticity rules (DEAP), task families, campaigns."""
