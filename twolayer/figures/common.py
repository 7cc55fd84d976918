"""Shared pieces of the reproduce-figure scripts: specs, cached sweeps, plotting style, output files.

Each figure runs an ordinary sweep spec from the top-level ``simulations/`` folder (installed
as the package data ``twolayer.specs``; ``NAME.toml``, or ``NAME.quick.toml`` with ``--quick``)
into ``OUT/NAME.sqlite``, so an interrupted figure resumes where it stopped and a finished one
is re-plotted for free, then writes ``OUT/NAME.png``, ``OUT/NAME.pdf`` and ``OUT/NAME.csv``
(the plotted numbers). The cached runs are keyed by their options and the package version
(:func:`twolayer.sweep.run_key` with ``version``), so a run of another version, or with other
options, is run again; one line on stderr says how many runs were reused from the file.

Figures are drawn on :class:`matplotlib.figure.Figure` objects, never through pyplot, so
making one neither needs nor changes matplotlib's backend.
"""

from __future__ import annotations

import csv
import functools
import importlib.resources
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

#: single-column paper figure (inches); two panels use TWO_PANELS.
ONE_PANEL = (5.0, 3.6)
TWO_PANELS = (10.0, 3.8)
STYLE = {
    "font.size": 10,
    "axes.labelsize": 10,
    "axes.titlesize": 10.5,
    "legend.fontsize": 8.5,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.dpi": 150,
    "savefig.bbox": "tight",
}


@dataclass
class FigureOutput:
    """What a figure command produced: its files and a short table for the terminal.

    Parameters
    ----------
    name : str
        The figure's name.
    files : list of Path, optional
        The files written (PNG, PDF, CSV).
    summary : list of dict, optional
        Rows of theory against simulation, for the terminal.
    """

    name: str
    files: list[Path] = field(default_factory=list)
    summary: list[dict] = field(default_factory=list)


def specs_folder():
    """The figure specs: the package data ``twolayer.specs`` (``TWOLAYER_SPECS`` names another folder).

    Returns
    -------
    importlib.resources.abc.Traversable or Path
        The folder holding the ``*.toml`` specs.

    Raises
    ------
    ValueError
        If ``TWOLAYER_SPECS`` is set and is not a folder.
    """
    env = os.environ.get("TWOLAYER_SPECS")
    if not env:
        return importlib.resources.files("twolayer.specs")
    folder = Path(env)
    if not folder.is_dir():
        raise ValueError(f"TWOLAYER_SPECS={env!r} is not a folder; it must hold the simulations/*.toml specs")
    return folder


def load_figure_spec(name: str, quick: bool):
    """The validated sweep spec of figure ``name`` (its quick form with ``quick``).

    Parameters
    ----------
    name : str
        The spec's name, e.g. ``"isotropic"``.
    quick : bool
        Load ``NAME.quick.toml`` instead of ``NAME.toml``.

    Returns
    -------
    SweepSpec
        The spec (its source is the file name).

    Raises
    ------
    ValueError
        If the file is missing from :func:`specs_folder` (:class:`~twolayer.sweep.SpecError`,
        a ValueError, if it is invalid).
    """
    from ..sweep import loads_spec

    file = f"{name}.quick.toml" if quick else f"{name}.toml"
    resource = specs_folder() / file
    if not resource.is_file():
        raise ValueError(f"figure spec {file!r} is missing from {specs_folder()}")
    return loads_spec(resource.read_text(encoding="utf-8"), file)


