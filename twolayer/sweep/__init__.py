r"""Parameter sweeps and a results store.

A TOML spec (``[grid]`` of lists, ``[defaults]``, optional ``[sweep]``; see
``simulations/README.md``) expands to runs; each run is a dict of the run options of
:data:`twolayer.config.OPTIONS` that a run function (default:
:func:`~twolayer.sweep.train_run.default_run`, which calls :func:`twolayer.run`) turns into a
record; an executor (in-process, a local
'spawn' process pool, or Dask) runs them; the parent process writes every outcome to an
SQLite file, one transaction per run, so a sweep can be killed and resumed at any moment.

>>> from twolayer.sweep import loads_spec
>>> spec = loads_spec('[grid]\nrate = [0.25, 0.5]\n[defaults]\nd = 64\nsteps = 100')
>>> len(spec), [run["rate"] for run in spec.runs], spec.runs[0]["method"]   # resolved options
(2, [0.25, 0.5], 'population')
>>> report = run_sweep(spec, "results.sqlite", workers=2)    # doctest: +SKIP

Modules: :mod:`.spec` (spec format, validation, hashing), :mod:`.store` (SQLite store),
:mod:`.executors` (serial / process pool / Dask), :mod:`.train_run` (the default run
function), :mod:`.runner` (:func:`run_sweep`), :mod:`.results` (tables and CSV; ``twolayer
results`` prints them), :mod:`.fakes` (deterministic stand-in run functions).
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
from .results import csv_table, format_rows, select, write_csv
from .runner import SweepReport, resolve_run_fn, run_sweep
from .spec import KEYS, SpecError, SweepSpec, load_spec, loads_spec, run_key, spec_from_dict
from .store import METRIC_COLUMNS, ResultStore, StoreError, StoreFullError, parse_filter
from .train_run import default_run

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
    "StoreFullError",
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
    "run_key",
    "run_sweep",
    "select",
    "spec_from_dict",
    "write_csv",
]
