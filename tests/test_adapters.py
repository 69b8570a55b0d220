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


def test_owned_values_outlive_their_brian2_objects():
    """Brian2 ≥ 2.10 hands out views into C++ arrays freed with the object; 2.9 views kept numpy arrays alive.
    ``owned`` copies, so values read from a network stay valid after it is gone (a plain ``np.asarray`` of the
    same variable reads freed memory on 2.10: weights 4.7e-310 instead of 0.5)."""
    import gc

    import brian2 as b2
    import numpy as np

    from plastlab.brian.adapters import owned
    from plastlab.brian.settings import brian_settings

    def read():
        with brian_settings(target="numpy"):
            group = b2.NeuronGroup(50, "v : 1")
            syn = b2.Synapses(group, group, "w : 1")
            syn.connect(j="i")
            syn.w = 0.5
            monitor = b2.StateMonitor(group, "v", record=True)
            b2.Network(group, syn, monitor).run(1 * b2.ms)
            return owned(syn.w[:]), owned(monitor.t_)

    w, t = read()
    gc.collect()
    _ = [np.random.default_rng(k).random(100) for k in range(200)]  # reuse the freed memory
    assert np.all(w == 0.5) and len(t) == 10 and np.all(np.diff(t) > 0)


@pytest.fixture(scope="module")
def standalone_project(tmp_path_factory):
    """A tiny cpp_standalone project, generated but not compiled: a ramp whose slope ``k`` is run-time data."""
    import brian2 as b2

    from plastlab.brian.device import standalone_scope

    directory = str(tmp_path_factory.mktemp("standalone"))
    with standalone_scope("cpp_standalone") as dev:
        group = b2.NeuronGroup(3, "dv/dt = k/ms : 1\nk : 1", method="euler", name="adapter_ramp")
        b2.Network(group).run(1 * ms)
        dev.build(directory=directory, compile=False, run=False, with_output=False)
    return dev, directory, group


@pytest.mark.standalone
def test_standalone_array_is_the_name_the_generated_project_declares(standalone_project):
    """Generated C++ (the program interpreter's table) reads a group's variable as ``brian::<name>``: the name
    must be the array the project declares for it, of the variable's type."""
    import os

    dev, directory, group = standalone_project
    name = adapters.standalone_array(dev, group, "k")
    with open(os.path.join(directory, "objects.h")) as f:
        header = f.read()
    assert f"extern double *{name};" in header and f"_num_{name}" in header
    assert adapters.standalone_array(dev, group, "v") != name


@pytest.mark.standalone
def test_standalone_compile_makes_the_program_that_device_run_runs(standalone_project):
    """After standalone_compile the project's ``main`` exists and runs with run_args, as device.build(compile=True)
    would have left it."""
    import os

    from brian2.devices.device import reset_device, set_device

    dev, directory, group = standalone_project
    assert not os.path.exists(os.path.join(directory, "main"))
    adapters.standalone_compile(dev, directory)
    assert os.access(os.path.join(directory, "main"), os.X_OK)
    set_device(dev, build_on_run=False)
    try:
        dev.run(directory, with_output=False, run_args={group.k: np.array([1.0, 2.0, 3.0])})
        assert np.allclose(group.v[:], [1.0, 2.0, 3.0])
    finally:
        reset_device()


def test_order_warning_is_dropped_only_for_random_devices_and_only_inside_plastlab():
    """Brian2 warns on the logger ORDER_WARNING_LOGGER when a code block may depend on the order of execution; a
    rule whose device draws random numbers beside its transmission triggers it on every network. Inside
    brian_settings, with such a synapse alive, that one message is dropped; outside, Brian2 says it as before."""
    import logging

    import brian2 as b2

    import plastlab
    from plastlab.brian.adapters import ORDER_WARNING_LOGGER
    from plastlab.brian.settings import brian_settings

    def network(device):
        inp = b2.SpikeGeneratorGroup(3, [0, 1, 2], [1, 2, 3] * b2.ms)
        out = b2.NeuronGroup(2, "v : 1", threshold="v > 1", reset="v = 0", refractory=1 * b2.ms)
        syn = plastlab.synapses(plastlab.load_rule("nc_memristor", device=device), inp, out, transmit="v_post += w")
        syn.connect()
        syn.w = 0.5
        b2.Network(inp, out, syn).run(3 * b2.ms)

    records = []
    listener = logging.Handler(level=logging.WARNING)
    listener.emit = records.append  # Brian2's loggers do not propagate to the root: listen on the logger itself
    logger = logging.getLogger(ORDER_WARNING_LOGGER)
    logger.addHandler(listener)
    try:
        with brian_settings(target="numpy"):
            network({"c2c": 0.1})
        assert not [r for r in records if "well-defined" in r.getMessage()]
        prefs = b2.prefs.codegen.target
        b2.prefs.codegen.target = "numpy"
        try:
            network({"c2c": 0.1})  # Brian2 outside plastlab's settings: its warning as usual
        finally:
            b2.prefs.codegen.target = prefs
        assert [r for r in records if "well-defined" in r.getMessage()]
    finally:
        logger.removeHandler(listener)
    assert not logger.filters


def test_one_interpreter_under_two_names_is_one_cython_cache_key(tmp_path, monkeypatch):
    """Brian2 keys its Cython cache on sys.executable: inside plastlab's settings, ``bin/python`` and
    ``bin/python3`` (links to one interpreter, as ``python -m plastlab`` and the ``plastlab`` command's shebang)
    are one name; outside, sys.executable is as it was. (Compiling under both names would cost a compilation
    per run of this test: Brian2's use of the name is checked in its source instead.)"""
    import inspect
    import sys

    from brian2.codegen.runtime.cython_rt.extension_manager import CythonExtensionManager

    assert "sys.executable," in inspect.getsource(CythonExtensionManager.create_extension)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3.x").symlink_to(sys.executable)  # out of the directory: where the names meet
    (bin_dir / "python").symlink_to("python3.x")
    (bin_dir / "python3").symlink_to("python")
    seen = []
    for name in ("python", "python3", "python3.x"):
        monkeypatch.setattr(sys, "executable", str(bin_dir / name))
        with brian_settings(target="cython", dt=1 * ms):
            seen.append(sys.executable)
        assert sys.executable == str(bin_dir / name)  # restored
    assert seen == [str(bin_dir / "python3.x")] * 3
