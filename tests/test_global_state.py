"""Library calls leave process-wide state alone (ARCHITECTURE.md, conventions): Brian2's code-generation target
and default clock, numpy's and Python's global random states, matplotlib's backend and the garbage collector's
frozen objects are what the caller set."""
import gc
import random

import matplotlib
import numpy as np
import pytest
from brian2 import defaultclock, ms, prefs
from evolve_helpers import tiny_campaign

from plastlab import SpikingClassifier
from plastlab.brian.protocols import pair_window, time_grid
from plastlab.evolve import gp
from plastlab.evolve.campaign import run_campaign
from plastlab.evolve.tasks import error
from plastlab.learn.superspike import run_spike_times
from plastlab.plots import plot_window


def test_classifier_window_superspike_and_campaign_keep_global_state(tmp_path):
    prefs.codegen.target, defaultclock.dt = "numpy", 0.25 * ms
    backend = matplotlib.get_backend()
    frozen = gc.get_freeze_count()  # Python 3.12 starts with objects in the permanent generation
    np.random.seed(123)
    expected_draw = np.random.RandomState(123).rand()
    random.seed(321)  # DEAP's operators draw from Python's random: evolution lends it its own stream only
    python_random = random.getstate()

    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(0.25, 0.05, (6, 2)), rng.normal(0.75, 0.05, (6, 2))])
    y = np.repeat([0, 1], 6)
    SpikingClassifier(rule="nc_memristor", random_state=0, epochs=1, dt=0.5, t_gap=5.0).fit(X, y)
    ds = pair_window("stdp_additive", time_grid(-20, 20, 10), [0.005])
    plot_window(ds, tmp_path / "window.png")
    run_spike_times(dict(trials=2, n_inputs=10, rate_hz=10.0, trial_ms=100.0, n_target_spikes=1, codegen="cython",
                         rule_parameters={"T_update": "100*ms", "eta": 0.01}), seed=1)
    error.evaluate_batch([error.baselines()["delta_rule"]], [11], {"duration": 0.3, "t_drop": 0.1})
    run_campaign(tiny_campaign(tmp_path, generations=1, duration=0.3), workers=0, out=tmp_path / "evolve",
                 progress=False)  # variation, evaluation, validation, results
    genome = gp.Genome(error.INPUTS)
    next(gp.random_candidates(genome, gp.make_toolbox(genome), seed=1))

    assert prefs.codegen.target == "numpy"
    assert abs(float(defaultclock.dt / ms) - 0.25) < 1e-12
    assert matplotlib.get_backend() == backend
    assert np.random.rand() == expected_draw, "numpy's global random state was reseeded or consumed"
    assert random.getstate() == python_random, "Python's global random state was reseeded or consumed"
    assert gc.get_freeze_count() == frozen


def test_an_outer_gc_freeze_is_left_alone():
    from plastlab.brian.settings import brian_settings

    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        fresh = [[] for _ in range(10_000)]  # tracked objects that a second freeze would take in
        # (frozen objects that other threads' leftovers release leave the permanent generation: the count may drop
        # by a few, so the test asks for "not frozen again" and "not unfrozen", not for an exact count)
        with brian_settings(target="numpy"):
            assert frozen // 2 < gc.get_freeze_count() < frozen + len(fresh)
        assert frozen // 2 < gc.get_freeze_count() < frozen + len(fresh)
    finally:
        gc.unfreeze()
    with brian_settings(target="numpy"):
        assert gc.get_freeze_count() > 0  # Brian2's gc.collect() before each run skips what existed on entry
    assert gc.get_freeze_count() == 0


def test_a_swallowed_ctrl_c_still_stops_every_write(tmp_path):
    """Python drops a KeyboardInterrupt raised inside a weakref callback (Brian2's instance tracking during a
    garbage collection): the noted signal must still keep results from being written, and then be cleared."""
    import os
    import signal
    import weakref

    import pytest

    from plastlab import interrupts
    from plastlab.store import atomic_write_text

    class Tracked:
        pass

    previous = interrupts.install()
    try:
        obj = Tracked()
        ref = weakref.ref(obj, lambda _: os.kill(os.getpid(), signal.SIGINT))  # the signal arrives in the callback
        del obj  # the callback's KeyboardInterrupt is printed as "ignored" and execution goes on
        assert interrupts.pending() == "SIGINT" and ref() is None
        with pytest.raises(KeyboardInterrupt):
            atomic_write_text(tmp_path / "result.txt", "complete?")
        assert not list(tmp_path.iterdir())
    finally:
        interrupts.restore(previous)
    assert interrupts.pending() is None and signal.getsignal(signal.SIGINT) is previous[signal.SIGINT]
    atomic_write_text(tmp_path / "result.txt", "after restore")


@pytest.mark.standalone
def test_a_standalone_evaluation_leaves_brian2_on_the_callers_device():
    """cpp_standalone is set only while a network is built and run: the caller's device, target and clock after."""
    from brian2.devices.device import get_device, runtime_device

    prefs.codegen.target, defaultclock.dt = "numpy", 0.25 * ms
    v, u, s = error.symbols()  # the same network as tests/test_device.py (one build, cached on disk)
    error.evaluate_batch([s * (v - u), error.baselines()["delta_rule"], s / (v + 70)], [11, 12],
                         {"duration": 0.5, "t_drop": 0.1}, device="cpp_standalone")
    assert get_device() is runtime_device
    assert prefs.codegen.target == "numpy" and abs(float(defaultclock.dt / ms) - 0.25) < 1e-12
    assert gc.get_freeze_count() == 0