def run_spec(name: str, out: Path, *, quick: bool, workers: int | None, progress: bool) -> list[dict]:
    """Run (or resume) the sweep ``simulations/NAME[.quick].toml`` into ``out/NAME[.quick].sqlite``.

    Returns the 'done' rows of that spec as flat dicts: parameters, then metrics. Runs are keyed by
    their options and the package version, so a file written by another version (or with other
    options) has its runs run again; when runs are reused, one line on stderr says how many.

    Parameters
    ----------
    name : str
        The spec's name (:func:`load_figure_spec`).
    out : Path
        The output folder (must exist).
    quick : bool
        Use the quick spec and database.
    workers : int or None
        Worker processes (None: ``os.cpu_count()``, at most one per run to do).
    progress : bool
        Show a progress bar.

    Returns
    -------
    list of dict
        One dict per run of the spec (in the spec's order), all 'done': parameters updated
        with metrics. Rows are found by run key, so runs done earlier under another spec
        (another ``spec_hash``) in the same file are included.

    Raises
    ------
    RuntimeError
        If any run of the sweep failed.
    ValueError
        If the spec is missing or invalid, or the database cannot be used
        (:class:`~twolayer.sweep.StoreError`).
    """
    from .._version import __version__
    from ..sweep import ResultStore, run_key, run_sweep
    from ..sweep.spec import canonical_json

    spec = load_figure_spec(name, quick)
    db = out / (f"{name}.quick.sqlite" if quick else f"{name}.sqlite")
    report = run_sweep(spec, db, workers=workers, progress=progress, key_version=__version__)
    if report.failed:
        raise RuntimeError(f"{report.failed} run(s) of {spec.source} failed; see `twolayer results {db}`")
    with ResultStore(db, create=False) as store:
        done = {row["run_key"]: row for row in store.rows(["status=done"])}
    rows = [done[run_key(params, version=__version__)] for params in spec.runs]  # complete: run_sweep raised otherwise
    if report.already_done:
        print(f"reused {report.already_done} of {report.total} runs of {spec.source} cached in {db} (same options, "
              f"twolayer {__version__}); delete that file to run them again", file=sys.stderr, flush=True)
    wanted, used = {canonical_json(p) for p in spec.runs}, {row["run_key"] for row in rows}
    older = [row for row in done.values() if row["run_key"] not in used and canonical_json(row["params"]) in wanted]
    if older and report.submitted:
        versions = ", ".join(sorted({str(row["version"]) for row in older}))
        print(f"ran {report.submitted} runs of {spec.source} again: the {len(older)} cached in {db} with the same "
              f"options come from another version of twolayer ({versions}; kept in the file, not used)",
              file=sys.stderr, flush=True)
    return [{**row["params"], **row["metrics"]} for row in rows]


def write_csv(path: Path, rows: list[dict]) -> Path:
    """The plotted numbers, one row per point (columns: the union of the keys, in order).

    Parameters
    ----------
    path : Path
        The CSV file (overwritten).
    rows : list of dict
        The points; a key missing from a row gives an empty cell.

    Returns
    -------
    Path
        ``path``.
    """
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def save(fig: Figure, out: Path, name: str) -> list[Path]:
    """Write ``name.png`` and ``name.pdf`` into ``out``.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    out : Path
        The output folder.
    name : str
        The base name of the files.

    Returns
    -------
    list of Path
        The PNG and PDF paths.
    """
    paths = [out / f"{name}.png", out / f"{name}.pdf"]
    for path in paths:
        fig.savefig(path)
    return paths


def figure(size=ONE_PANEL, nrows: int = 1, ncols: int = 1, **subplots):
    """A new :class:`~matplotlib.figure.Figure` (constrained layout) and its axes (no pyplot).

    Parameters
    ----------
    size : tuple of float, optional
        Width and height in inches (default :data:`ONE_PANEL`).
    nrows, ncols : int, optional
        The grid of axes (default 1 x 1).
    **subplots
        Passed to :meth:`matplotlib.figure.Figure.subplots` (``squeeze``, ``sharex``, ...).

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure.
    axes : matplotlib.axes.Axes or ndarray of Axes
        As :meth:`~matplotlib.figure.Figure.subplots` returns them.
    """
    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.subplots(nrows, ncols, **subplots)


def legend_entries(axes) -> dict:
    """Label -> handle of every labelled artist of ``axes``, each label once, in order of appearance.

    A figure-level legend built from it lists a series that only some panels draw.

    Parameters
    ----------
    axes : iterable of matplotlib.axes.Axes
        The panels (e.g. ``axes.flat``).

    Returns
    -------
    dict
        The first handle of each label.
    """
    entries: dict = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    return entries


def styled(fn):
    """Run a plotting function under :data:`STYLE` (rcParams restored afterwards).

    Parameters
    ----------
    fn : callable
        The plotting function.

    Returns
    -------
    callable
        A wrapper with the same signature and docstring.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(STYLE):
            return fn(*args, **kwargs)

    return wrapper
