"""The evaluator: batches of candidate expressions simulated in this process, on a local Dask cluster or on the
workers of a scheduler address; a worker lost mid-batch is retried by Dask (no evaluation is lost).

Dask draws from Python's global ``random`` (it samples long lists when it sizes a task's arguments, and as it
starts); every call here leaves ``random`` as it found it, so the search's stream is the same with 0, 1 or n
workers.
"""
import contextlib
import logging
import math
import os
import signal
import threading
import time

# imported with this module, not first by a lazily imported family inside a task: a Dask worker unpickles
# evaluate_task in its main thread but runs it in another, and Brian2's import sets a SIGINT handler, which Python
# allows in the main thread only
import brian2  # noqa: F401

from ..errors import ConfigError
from .rng import unchanged
from .tasks import FAMILIES, get_family


def _keep_sigint_ignored():
    """Brian2's import wraps the SIGINT handler it finds; found SIG_IGN (a Dask worker started with Ctrl-C
    ignored, see ``_workers_ignore_sigint``), its wrapper calls SIG_IGN as a function and dies with a traceback
    at Ctrl-C. Where that is what Brian2 wrapped, SIGINT is ignored again, as intended."""
    handler = signal.getsignal(signal.SIGINT)
    if getattr(handler, "previous_handler", None) is signal.SIG_IGN \
            and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


_keep_sigint_ignored()


@contextlib.contextmanager
def _workers_ignore_sigint():
    """Worker processes started meanwhile inherit SIGINT ignored (the terminal sends Ctrl-C to the whole process
    group; the campaign's process stops them as it stops)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _candidates_may_diverge():
    """A candidate rule that drives a membrane potential to NaN is scored as failed (worst fitness, reason
    recorded); Brian2's warning about it would be noise in every campaign, so it is held back while a batch runs."""
    logger = logging.getLogger("brian2.groups.group.invalid_values")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def evaluate_task(family, exprs, seeds, params, device="runtime"):
    """Runs on a worker: one Brian2 network for the batch. Returns results with the batch's wall time.
    ``family``: a family's name, or the family object itself (families registered from a higher floor, which a
    worker process has not imported: unpickling the object imports its module)."""
    family = get_family(family) if isinstance(family, str) else family
    start = time.perf_counter()
    with _candidates_may_diverge():
        results = family.evaluate_batch(exprs, seeds, params, device=device)
    seconds = (time.perf_counter() - start) / max(1, len(exprs))
    for r in results:
        r["seconds"] = seconds
    return results


def _split(items, parts):
    parts = max(1, min(parts, len(items)))
    size = math.ceil(len(items) / parts)
    return [items[k:k + size] for k in range(0, len(items), size)]


SCHEDULER_TIMEOUT = 30  # seconds to reach a scheduler, and again to see at least one worker there


def connect(address, timeout=SCHEDULER_TIMEOUT):
    """A Dask client on a scheduler that answers and has workers; ConfigError (one line) otherwise."""
    from dask.distributed import Client

    if not isinstance(address, str) or not address.startswith(("tcp://", "tls://", "inproc://", "ucx://")):
        raise ConfigError(f"--scheduler expects an address like tcp://HOST:PORT, got {address!r}")
    result = {}

    def attempt():  # in a daemon thread: a server that accepts but never speaks would block Client() for good
        try:
            result["client"] = Client(address, timeout=f"{timeout}s", set_as_default=False)
        except Exception as err:  # reported below, in the caller's thread
            result["error"] = err

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout + 1)
    if "client" not in result:
        reason = result.get("error", "no answer")
        raise ConfigError(f"--scheduler {address}: no Dask scheduler answered within {timeout} s ({reason})")
    client = result["client"]
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (TimeoutError, OSError):
        client.close()
        raise ConfigError(f"--scheduler {address}: the scheduler has no workers (waited {timeout} s)") from None
    return client


class Evaluator:
    """Maps batches of expressions to results: in this process (workers=0) or through a Dask client."""

    def __init__(self, family_name, seeds, params, batch_size=64, workers=None, scheduler=None, device="runtime"):
        self.family_name, self.seeds, self.params, self.batch_size = family_name, seeds, params, batch_size
        self.task = family_name if family_name in FAMILIES else get_family(family_name)  # what workers receive
        self.device = device
        self.client = self.cluster = None
        self.n_workers = 1
        with unchanged():  # Dask draws from the global random as it starts
            self._connect(workers, scheduler)

    def _connect(self, workers, scheduler):
        if scheduler:
            self.client = connect(scheduler)
            self.n_workers = max(1, len(self.client.scheduler_info()["workers"]))
        elif workers != 0:
            from dask.distributed import Client, LocalCluster

            n = workers or os.cpu_count() or 1
            with _workers_ignore_sigint():  # Ctrl-C stops the campaign (this process), not each worker with a trace
                self.cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                            dashboard_address=None, silence_logs=50)
            self.client = Client(self.cluster, set_as_default=False)
            self.n_workers = n

    def __call__(self, exprs, seeds=None):
        """Results for ``exprs`` on ``seeds`` (default: the evaluator's instances).

        Python's global ``random``, which DEAP's variation draws from, is left as it was: Dask's ``sizeof`` samples
        long lists with it when it sizes a task's arguments (more than 10 instances), which made the same seed
        evolve differently with 0, 1 or 2 workers."""
        with unchanged():
            return self._map(exprs, seeds)

    def _map(self, exprs, seeds):
        seeds = self.seeds if seeds is None else seeds
        if not exprs:
            return []
        n_batches = max(self.n_workers, math.ceil(len(exprs) / self.batch_size))
        batches = _split(list(exprs), n_batches)
        if self.client is None:
            out = []
            for batch in batches:
                out.extend(evaluate_task(self.task, batch, seeds, self.params, self.device))
            return out
        if self.client.scheduler_info()["workers"]:
            self.n_workers = len(self.client.scheduler_info()["workers"])
        futures = [self.client.submit(evaluate_task, self.task, batch, seeds, self.params, self.device,
                                      pure=False, retries=3) for batch in batches]
        out = []
        for result in self.client.gather(futures):
            out.extend(result)
        return out

    def close(self):
        """Client and cluster closed; tasks that Ctrl-C cut short are dropped without asyncio's "Task exception
        was never retrieved" traceback (the command says once that it was interrupted)."""
        asyncio_log = logging.getLogger("asyncio")
        level = asyncio_log.level
        asyncio_log.setLevel(logging.CRITICAL + 1)
        try:
            with unchanged():
                if self.client is not None:
                    self.client.close()
                if self.cluster is not None:
                    self.cluster.close()
        finally:
            import gc

            gc.collect()  # the dropped tasks report here, while asyncio is quiet
            asyncio_log.setLevel(level)
