"""The ``plastlab`` command: argument parsing and printing only; the library is imported lazily."""


def main(argv=None):
    from .main import main as run
    return run(argv)
