"""The ``plastlab`` command: argument parsing and printing only; the library is imported lazily."""
import sys


def main(argv=None):
    try:
        from .commands import main as run
    except KeyboardInterrupt:  # Ctrl-C while Python is still importing the command line
        print("plastlab: interrupted by SIGINT before starting", file=sys.stderr)
        return 130
    return run(argv)
