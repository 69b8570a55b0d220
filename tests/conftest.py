import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _fresh_brian_scope():
    """Each test starts with Brian2's default device and a clean magic network."""
    from brian2 import start_scope
    start_scope()
    yield
