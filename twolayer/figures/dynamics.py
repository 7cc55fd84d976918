"""Figure learning-curves: simulated learning curves at several d beside their predicted limits.

Left panel: the linear autoencoder from a tied start, plain and denoising (sweep
``learning-curves-linear``; exact Marchenko-Pastur curves). Right panel: the sign autoencoder
with the optimal decoder (sweep ``learning-curves-sign``; the spectral map from
Marchenko-Pastur, derived). Time is the gradient-flow time t = 2 lr x steps (theory/dynamics.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..theory.linear_dynamics import marchenko_pastur_curve
from ..theory.sign_dynamics import limit_curve
from .common import TWO_PANELS, FigureOutput, figure, run_spec, save, styled, write_csv

#: simulated points drawn per curve (every point is in the CSV).
POINTS_PER_CURVE = 25
MARKERS = ("o", "s", "^", "D", "v")


def _panel(ax, rows, series_key, label_of, theory_of, table, summary, panel):
    """Draw one panel: per series a theory line and the simulations at each d (markers)."""
    ds = sorted({row["d"] for row in rows})
    for colour, value in enumerate(sorted({row[series_key] for row in rows})):
        group = [row for row in rows if row[series_key] == value]
        t_max = max(max(row["curve_time"]) for row in group)
        grid = np.linspace(0.0, t_max, 400)
        curve = theory_of(max(group, key=lambda r: r["d"]), grid)  # r = n/d as run at the largest d
        ax.plot(grid, curve, "-", color=f"C{colour}", lw=1.5, label=f"{label_of(value)}: theory (limit)")
        table += [{"panel": panel, "series": label_of(value), "kind": "theory", "d": "", "time": float(t),
                   "risk": float(r)} for t, r in zip(grid, curve)]
        for row in sorted(group, key=lambda r: r["d"]):
            t, risk = np.asarray(row["curve_time"]), np.asarray(row["curve_risk"])
            keep = np.unique(np.linspace(0, t.size - 1, POINTS_PER_CURVE).round().astype(int))
            ax.plot(t[keep], risk[keep], MARKERS[ds.index(row["d"]) % len(MARKERS)], color=f"C{colour}", mfc="none",
                    ms=4, ls="none", label=f"GD, d = {row['d']}" if colour == 0 else None)
            table += [{"panel": panel, "series": label_of(value), "kind": "simulation", "d": row["d"],
                       "time": float(a), "risk": float(b)} for a, b in zip(t, risk)]
        largest = max(group, key=lambda r: r["d"])
        t, risk = np.asarray(largest["curve_time"]), np.asarray(largest["curve_risk"])
        limit = theory_of(largest, t)
        worst = int(np.argmax(np.abs(risk - limit)))
        summary.append({"figure": "learning-curves", "quantity": f"R(t), largest gap ({label_of(value)})",
                        "d": largest["d"], "rate": largest["rate"], "theory": float(limit[worst]),
                        "simulation": float(risk[worst])})


@styled
def learning_curves(out: Path, *, quick: bool = False, workers=None, progress=False) -> FigureOutput:
    """Learning curves R(t) of population gradient descent against their predicted limits (two panels).

    Parameters
    ----------
    out : Path
        The output folder (must exist): the sweep databases, PNG, PDF and CSV go there.
    quick : bool, optional
        Run the quick specs (smaller d; default False).
    workers : int or None, optional
        Worker processes of the sweeps (None: ``os.cpu_count()``).
    progress : bool, optional
        Show the sweeps' progress bars (default False).

    Returns
    -------
    FigureOutput
        The files (learning-curves.png, .pdf, .csv) and, per curve at the largest d, the point of
        largest gap between the simulation and the limit.

    Raises
    ------
    RuntimeError
        If a run of a sweep failed.
    """
    linear = run_spec("learning-curves-linear", out, quick=quick, workers=workers, progress=progress)
    sign = run_spec("learning-curves-sign", out, quick=quick, workers=workers, progress=progress)
    fig, (left, right) = figure(TWO_PANELS, 1, 2)
    table, summary = [], []
    _panel(left, linear, "noise", lambda s2: "plain" if s2 == 0 else f"denoising, s² = {s2:g}",
           lambda row, t: marchenko_pastur_curve(t, row["rate"], row["init_scale"], noise=row["noise"]),
           table, summary, "linear")
    first = max(linear, key=lambda r: r["d"])
    left.set(xlabel="flow time t = 2 lr × steps", ylabel="risk  E|x - x̂|² / E|x|²",
             title=f"Linear, tied start, r = {first['rate']:g}, ε = {first['init_scale']:g}: exact curves")
    left.legend(loc="upper right")
    _panel(right, sign, "rate", lambda r: f"r = {r:g}",
           lambda row, t: limit_curve(t, row["rate"], row["lr"], rho0=row["init_scale"] ** 2),
           table, summary, "sign")
    right.set(xlabel="flow time t = 2 lr × steps", ylabel="risk  E|x - x̂|² / E|x|²",
              title=f"Sign, optimal decoder, lr = {sign[0]['lr']:g}: spectral flow (derived)")
    right.legend(loc="center right")
    files = save(fig, out, "learning-curves") + [write_csv(out / "learning-curves.csv", table)]
    return FigureOutput("learning-curves", files, summary)
