r"""Executors: run a function on many parameter dicts, yielding outcomes as they complete.

Interface (:class:`Executor`)::

    with make_executor("local", workers=4) as ex:
        for params, outcome in ex.run(run_fn, list_of_param_dicts):
            ...                                   # outcome: an :class:`Outcome`

The run function is called in the worker through :func:`execute`, which never raises for
an ordinary exception: a run that raises becomes ``Outcome(status="failed", error="Type:
message")``. Workers only compute; they return outcomes to the parent, which alone writes
the results store.

* :class:`SerialExecutor` -- in the calling process, one run after the other (workers = 1,
  tests, debugging);
* :class:`LocalPoolExecutor` -- ``concurrent.futures.ProcessPoolExecutor`` with the 'spawn'
  start method (JAX is not fork-safe), at most ``workers`` runs in flight. Workers ignore
  SIGINT (the parent handles Ctrl-C and terminates them) and exit by themselves as soon as
  the parent dies, even by ``kill -9`` (Linux parent-death signal, plus a watchdog thread
  polling the parent pid on every platform), so no orphan keeps computing;
* :class:`DaskExecutor` -- ``dask.distributed``: ``client.submit(execute, fn, params,
  pure=False)`` per run and ``as_completed`` (optional dependency: ``pip install
  'twolayer[dask]'``). The run function must be importable on the workers.
"""

from __future__ import annotations

import contextlib
import math
import os
import pickle
import signal
import socket
import sys
import threading
import time
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass

from .store import utc_now

EXECUTORS = ("local", "dask")
DASK_HINT = "pip install 'twolayer[dask]'"


@dataclass
class Outcome:
    """What a run produced: ``status`` 'done' (with ``metrics``) or 'failed' (with ``error``).

    Parameters
    ----------
    status : str
        ``"done"`` or ``"failed"``.
    metrics : dict or None
        The run function's JSON-safe result (None for a failed run).
    error : str or None
        ``"Type: message"`` of a failed run (None for a done one).
    started, finished : str or None
        ISO 8601 UTC times (:func:`~twolayer.sweep.store.utc_now`); ``started`` is None for a
        run whose worker died.
    seconds : float or None
        Wall time of the run function.
    host : str or None, optional
        The machine that ran it.
    traceback : str or None, optional
        The last frames of a failed run's traceback.
    """

    status: str
    metrics: dict | None
    error: str | None
    started: str | None
    finished: str | None
    seconds: float | None
    host: str | None = None
    traceback: str | None = None


