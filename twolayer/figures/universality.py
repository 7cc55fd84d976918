"""Figure on standard data: held-out risk of the sign autoencoder against the rate, with the
Gaussian prediction from the data covariance, its scale-mixture correction, the data models'
predictions, and the controls.

One panel per (data set, preprocessing) of ``simulations/universality[.quick].toml``; every
run is :func:`twolayer.universality.data_experiment` (see theory/universality.md):

* curve, solid: Gaussian prediction ``min_risk(r, spectrum of the training covariance)``;
* curve, dashed: scale-mixture prediction ``1 - kappa (1 - min_risk)``, kappa from the
  training rows (the panel title gives it);
* filled circles: the autoencoder trained on the real training rows, held-out risk on the
  test rows (bars: +- one test-set standard error);
* open squares: the Gaussian twin (same pipeline on N(0, Sigma_train) samples);
* open triangles: the theory-optimal encoder (Adam on the exact Gaussian risk,
  :data:`twolayer.simulations.training.THEORY_OPTIMIZER`) with its least-squares decoder, on the real
  test rows;
* small markers, dotted: the data models' predictions of that encoder's risk (exact risks
  under a model built from the training rows; theory/universality.md): ``gmm-d`` (a 4-component
  zero-mean Gaussian mixture), ``bins-d`` (the rows grouped by contrast) and ``bc-d`` (by
  brightness x contrast, means kept; needs 32 d training rows), with the suite's colours and
  markers (:func:`twolayer.figures.suite.prediction_styles`).

Where the circles sit on the solid curve, the Gaussian theory is universal for that data
set; where they sit on the dashed one, the data behave as a Gaussian scale mixture; where they
sit on a dotted one, that data model describes them.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .. import theory
from ..theory.scale_mixture import mixture_risk
from .common import FigureOutput, figure, legend_entries, run_spec, save, styled, write_csv
from .suite import prediction_styles

#: (record field, stderr field, label, matplotlib style) of the measured series.
POINTS = (
    ("final_risk", "final_risk_stderr", "trained on the real data (held-out)",
     dict(marker="o", color="C0", ms=6.5, ls="none")),
    ("gaussian_twin_risk", "gaussian_twin_risk_stderr", "Gaussian twin (same pipeline, N(0, Σ) samples)",
     dict(marker="s", color="C2", ms=6, ls="none", mfc="none", mew=1.4)),
    ("theory_encoder_risk", "theory_encoder_risk_stderr", "theory-optimal encoder on the real data",
     dict(marker="^", color="C3", ms=6.5, ls="none", mfc="none", mew=1.4)),
)

#: (record field, suite label, model) of the data models' predictions drawn (at the theory encoder).
DATA_MODELS = (
    ("theory_encoder_gmm_risk", "gmm-d", "4-Gaussian mixture"),
    ("theory_encoder_contrast_risk", "bins-d", "contrast groups"),
    ("theory_encoder_brightness_contrast_risk", "bc-d", "brightness x contrast groups"),
)


def _panels(rows: list[dict]) -> dict:
    """(data, remove_item_mean, whiten) -> rows, sorted by data then preprocessing."""
    groups: dict = {}
    for row in rows:
        key = (row["data"], bool(row["preprocessing"]["remove_item_mean"]), row["preprocessing"]["whiten"] or "")
        groups.setdefault(key, []).append(row)
    return dict(sorted(groups.items(), key=lambda kv: (kv[0][0], not kv[0][1], kv[0][2])))


def _describe(key, row) -> str:
    data, rim, whiten = key
    shape = "x".join(str(s) for s in row["preprocessing"].get("item_shape", []))
    parts = [f"{row['dataset']} ({shape}, d = {row['d']})"]
    parts.append("item mean removed" if rim else "raw")
    if whiten:
        parts.append(f"{whiten} whitened")
    return ", ".join(parts)


def _by_rate(group: list[dict]) -> list[dict]:
    """One point per rate: values averaged over seeds, standard errors combined (independent test sets)."""
    out = []
    rates = sorted({r["rate"] for r in group})
    for rate in rates:
        rs = [r for r in group if r["rate"] == rate]
        point = {"rate": rate, "seeds": len(rs)}
        for field in ("predicted_risk", "predicted_risk_mixture", "kappa", "train_risk", "theory_encoder_gaussian_risk",
                      *(field for field, _, _ in DATA_MODELS)):
            vals = [r[field] for r in rs if r.get(field) is not None]
            point[field] = float(np.mean(vals)) if vals else None
        for field, se_field, _, _ in POINTS:
            vals = [r[field] for r in rs if r.get(field) is not None]
            ses = [r[se_field] for r in rs if r.get(se_field) is not None]
            point[field] = float(np.mean(vals)) if vals else None
            point[se_field] = float(math.sqrt(sum(s * s for s in ses)) / len(ses)) if ses else None
        out.append(point)
    return out


@styled
def universality(out: Path, *, quick: bool = False, workers=None, progress=False) -> FigureOutput:
    """Held-out risk against the rate on standard data, one panel per data set (module docstring).

    Sweep ``universality``; every run is :func:`twolayer.universality.data_experiment`.

    Parameters
    ----------
    out : Path
        The output folder (must exist): the sweep database, PNG, PDF and CSV go there.
    quick : bool, optional
        Run the quick spec, ``NAME.quick.toml`` (fewer runs and steps; default False).
    workers : int or None, optional
        Worker processes of the sweep (None: ``os.cpu_count()``).
    progress : bool, optional
        Show the sweep's progress bar (default False).

    Returns
    -------
    FigureOutput
        The files (universality.png, .pdf, .csv) and a summary of theory against simulation.

    Raises
    ------
    RuntimeError
        If a run of the sweep failed or the spec has no runs.
    """
    rows = run_spec("universality", out, quick=quick, workers=workers, progress=progress)
    if not rows:
        raise RuntimeError("the universality spec produced no runs")
    panels = _panels(rows)
    count = len(panels)
    ncols = min(count, 2)
    nrows = math.ceil(count / ncols)
    fig, axes = figure((5.0 * ncols, 3.7 * nrows + 0.5), nrows, ncols, squeeze=False, sharex=True)
    table, summary = [], []
    top_rate = max(r["rate"] for r in rows)
    grid = np.linspace(0.02, top_rate * 1.06, 240)
    styles = prediction_styles()
    for ax, (key, group) in zip(axes.flat, panels.items()):
        first = group[0]
        label = _describe(key, first)
        spectrum = np.asarray(first["spectrum"], dtype=np.float64)
        kappa = float(np.mean([r["kappa"] for r in group]))
        gauss = np.asarray(theory.min_risk(grid, activation=first["activation"], spectrum=spectrum))
        ax.plot(grid, gauss, "-k", lw=1.6, label="Gaussian prediction (data covariance)")
        table += [{"panel": label, "series": "Gaussian prediction", "rate": float(r), "risk": float(v)}
                  for r, v in zip(grid, gauss)]
        if first["activation"] == "sign":
            mix = mixture_risk(gauss, kappa)
            ax.plot(grid, mix, "--", color="C1", lw=1.8, label="scale-mixture prediction 1 − κ(1 − R_gauss)")
            table += [{"panel": label, "series": "scale-mixture prediction", "rate": float(r), "risk": float(v),
                       "kappa": kappa} for r, v in zip(grid, mix)]
        points = _by_rate(group)
        for field, se_field, name, style in POINTS:
            pts = [p for p in points if p[field] is not None]
            if not pts:
                continue
            ax.errorbar([p["rate"] for p in pts], [p[field] for p in pts], yerr=[p[se_field] or 0.0 for p in pts],
                        capsize=2.5, label=name, **style)
            table += [{"panel": label, "series": name, "rate": p["rate"], "risk": p[field], "stderr": p[se_field],
                       "seeds": p["seeds"]} for p in pts]
        for field, name, model in DATA_MODELS:
            pts = [p for p in points if p[field] is not None]
            if pts:
                ax.plot([p["rate"] for p in pts], [p[field] for p in pts], ls=":", lw=1.1, ms=4.5,
                        label=f"{name}: theory encoder's risk, {model}", **styles[name])
                table += [{"panel": label, "series": f"{name} (data model, theory encoder)", "rate": p["rate"],
                           "risk": p[field], "seeds": p["seeds"]} for p in pts]
        raw = float(np.mean([r.get("kappa_raw") or r["kappa"] for r in group]))
        kappa_text = f"κ = {kappa:.3f}" + (f" (raw {raw:.3f}, clipped)" if raw > kappa + 5e-4 else "")
        ax.set(title=f"{label}\n{kappa_text}, {first['n_train']} training / {first['n_test']} test items",
               ylim=(0, 1.02), xlim=(0, top_rate * 1.06))
        ax.set_ylabel("held-out risk  Σ|x − x̂|² / Σ|x|²")
        for p in points:
            summary.append({
                "figure": "universality", "dataset": first["dataset"], "data": key[0], "d": first["d"],
                "preprocessing": "item mean removed" if key[1] else "raw", "rate": p["rate"],
                "theory": p["predicted_risk"], "theory_mixture": p["predicted_risk_mixture"],
                "simulation": p["final_risk"], "gaussian_twin": p["gaussian_twin_risk"],
                "theory_encoder": p["theory_encoder_risk"], "kappa": p["kappa"],
            })
    for ax in axes[-1]:
        ax.set_xlabel("rate r = n/d (bits per input dimension)")
    for ax in list(axes.flat)[count:]:
        ax.set_visible(False)
    legend = legend_entries(axes.flat)  # bc-d, say, is drawn only where a data set has enough rows
    points_first = [name for _, _, name, _ in POINTS]  # the measurements, then the curves and the data models
    names = sorted(legend, key=lambda name: (name not in points_first, list(legend).index(name)))
    fig.legend([legend[name] for name in names], names, loc="outside lower center", ncols=min(len(names), 3),
               frameon=False)
    fig.suptitle("Sign autoencoder on standard data: held-out risk vs the Gaussian theory", fontsize=11)
    files = save(fig, out, "universality") + [write_csv(out / "universality.csv", table)]
    return FigureOutput("universality", files, summary)
