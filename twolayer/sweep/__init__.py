"""Parameter sweeps and a results store.

A TOML spec (``[grid]`` of lists, ``[defaults]``, optional ``[sweep]``; see
``simulations/README.md``) expands to runs; each run is a dict of ``train`` parameters that a
run function (default: :func:`~twolayer.sweep.runner.default_run`, which calls
:func:`twolayer.simulations.train`) turns into metrics; an executor (in-process, a local
'spawn' process pool, or Dask) runs them; the parent process writes every outcome to an
SQLite file, one transaction per run, so a sweep can be killed and resumed at any moment.

>>> from twolayer.sweep import load_spec, run_sweep                        # doctest: +SKIP
>>> report = run_sweep(load_spec("simulations/example.toml"), "results.sqlite", workers=2)

Modules: :mod:`.spec` (spec format, validation, hashing), :mod:`.store` (SQLite store),
:mod:`.executors` (serial / process pool / Dask), :mod:`.train_run` (the default run
function), :mod:`.runner` (:func:`run_sweep`, :func:`sweep_main`), :mod:`.results`
(:func:`results_main`: table and CSV), :mod:`.fakes` (deterministic stand-in run functions).
"""

from .executors import (
    DaskExecutor,
    Executor,
    LocalPoolExecutor,
    Outcome,
    SerialExecutor,
    execute,
    make_executor,
)
from .results import csv_table, format_rows, results_main, write_csv
from .runner import SweepReport, resolve_run_fn, run_sweep, sweep_main
from .spec import KEYS, SpecError, SweepSpec, load_spec, loads_spec, run_key, spec_from_dict
from .store import METRIC_COLUMNS, ResultStore, StoreError, parse_filter
from .train_run import default_run, train_arguments

__all__ = [
    "KEYS",
    "METRIC_COLUMNS",
    "DaskExecutor",
    "Executor",
    "LocalPoolExecutor",
    "Outcome",
    "ResultStore",
    "SerialExecutor",
    "SpecError",
    "StoreError",
    "SweepReport",
    "SweepSpec",
    "csv_table",
    "default_run",
    "execute",
    "format_rows",
    "load_spec",
    "loads_spec",
    "make_executor",
    "parse_filter",
    "resolve_run_fn",
    "results_main",
    "run_key",
    "run_sweep",
    "spec_from_dict",
    "sweep_main",
    "train_arguments",
    "write_csv",
]
