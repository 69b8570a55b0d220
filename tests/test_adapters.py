"""plastlab/brian/adapters.py: every use of Brian2 internals, one test each, failing if a Brian2 release changes
what the adapter relies on."""
import logging

import numpy as np
import pytest
from brian2 import Network, NetworkOperation, NeuronGroup, StateMonitor, ms

from plastlab.brian import adapters
from plastlab.brian.settings import brian_settings


def _ramp():
    """A group whose v grows by exactly dt/ms per step while its state update runs."""
    return NeuronGroup(1, "dv/dt = 1/ms : 1", method="euler")


def test_set_state_update_active_switches_integration_for_the_next_run():
    group = _ramp()
    net = Network(group)
    with brian_settings(target="numpy", dt=1 * ms):
        adapters.set_state_update_active(group, False)
        net.run(5 * ms)
        assert group.v[0] == 0
        adapters.set_state_update_active(group, True)
        net.run(5 * ms)
    assert group.v[0] == pytest.approx(5.0)


def test_set_state_update_running_skips_and_resumes_inside_a_run():
    group = _ramp()
    steps = []

    def switch():
        steps.append(None)
        if len(steps) == 3:
            adapters.set_state_update_running(group, False)
        elif len(steps) == 6:
            adapters.set_state_update_running(group, True)

    monitor = StateMonitor(group, "v", record=0, when="end", order=1)
    net = Network(group, NetworkOperation(switch, when="end"), monitor)
    with brian_settings(target="numpy", dt=1 * ms):
        net.run(9 * ms)
    # steps 1-3 integrate, 4-6 are skipped, 7-9 integrate again
    np.testing.assert_allclose(monitor.v[0], [1, 2, 3, 3, 3, 3, 4, 5, 6])


@pytest.fixture(scope="module")
def cython_records():
    """The records Brian2 logs on CYTHON_LOGGER while it loads (or compiles) a tiny group's Cython code."""
    records = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Collect(level=1)
    logger = logging.getLogger(adapters.CYTHON_LOGGER)
    logger.addHandler(handler)
    try:
        group = NeuronGroup(1, "dv/dt = -v/(7.3*ms) : 1", method="exact", name="adapters_probe")
        with brian_settings(target="cython", dt=1 * ms):
            Network(group).run(1 * ms)
    finally:
        logger.removeHandler(handler)
    return records


def test_compiling_module_parses_the_line_brian2_logs_for_each_cython_module(cython_records):
    modules = [adapters.compiling_module(r) for r in cython_records]
    assert any(m and m.startswith("_cython_magic_") for m in modules)
    other = logging.LogRecord("x", logging.INFO, __file__, 1, "No numerical integration method specified", (), None)
    assert adapters.compiling_module(other) is None


def test_cython_module_cached_finds_a_module_just_compiled(cython_records):
    modules = [m for m in map(adapters.compiling_module, cython_records) if m]
    assert modules and all(adapters.cython_module_cached(m) for m in modules)
    assert not adapters.cython_module_cached("_cython_magic_" + "0" * 32)


def test_console_handler_is_brian2s_logging_handler_and_quiet_console_restores():
    handler = adapters.console_handler()
    assert isinstance(handler, logging.Handler)
    previous = adapters.quiet_console(logging.CRITICAL)
    try:
        assert handler.level == logging.CRITICAL
    finally:
        handler.setLevel(previous)
    assert adapters.SUPPORTED_BRIAN2[0] == "2.9"