def json_safe(value, path: str = "metrics"):
    """A JSON-serialisable copy of ``value``: numpy scalars/arrays become Python numbers and
    lists, tuples become lists, NaN and infinities become None. Raises TypeError otherwise.

    Parameters
    ----------
    value : object
        None, bool, str, int, float, dict (string keys), list, tuple, or a numpy scalar or
        array, nested freely.
    path : str, optional
        Name of ``value`` in error messages (default ``"metrics"``).

    Returns
    -------
    object
        The copy: None, bool, str, int, float, dict or list.

    Raises
    ------
    TypeError
        If a dict has a non-string key or a value is of another type.

    Examples
    --------
    >>> json_safe({"a": (1, float("nan")), "b": "x"})
    {'a': [1, None], 'b': 'x'}
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{path} has a non-string key {k!r}; metric names must be strings")
            out[k] = json_safe(v, f"{path}[{k!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [json_safe(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if hasattr(value, "tolist") and hasattr(value, "dtype"):  # numpy scalar or array
        return json_safe(value.tolist(), path)
    raise TypeError(f"{path} is a {type(value).__name__}, which cannot be stored as JSON")


def execute(fn: Callable[[dict], dict], params: dict) -> Outcome:
    """Call ``fn(params)`` and wrap the result (or the exception) in an :class:`Outcome`.

    Any ``Exception`` -- from ``fn``, a result that is not a dict, or metrics that
    :func:`json_safe` refuses -- gives a 'failed' outcome instead of propagating.

    Parameters
    ----------
    fn : callable
        The run function, params -> dict of metrics (called with a copy of ``params``).
    params : dict
        The run's parameters.

    Returns
    -------
    Outcome
        'done' with the JSON-safe metrics, or 'failed' with the error and traceback.
    """
    started, t0 = utc_now(), time.perf_counter()
    metrics, error, tb = None, None, None
    try:
        result = fn(dict(params))
        if not isinstance(result, dict):
            raise TypeError(f"the run function returned {type(result).__name__}; it must return a dict of metrics")
        metrics = json_safe(result)
    except Exception as exc:  # a failed run is a result, not a crash
        error = f"{type(exc).__name__}: {exc}"
        tb = traceback.format_exc(limit=-8)
    return Outcome(
        status="done" if error is None else "failed",
        metrics=metrics,
        error=error,
        started=started,
        finished=utc_now(),
        seconds=time.perf_counter() - t0,
        host=socket.gethostname(),
        traceback=tb,
    )


def crashed(error: str) -> Outcome:
    """An outcome for a run whose worker died or whose result never came back.

    Parameters
    ----------
    error : str
        The error message to record.

    Returns
    -------
    Outcome
        'failed', ``finished`` now; no metrics, start time, duration or host.
    """
    now = utc_now()
    return Outcome("failed", None, error, None, now, None)


class Executor(ABC):
    """Runs a function over parameter dicts; a context manager that releases its workers.

    Leaving the ``with`` block closes the executor, with ``abort=True`` when an exception
    (Ctrl-C included) is propagating.
    """

    #: a one-line description for logs ("2 local worker processes", ...).
    description = "executor"

    @abstractmethod
    def run(self, fn: Callable[[dict], dict], runs: Iterable[dict]) -> Iterator[tuple[dict, Outcome]]:
        """Yield ``(params, outcome)`` for every run, in order of completion.

        Parameters
        ----------
        fn : callable
            The run function, params -> dict of metrics.
        runs : iterable of dict
            The parameter dicts.

        Yields
        ------
        tuple
            ``(params, outcome)``, outcome an :class:`Outcome`.
        """

    def close(self, *, abort: bool = False) -> None:
        """Release the workers; ``abort`` stops runs still in flight (nothing to release by default).

        Parameters
        ----------
        abort : bool, optional
            Stop the runs still in flight instead of waiting for them (default False).

        Returns
        -------
        None
        """
        return None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(abort=exc_type is not None)
        return False


class SerialExecutor(Executor):
    """Every run in the calling process, one after the other."""

    description = "1 in-process worker"

    def run(self, fn, runs):
        """Yield ``(params, execute(fn, params))`` for each run, one after the other, in order.

        Parameters
        ----------
        fn : callable
            The run function, params -> dict of metrics.
        runs : iterable of dict
            The parameter dicts (consumed lazily).

        Yields
        ------
        tuple
            ``(params, outcome)``, outcome an :class:`Outcome`.
        """
        for params in runs:
            yield params, execute(fn, params)


# ----------------------------------------------------------------------------- local pool
def _watch_parent(parent_pid: int, interval: float = 0.2) -> None:
    while True:
        time.sleep(interval)
        if os.getppid() != parent_pid:
            os._exit(1)


#: environment variables that set a BLAS library's thread count when it is loaded.
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def worker_blas_threads(workers: int, cores: int | None = None) -> int:
    """BLAS threads of each of ``workers`` pool processes: the cores shared out, at least 1.

    Left alone, every worker's OpenBLAS starts one thread per core and spins waiting for work,
    so that two workers on two cores ran two cells of the universality suite 2.4 and 3.1 times
    slower (two measurements) than with one BLAS thread each, and slower than one worker
    (benchmarks/worker_threads.py).

    >>> worker_blas_threads(2, cores=2), worker_blas_threads(4, cores=16), worker_blas_threads(8, cores=4)
    (1, 4, 1)
    """
    cores = (os.cpu_count() or 1) if cores is None else cores
    return max(1, cores // max(1, workers))


def limit_blas_threads(threads: int) -> None:
    """Limit this process's BLAS libraries to ``threads`` threads, unless the user set a limit.

    The libraries already loaded are limited through threadpoolctl; the environment variables
    of :data:`BLAS_THREAD_VARIABLES` (set where unset) limit the ones loaded later. Nothing is
    changed when one of those variables is already set.
    """
    if any(name in os.environ for name in BLAS_THREAD_VARIABLES):
        return
    for name in BLAS_THREAD_VARIABLES:
        os.environ[name] = str(int(threads))
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=int(threads), user_api="blas")


def _worker_init(parent_pid: int, blas_threads: int | None = None) -> None:
    """Pool worker start-up: ignore Ctrl-C, die with the parent (no orphans), share the cores' BLAS threads."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if blas_threads is not None:
        limit_blas_threads(blas_threads)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True, name="parent-watchdog").start()


