"""The universality suite as one picture: every prediction's error against the trained held-out risk.

``twolayer universality --plot FILE`` (:func:`suite_figure`). One panel per data set and
preprocessing; per rate r (x axis, with the code size n), every prediction p of the cell
(:data:`twolayer.suite.PREDICTIONS`, one colour and marker each) at

    error = 100 (p - held) / held   [%],

held the trained encoder's held-out risk (with several seeds: p and held are means over the
seeds, :func:`twolayer.suite.seed_summary`). The band is the count's tolerance
(:data:`twolayer.suite.TOLERANCE`); the black bar at 0 is the measurement's own uncertainty in
the same units (the spread over the seeds, sd / held; one seed: the test-set standard error);
the ring marks the prediction closest to held, the one the count uses. Errors beyond
:data:`ERROR_LIMIT` are drawn at the edge as arrows (their values are in the CSV; the closest's is
written beside it). Cells with n >= n_train / 2 (not counted) are shaded. The CSV beside the
image holds every plotted number.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .common import figure, legend_entries, styled, write_csv

#: the y axis spans +- this many per cent; predictions further off are drawn as arrows at the edge.
ERROR_LIMIT = 25.0
#: file types :func:`suite_figure` writes (matplotlib formats without extra dependencies).
IMAGE_SUFFIXES = (".png", ".pdf", ".svg")
_MARKERS = "osDP*XphdH8x"  # no arrow-like markers: ^ and v mark the predictions beyond ERROR_LIMIT


def prediction_styles() -> dict:
    """Short label -> {color, marker} of each prediction (:data:`twolayer.suite.PREDICTIONS` order); shared by the figures."""
    from ..suite import PREDICTIONS

    colors = [f"C{i}" for i in range(10)] + ["k", "darkgoldenrod"]  # the eleventh in black (the ring is hollow)
    return {label: dict(color=colors[i % len(colors)], marker=_MARKERS[i % len(_MARKERS)])
            for i, (_, label) in enumerate(PREDICTIONS)}


def _cells(rows: list[dict]) -> tuple[list[dict], str]:
    """The cells to draw (the seeds' means with several seeds) and how the held-out risk was measured."""
    from ..suite import seed_summary

    done = [row for row in rows if row.get("status") == "done" and row.get("final_risk") is not None]
    seeds = sorted({row["seed"] for row in done})
    if len(seeds) > 1:
        cells = [{**cell, "uncertainty": cell["final_risk_sd"]} for cell in seed_summary(done)]
        return cells, f"means over the seeds {', '.join(map(str, seeds))}; black bar: sd over the seeds"
    cells = [{**row, "seeds": [row["seed"]], "uncertainty": row.get("final_risk_stderr")} for row in done]
    return cells, f"seed {seeds[0] if seeds else '-'}; black bar: the test set's standard error"


def suite_points(rows: list[dict]) -> list[dict]:
    """Every (cell, prediction) of :func:`suite_figure`, as written to its CSV.

    Parameters
    ----------
    rows : list of dict
        :func:`twolayer.suite.cell_row` rows (cells not done are skipped; several seeds per
        cell are averaged by :func:`twolayer.suite.seed_summary`).

    Returns
    -------
    list of dict
        ``data``, ``preprocessing``, ``rate``, ``n``, ``n_train``, ``seeds`` (count),
        ``held_out``, ``held_out_uncertainty``, ``prediction`` (its short label),
        ``value``, ``error_percent`` = 100 (value - held_out) / held_out, ``closest`` (the
        prediction with the least \\|error\\| of its cell), ``counted`` (n < n_train / 2) and
        ``within`` (\\|error\\| <= 100 TOLERANCE).

    Examples
    --------
    >>> row = dict(data="x", remove_item_mean=False, rate=1.0, n=8, n_train=100, seed=0, status="done",
    ...            final_risk=0.5, final_risk_stderr=0.01, predictions={"predicted_risk": 0.52}, flags=[])
    >>> [(p["prediction"], round(p["error_percent"], 6), p["closest"]) for p in suite_points([row])]
    [('gauss', 4.0, True)]
    """
    return _points(_cells(rows)[0])


def _points(cells: list[dict]) -> list[dict]:
    """:func:`suite_points` of the cells :func:`_cells` chose."""
    from ..suite import PREDICTIONS, TOLERANCE

    points = []
    for cell in cells:
        held = cell["final_risk"]
        counted = "n>=n_train/2" not in cell.get("flags", [])
        own = []
        for field, label in PREDICTIONS:
            value = cell["predictions"].get(field)
            if value is None or not value > 0 or not held > 0:
                continue
            error = 100.0 * (value - held) / held
            own.append(dict(data=cell["data"], preprocessing="removed" if cell["remove_item_mean"] else "raw",
                            rate=cell["rate"], n=cell.get("n"), n_train=cell.get("n_train"), seeds=len(cell["seeds"]),
                            held_out=held, held_out_uncertainty=cell.get("uncertainty"), prediction=label,
                            value=value, error_percent=error, closest=False, counted=counted,
                            within=abs(error) <= 100.0 * TOLERANCE))
        if own:
            min(own, key=lambda p: abs(p["error_percent"]))["closest"] = True
        points += own
    return points


@styled
def suite_figure(rows: list[dict], path, *, title: str | None = None) -> list[Path]:
    """Draw the suite (module docstring) into ``path`` (.png, .pdf or .svg) and its numbers into ``path``.csv.

    Parameters
    ----------
    rows : list of dict
        :func:`twolayer.suite.cell_row` rows, e.g. ``run_suite(...).rows``.
    path : str or os.PathLike
        The image file (overwritten); its suffix sets the format.
    title : str or None, optional
        The figure's title (default: the count).

    Returns
    -------
    list of Path
        The image and the CSV (same name, suffix .csv).

    Raises
    ------
    ValueError
        If the suffix is not one of :data:`IMAGE_SUFFIXES`, or no cell is done.
    """
    from ..suite import PREDICTIONS, TOLERANCE

    path = Path(path)
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise ValueError(f"plot file {str(path)!r}: the name must end in {', '.join(IMAGE_SUFFIXES)}")
    cells, measured = _cells(rows)  # the seeds' summary, computed once
    points = _points(cells)
    if not points:
        raise ValueError("no cell of the suite is done yet: nothing to plot")
    panels: dict = {}
    for p in points:
        panels.setdefault((p["data"], p["preprocessing"]), []).append(p)
    ncols = 2 if len(panels) > 1 else 1
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = figure((5.4 * ncols, 2.9 * nrows + 1.0), nrows, ncols, squeeze=False)
    labels = [label for _, label in PREDICTIONS]
    style = prediction_styles()
    band = 100.0 * TOLERANCE
    for ax, ((data, prep), group) in zip(axes.flat, panels.items()):
        rates = sorted({p["rate"] for p in group})
        x_of = {rate: i for i, rate in enumerate(rates)}
        ax.axhspan(-band, band, color="C2", alpha=0.12, lw=0)
        ax.axhline(0.0, color="k", lw=0.8)
        for label in labels:
            mine = sorted((p for p in group if p["prediction"] == label), key=lambda p: p["rate"])
            if not mine:
                continue
            xs = np.array([x_of[p["rate"]] for p in mine], dtype=float)
            ys = np.array([p["error_percent"] for p in mine])
            shown = np.clip(ys, -ERROR_LIMIT, ERROR_LIMIT)
            inside = np.abs(ys) <= ERROR_LIMIT
            ax.plot(xs, shown, lw=0.8, alpha=0.6, color=style[label]["color"])
            ax.plot(xs[inside], shown[inside], ls="none", ms=5, label=label, **style[label])
            for xv, yv in zip(xs[~inside], ys[~inside]):
                ax.plot(xv, np.sign(yv) * ERROR_LIMIT, ls="none", ms=7, color=style[label]["color"],
                        marker="^" if yv > 0 else "v")
        for p in group:
            x = x_of[p["rate"]]
            if p["closest"]:
                y = float(np.clip(p["error_percent"], -ERROR_LIMIT, ERROR_LIMIT))
                ax.plot(x, y, ls="none", marker="o", ms=11, mfc="none", mec="k", mew=1.2)
                if y != p["error_percent"]:  # the closest is off the axis: its value beside it
                    ax.annotate(f"{p['prediction']} {p['error_percent']:+.0f} %", (x, y), fontsize=8,
                                xytext=(9, 6 if y < 0 else -12), textcoords="offset points")
            if not p["counted"]:
                ax.axvspan(x - 0.45, x + 0.45, color="0.85", lw=0, zorder=0)
        for rate in rates:
            first = next(p for p in group if p["rate"] == rate)
            if first["held_out_uncertainty"] is not None:
                u = 100.0 * first["held_out_uncertainty"] / first["held_out"]
                ax.errorbar(x_of[rate], 0.0, yerr=u, color="k", lw=2.2, capsize=4, zorder=5)
        cells = [p for p in group if p["closest"] and p["counted"]]
        within = sum(p["within"] for p in cells)
        ax.set_xticks(range(len(rates)),
                      [f"r = {r:g}\nn = {next(p['n'] for p in group if p['rate'] == r)}" for r in rates])
        ax.set(xlim=(-0.5, len(rates) - 0.5), ylim=(-ERROR_LIMIT * 1.1, ERROR_LIMIT * 1.1),
               title=f"{data}, {'item mean removed' if prep == 'removed' else 'raw'}: "
                     f"{within} of {len(cells)} within {band:g} %")
        ax.set_ylabel("(prediction − held-out) / held-out  [%]", fontsize=8.5)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    counted = [p for p in points if p["closest"] and p["counted"]]
    within = sum(p["within"] for p in counted)
    handles = legend_entries(axes.flat)
    ordered = [name for name in labels if name in handles]
    fig.legend([handles[name] for name in ordered], ordered, loc="outside lower center", ncols=min(len(ordered), 10),
               frameon=False, title=f"prediction (ring: the closest; green band: ±{band:g} %; ▲▼: beyond ±{ERROR_LIMIT:g} %, "
                     "values in the CSV; grey: n ≥ n_train/2, not counted)")
    fig.suptitle(title or f"Predictions against the trained held-out risk: {within} of {len(counted)} cells within "
                           f"{band:g} %\n({measured})", fontsize=10.5)
    fig.savefig(path)
    return [path, write_csv(path.with_suffix(".csv"), points)]
