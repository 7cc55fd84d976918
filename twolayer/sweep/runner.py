r"""Run a sweep: spec -> pending runs -> executor -> results store, resumable at any moment.

On start the runner reads the run keys already in the store and submits only the runs of
the spec that are not 'done'. Runs recorded as 'failed' are tried again (``retry_failed=True``,
the default: a failure may come from a bug since fixed, a full disk or a lost worker; pass
``retry_failed=False`` to leave them as they are). Workers return outcomes; this process
alone writes them, each in its own transaction, in order of completion. So the sweep may be
killed at any moment -- ``kill -9`` included -- and the same command started again finishes
the grid with no run lost and none duplicated; a complete sweep started again does nothing.

A run is identified by the hash of its parameters only (:func:`twolayer.sweep.spec.run_key`),
so several specs may share one database: a run already done under another spec is not
redone (its row keeps the ``spec_hash`` of the spec that produced it).

Command line: ``twolayer sweep SPEC.toml --out RESULTS.sqlite [--workers K] [--executor
local|dask] [--scheduler ADDRESS] [--run-fn MODULE:FUNCTION] [--no-progress] [--skip-failed]``
(:mod:`twolayer.cli` prints; this module returns a :class:`SweepReport`).
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from .executors import Executor, make_executor
from .spec import SweepSpec, load_spec, run_key
from .store import ResultStore
from .train_run import default_run

__all__ = ["SweepReport", "default_run", "resolve_run_fn", "run_sweep"]


@dataclass
class SweepReport:
    """What :func:`run_sweep` did: ``total`` runs in the spec, ``already_done`` before it
    started, ``submitted`` to the executor, of which ``done`` and ``failed``; ``skipped_failed``
    failed runs left alone (retry_failed=False); ``seconds`` spent running.

    Parameters
    ----------
    name : str
        The spec's name.
    spec_hash : str
        The spec's hash.
    total : int
        Runs in the spec.
    already_done : int
        Runs already 'done' in the store when the sweep started.
    submitted, done, failed : int, optional
        Runs given to the executor, and how many of them ended 'done' and 'failed'.
    skipped_failed : int, optional
        Runs recorded as 'failed' and not retried (``retry_failed=False``).
    seconds : float, optional
        Wall time spent running (0 when there was nothing to run).
    """

    name: str
    spec_hash: str
    total: int
    already_done: int
    submitted: int = 0
    done: int = 0
    failed: int = 0
    skipped_failed: int = 0
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        """Every run of the spec is 'done' in the store.

        Returns
        -------
        bool
            ``already_done + done == total``.
        """
        return self.already_done + self.done == self.total


def resolve_run_fn(run_fn) -> Callable[[dict], dict]:
    """None -> :func:`default_run`; a callable as it is; ``"module:function"`` imported.

    Parameters
    ----------
    run_fn : None, callable or str
        The run function, or ``"module:function"`` (the function may be a dotted attribute
        path, ``"module:Class.method"``).

    Returns
    -------
    callable
        params -> dict of metrics.

    Raises
    ------
    ValueError
        If ``run_fn`` is of another type or form, the module cannot be imported, the
        attribute is missing, or it is not callable.
    """
    if run_fn is None:
        return default_run
    if callable(run_fn):
        return run_fn
    if not isinstance(run_fn, str) or run_fn.count(":") != 1:
        raise ValueError(f"run function must be a callable or 'module:function', got {run_fn!r}")
    module_name, attr = run_fn.split(":")
    try:
        obj = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"run function {run_fn!r}: cannot import module {module_name!r} ({exc})") from None
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise ValueError(f"run function {run_fn!r}: {module_name!r} has no attribute {attr!r}")
    if not callable(obj):
        raise ValueError(f"run function {run_fn!r} is not callable")
    return obj


def _describe(params: dict, varying) -> str:
    return ", ".join(f"{k}={params[k]}" for k in varying if k in params) or "run"


def run_sweep(
    spec,
    store,
    *,
    run_fn=None,
    executor="local",
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = False,
    retry_failed: bool = True,
    log: Callable[[str], None] | None = None,
    key_version: str | None = None,
) -> SweepReport:
    """Run every run of ``spec`` that ``store`` does not hold as 'done'; return a :class:`SweepReport`.

    spec: a :class:`SweepSpec` or the path of a TOML spec (validated before anything runs).
    store: a :class:`ResultStore` or a database path (created if missing).
    run_fn: params -> dict of metrics (default :func:`default_run`), or "module:function".
    executor: "local" (process pool of ``workers``, default os.cpu_count(); in-process when
        workers = 1), "dask" (``scheduler`` address; a new local cluster without one), or an
        :class:`Executor` instance.
    progress: a tqdm bar on stderr (done / total, time left). log: called with one-line
        messages (start, failures, end); None = silent.

    Parameters
    ----------
    spec : SweepSpec, str or os.PathLike
        The spec, or the path of a TOML spec.
    store : ResultStore, str or os.PathLike
        The store (left open), or a database path (opened, created if missing, and closed).
    run_fn : None, callable or str, optional
        The run function (:func:`resolve_run_fn`).
    executor : str or Executor, optional
        ``"local"`` (default), ``"dask"``, or an executor (closed after the runs, when there
        are any to do).
    workers : int or None, optional
        Worker count; for ``"local"`` capped at the number of runs to do (one run to do:
        in-process).
    scheduler : str or None, optional
        Dask scheduler address.
    progress : bool, optional
        Show a progress bar (default False).
    retry_failed : bool, optional
        Run again the runs recorded as 'failed' (default True).
    log : callable or None, optional
        Receives one-line messages (default None: silent).
    key_version : str or None, optional
        Key the runs by this version too (``run_key(params, version=...)``; the figures' caches, so
        that another version of the code reruns them); default None: by their parameters alone.

    Returns
    -------
    SweepReport
        What was run, done and failed.

    Raises
    ------
    SpecError
        If the spec file is missing or invalid.
    StoreError
        If the database cannot be opened or created.
    ValueError
        If ``run_fn`` cannot be resolved, the executor arguments are invalid, or the run
        function cannot be sent to worker processes (these two are checked only when there
        are runs to do).
    """
    spec = spec if isinstance(spec, SweepSpec) else load_spec(spec)
    run_fn = resolve_run_fn(run_fn)
    say = log or (lambda message: None)
    own_store = not isinstance(store, ResultStore)
    store = ResultStore(store) if own_store else store
    try:
        return _run(spec, store, run_fn, executor, workers, scheduler, progress, retry_failed, say, key_version)
    finally:
        if own_store:
            store.close()


def _run(spec, store, run_fn, executor, workers, scheduler, progress, retry_failed, say,
         key_version=None) -> SweepReport:
    from tqdm.auto import tqdm

    from .. import __version__

    statuses = store.statuses()
    keys = [run_key(p, version=key_version) for p in spec.runs]
    already = sum(statuses.get(k) == "done" for k in keys)
    failed_before = sum(statuses.get(k) == "failed" for k in keys)
    pending = [
        p for p, k in zip(spec.runs, keys)
        if statuses.get(k) != "done" and (retry_failed or statuses.get(k) != "failed")
    ]
    report = SweepReport(spec.name, spec.hash, len(spec.runs), already,
                         skipped_failed=0 if retry_failed else failed_before)
    if not pending:
        if failed_before:  # only with retry_failed=False
            say(f"sweep {spec.name!r}: nothing to run; {already} of {len(spec.runs)} runs done in {store.path}, "
                f"{failed_before} failed runs left as they are (not retried)")
        else:
            say(f"all {already} of {len(spec.runs)} runs of sweep {spec.name!r} are already done in {store.path}; "
                "nothing to do")
        return report

    if not isinstance(executor, Executor):
        if executor == "local":  # no more worker processes than runs to do
            workers = min(workers or os.cpu_count() or 1, len(pending))
        executor = make_executor(executor, workers, scheduler)
    store.add_spec(spec)
    retry = f", {failed_before} failed to retry" if retry_failed and failed_before else ""
    say(f"sweep {spec.name!r}: {len(pending)} of {len(spec.runs)} runs to go ({already} done{retry}) "
        f"on {executor.description}; results in {store.path}")
    varying = list(spec.grid)
    start = time.perf_counter()
    bar = tqdm(total=len(spec.runs), initial=already, disable=not progress, file=sys.stderr,
               desc=spec.name, unit="run", dynamic_ncols=True)
    try:
        with executor:
            for params, outcome in executor.run(run_fn, pending):
                store.record(params, outcome, spec_hash=spec.hash, spec_name=spec.name, version=__version__,
                             key=run_key(params, version=key_version))
                report.submitted += 1
                if outcome.status == "done":
                    report.done += 1
                else:
                    report.failed += 1
                    message = f"failed: {_describe(params, varying)}: {outcome.error}"
                    if progress:
                        bar.write(message, file=sys.stderr)
                    else:
                        say(message)
                bar.update(1)
                if report.failed:
                    bar.set_postfix(failed=report.failed, refresh=False)
    finally:  # on Ctrl-C the executor stops its workers; the rows written so far stay
        bar.close()
        report.seconds = time.perf_counter() - start
    return report