@contextlib.contextmanager
def _sigint_deferred():
    """Defer Ctrl-C (SIGINT) in the main thread while worker processes are started; raise it afterwards.

    Interrupted half-way, the parent leaves a worker without its start-up data (an EOFError traceback
    from the worker), or started but not yet recorded by the pool, so that the abort does not kill it.
    The signal is also blocked in this thread, so a worker starts with it blocked: a Ctrl-C to the whole
    process group cannot reach it before it ignores SIGINT.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    handler = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if hasattr(signal, "pthread_sigmask") else None
    try:
        yield
    finally:
        if blocked is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        signal.signal(signal.SIGINT, handler)
    if received and callable(handler):
        handler(signal.SIGINT, None)  # the default handler raises KeyboardInterrupt


def check_picklable(fn) -> None:
    """Raise ValueError when ``fn`` cannot be sent to worker processes.

    Parameters
    ----------
    fn : callable
        The run function.

    Returns
    -------
    None

    Raises
    ------
    ValueError
        If ``fn`` cannot be pickled (a lambda, a local function, ...).
    """
    try:
        pickle.dumps(fn)
    except Exception as exc:
        raise ValueError(
            f"the run function {getattr(fn, '__qualname__', fn)!r} cannot be sent to worker processes "
            f"({type(exc).__name__}: {exc}); define it at module level in an importable module, "
            "or use workers=1"
        ) from None


class LocalPoolExecutor(Executor):
    """A 'spawn' process pool of ``workers`` processes (default ``os.cpu_count()``).

    The pool is started by the first :meth:`run` and restarted when a worker dies. Each worker's
    BLAS uses :func:`worker_blas_threads` threads (cores // workers, at least 1), unless
    ``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS`` is set. The thread count
    can change the last digits of BLAS-heavy results; data runs fix their own
    (:data:`twolayer.universality.DATA_BLAS_THREADS`), so theirs do not depend on the worker count.

    Parameters
    ----------
    workers : int or None, optional
        Number of worker processes, >= 1 (None: ``os.cpu_count()``).

    Raises
    ------
    ValueError
        If ``workers`` is not an integer >= 1.
    """

    def __init__(self, workers: int | None = None):
        workers = (os.cpu_count() or 1) if workers is None else workers
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
        self.workers = workers
        self.description = f"{workers} local worker process{'es' if workers > 1 else ''}"
        self._pool = None

    def _new_pool(self):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_init,
            initargs=(os.getpid(), worker_blas_threads(self.workers)),
        )

    def run(self, fn, runs):
        """Yield ``(params, outcome)`` for every run, in order of completion, ``workers`` in flight.

        A run whose worker died (or whose result could not be sent back) gets a 'failed'
        outcome from :func:`crashed`; when the pool breaks, every run then in flight is
        recorded so and a new pool is started for the rest.

        Parameters
        ----------
        fn : callable
            The run function, params -> dict of metrics; must be picklable (defined at module
            level in an importable module).
        runs : iterable of dict
            The parameter dicts (consumed as workers become free).

        Yields
        ------
        tuple
            ``(params, outcome)``, outcome an :class:`Outcome`.

        Raises
        ------
        ValueError
            If ``fn`` cannot be pickled (raised when iteration starts, :func:`check_picklable`).
        """
        from concurrent.futures.process import BrokenProcessPool

        check_picklable(fn)
        todo = iter(runs)
        inflight = {}
        self._pool = self._pool or self._new_pool()

        def fill():
            while len(inflight) < self.workers:
                params = next(todo, None)
                if params is None:
                    return
                with _sigint_deferred():  # submit may start a worker process
                    inflight[self._pool.submit(execute, fn, params)] = params

        fill()
        while inflight:
            finished, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
            broken = False
            for future in finished:
                params = inflight.pop(future)
                try:
                    outcome = future.result()
                except BrokenProcessPool as exc:
                    broken = True
                    outcome = crashed(
                        f"BrokenProcessPool: a worker process died while this run was in flight "
                        f"(killed, out of memory, or crashed: {exc}); it is retried on the next start"
                    )
                except Exception as exc:  # e.g. the result could not be sent back
                    outcome = crashed(f"{type(exc).__name__}: {exc}")
                yield params, outcome
            if broken:  # every run in flight is lost with the pool: record them, start afresh
                for _future, params in list(inflight.items()):
                    yield params, crashed(
                        "BrokenProcessPool: a worker process died while this run was in flight; "
                        "it is retried on the next start"
                    )
                inflight.clear()
                self.close(abort=True)
                self._pool = self._new_pool()
            fill()

    def close(self, *, abort: bool = False) -> None:
        """Shut the pool down: wait for the runs in flight, or with ``abort`` cancel and kill them.

        Parameters
        ----------
        abort : bool, optional
            Cancel the pending runs and kill the worker processes (default False: wait).

        Returns
        -------
        None
        """
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if not abort:
            pool.shutdown(wait=True)
            return
        processes = list(getattr(pool, "_processes", {}).values())  # private, but stable since 3.8
        pool.shutdown(wait=False, cancel_futures=True)
        for p in processes:
            if p.is_alive():
                p.kill()
        for p in processes:
            p.join(timeout=5)


# ----------------------------------------------------------------------------- dask
class DaskExecutor(Executor):
    """Runs on a Dask cluster: the scheduler at ``scheduler`` (an address such as
    tcp://host:8786), a given ``client``, or (neither) a new local cluster of ``workers``
    single-threaded processes.

    Parameters
    ----------
    scheduler : str or None, optional
        Address of a running Dask scheduler.
    client : dask.distributed.Client or None, optional
        A client to use (takes precedence over ``scheduler``; not closed by :meth:`close`).
    workers : int or None, optional
        Worker processes of the new local cluster (None: ``os.cpu_count()``).

    Raises
    ------
    ValueError
        If dask.distributed is not installed, or the scheduler cannot be reached.
    """

    def __init__(self, scheduler: str | None = None, *, client=None, workers: int | None = None):
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise ValueError(f"executor 'dask' needs dask.distributed, which is not installed: {DASK_HINT}") from None
        self._own = client is None
        self._cluster = None
        self._futures = []
        if client is not None:
            self.client = client
            self.description = f"Dask cluster at {client.scheduler.address}"
        elif scheduler:
            try:
                self.client = Client(scheduler, timeout="20s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise ValueError(
                    f"cannot connect to the Dask scheduler at {scheduler!r} ({type(exc).__name__}: {exc}); "
                    "start one with 'dask scheduler' and pass its address, e.g. tcp://HOST:8786"
                ) from None
            self.description = f"Dask cluster at {scheduler}"
        else:
            n = workers or (os.cpu_count() or 1)
            self._cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True)
            self.client = Client(self._cluster)
            self.description = f"local Dask cluster of {n} worker process{'es' if n > 1 else ''}"

    def run(self, fn, runs):
        """Submit every run at once; yield ``(params, outcome)`` in order of completion.

        A task that is lost (e.g. its worker was killed) gets a 'failed' outcome from
        :func:`crashed`.

        Parameters
        ----------
        fn : callable
            The run function, params -> dict of metrics; must be importable on the workers.
        runs : iterable of dict
            The parameter dicts.

        Yields
        ------
        tuple
            ``(params, outcome)``, outcome an :class:`Outcome`.
        """
        from dask.distributed import as_completed

        params_of = {}
        for params in runs:
            future = self.client.submit(execute, fn, params, pure=False)
            params_of[future] = params
        self._futures = list(params_of)
        for future in as_completed(self._futures):
            params = params_of[future]
            try:
                outcome = future.result()
            except Exception as exc:  # the worker died (KilledWorker), the task was lost, ...
                outcome = crashed(f"{type(exc).__name__}: {exc}")
            future.release()
            yield params, outcome
        self._futures = []

    def close(self, *, abort: bool = False) -> None:
        """Cancel the runs in flight (with ``abort``); close the client and cluster this executor made.

        Parameters
        ----------
        abort : bool, optional
            Cancel the tasks still in flight (default False).

        Returns
        -------
        None
        """
        if abort and self._futures:
            try:
                self.client.cancel(self._futures)
            except Exception:  # the connection may already be gone
                pass
        self._futures = []
        if self._own:
            self.client.close()
            if self._cluster is not None:
                self._cluster.close()


def check_executor_args(kind, workers=None, scheduler=None) -> None:
    """Validate executor arguments (before anything is created); raises ValueError.

    Parameters
    ----------
    kind : str
        ``"local"`` or ``"dask"``.
    workers : int or None, optional
        Number of workers, an integer >= 1, or None.
    scheduler : str or None, optional
        Dask scheduler address (executor ``"dask"`` only).

    Returns
    -------
    None

    Raises
    ------
    ValueError
        If ``kind`` is unknown, ``workers`` is not an integer >= 1, ``"dask"`` is asked for
        without dask.distributed installed, or a ``scheduler`` is given to ``"local"``.
    """
    if kind not in EXECUTORS:
        raise ValueError(f"unknown executor {kind!r}; accepted: {', '.join(EXECUTORS)}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    if kind == "dask":
        import importlib.util

        if importlib.util.find_spec("distributed") is None:
            raise ValueError(f"executor 'dask' needs dask.distributed, which is not installed: {DASK_HINT}")
    elif scheduler is not None:
        raise ValueError("a scheduler address is for executor 'dask'; the local executor takes only workers")


def make_executor(kind: str = "local", workers: int | None = None, scheduler: str | None = None) -> Executor:
    """``"local"``: a process pool of ``workers`` (default os.cpu_count()), in-process when
    workers = 1; ``"dask"``: the cluster at ``scheduler`` (a new local one without it).

    Parameters
    ----------
    kind : str, optional
        ``"local"`` (default) or ``"dask"``.
    workers : int or None, optional
        Number of workers, >= 1 (None: ``os.cpu_count()``).
    scheduler : str or None, optional
        Dask scheduler address (``"dask"`` only).

    Returns
    -------
    Executor
        A :class:`SerialExecutor`, :class:`LocalPoolExecutor` or :class:`DaskExecutor`.

    Raises
    ------
    ValueError
        As :func:`check_executor_args`, or if the Dask scheduler cannot be reached.
    """
    check_executor_args(kind, workers, scheduler)
    if kind == "dask":
        return DaskExecutor(scheduler, workers=workers)
    if workers == 1:
        return SerialExecutor()
    return LocalPoolExecutor(workers)
