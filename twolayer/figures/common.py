"""Shared pieces of the reproduce-figure scripts: specs, cached sweeps, plotting style, output files.

Each figure runs an ordinary sweep spec from the top-level ``simulations/`` folder
(``NAME.toml``, or ``NAME.quick.toml`` with ``--quick``) into ``OUT/NAME.sqlite``, so an
interrupted figure resumes where it stopped and a finished one is re-plotted for free, then
writes ``OUT/NAME.png``, ``OUT/NAME.pdf`` and ``OUT/NAME.csv`` (the plotted numbers).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

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
    """What a figure command produced: its files and a short table for the terminal."""

    name: str
    files: list[Path] = field(default_factory=list)
    summary: list[dict] = field(default_factory=list)


def specs_folder() -> Path:
    """The top-level ``simulations/`` folder of the checkout (``TWOLAYER_SPECS`` overrides it)."""
    env = os.environ.get("TWOLAYER_SPECS")
    folder = Path(env) if env else Path(__file__).resolve().parents[2] / "simulations"
    if not folder.is_dir():
        raise ValueError(
            f"the figure specs folder {str(folder)!r} was not found; run from a checkout of twolayer "
            "(pip install -e .) or set TWOLAYER_SPECS to a folder holding the simulations/*.toml specs"
        )
    return folder


def spec_path(name: str, quick: bool) -> Path:
    path = specs_folder() / (f"{name}.quick.toml" if quick else f"{name}.toml")
    if not path.is_file():
        raise ValueError(f"figure spec {str(path)!r} is missing")
    return path


def run_spec(name: str, out: Path, *, quick: bool, workers: int | None, progress: bool) -> list[dict]:
    """Run (or resume) the sweep ``simulations/NAME[.quick].toml`` into ``out/NAME[.quick].sqlite``.

    Returns the 'done' rows of that spec as flat dicts: parameters, then metrics.
    """
    from ..sweep import ResultStore, load_spec, run_sweep

    spec = load_spec(spec_path(name, quick))
    db = out / (f"{name}.quick.sqlite" if quick else f"{name}.sqlite")
    report = run_sweep(spec, db, workers=workers, progress=progress)
    if report.failed:
        raise RuntimeError(f"{report.failed} run(s) of {spec_path(name, quick).name} failed; see `twolayer results {db}`")
    with ResultStore(db, create=False) as store:
        rows = store.rows([f"spec_hash={spec.hash}", "status=done"])
    return [{**row["params"], **row["metrics"]} for row in rows]


def write_csv(path: Path, rows: list[dict]) -> Path:
    """The plotted numbers, one row per point (columns: the union of the keys, in order)."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def save(fig, out: Path, name: str) -> list[Path]:
    """Write ``name.png`` and ``name.pdf`` into ``out`` and close the figure."""
    paths = [out / f"{name}.png", out / f"{name}.pdf"]
    for path in paths:
        fig.savefig(path)
    plt.close(fig)
    return paths


def figure(size=ONE_PANEL, ncols: int = 1):
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, ncols, figsize=size, constrained_layout=True)
    return fig, axes


def styled(fn):
    """Run a plotting function under :data:`STYLE`."""

    def wrapper(*args, **kwargs):
        with plt.rc_context(STYLE):
            return fn(*args, **kwargs)

    wrapper.__name__, wrapper.__doc__ = fn.__name__, fn.__doc__
    return wrapper
