"""Figures on Gaussian sources: risk-vs-rate, finite-size, features, anisotropic.

risk-vs-rate, finite-size and features share one sweep (``simulations/isotropic.toml``:
population gradient descent, sign, over d and r), so its runs are computed once.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import theory
from ..simulations import train
from ..simulations.metrics import allocation_profile
from .common import TWO_PANELS, FigureOutput, figure, run_spec, save, styled, write_csv

RATE_GRID = np.linspace(0.01, 3.0, 300)


def _by(rows, key):
    groups: dict = {}
    for row in rows:
        groups.setdefault(row[key], []).append(row)
    return dict(sorted(groups.items()))


def _markers():
    return iter(["o", "s", "^", "D", "v", "P", "X"])


@styled
def risk_vs_rate(out: Path, *, quick: bool = False, workers=None, progress=False) -> FigureOutput:
    """Sign autoencoder on N(0, I): min_risk curve, gradient descent at several d, references.

    Sweep ``isotropic``; the curves are :func:`twolayer.theory.min_risk`,
    :func:`~twolayer.theory.rate_distortion` and :func:`~twolayer.theory.pca_risk`; the
    summary compares ``predicted_risk`` with ``final_risk`` at the largest d.

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
        The files (risk-vs-rate.png, .pdf, .csv) and a summary of theory against simulation.

    Raises
    ------
    RuntimeError
        If a run of the sweep failed.

    References
    ----------
    .. [1] A. Shevchenko, K. Kögler, H. Hassani and M. Mondelli, "Fundamental limits of
       two-layer autoencoders, and achieving them with gradient methods", ICML 2023
       (PMLR 202), arXiv:2212.13468.
    """
    rows = run_spec("isotropic", out, quick=quick, workers=workers, progress=progress)
    fig, ax = figure()
    table = []
    curves = {
        "min_risk (sign, limit)": theory.min_risk(RATE_GRID),
        "Shannon D(r)": theory.rate_distortion(RATE_GRID),
        "PCA (real-valued code)": theory.pca_risk(RATE_GRID),
    }
    styles = {"min_risk (sign, limit)": "-k", "Shannon D(r)": "--C3", "PCA (real-valued code)": ":C7"}
    for label, values in curves.items():
        ax.plot(RATE_GRID, values, styles[label], label=label, lw=1.6)
        table += [{"series": label, "d": "", "rate": float(r), "risk": float(v)} for r, v in zip(RATE_GRID, values)]
    ax.plot([1.0], [theory.ONE_BIT_SCALAR_QUANTISER_RISK], "*", color="C2", ms=11, label="1-bit scalar quantiser")
    table.append({"series": "1-bit scalar quantiser", "d": "", "rate": 1.0, "risk": theory.ONE_BIT_SCALAR_QUANTISER_RISK})
    for (d, group), marker in zip(_by(rows, "d").items(), _markers()):
        group = sorted(group, key=lambda r: r["rate"])
        ax.plot([r["rate"] for r in group], [r["final_risk"] for r in group], marker, ls="none", mfc="none",
                ms=6, label=f"gradient descent, d = {d}")
        table += [{"series": "gradient descent", "d": d, "rate": r["rate"], "risk": r["final_risk"]} for r in group]
    ax.set(xlabel="rate r = n/d (bits per input dimension for sign)", ylabel="risk  E|x - x̂|² / E|x|²",
           title="Sign autoencoder, isotropic Gaussian source", xlim=(0, 3.1), ylim=(0, 1.02))
    ax.legend(loc="upper right")
    files = save(fig, out, "risk-vs-rate") + [write_csv(out / "risk-vs-rate.csv", table)]
    largest = max(r["d"] for r in rows)
    summary = [
        {"figure": "risk-vs-rate", "d": largest, "rate": r["rate"], "theory": r["predicted_risk"], "simulation": r["final_risk"]}
        for r in sorted(_by(rows, "d")[largest], key=lambda r: r["rate"])
    ]
    return FigureOutput("risk-vs-rate", files, summary)


@styled
def finite_size(out: Path, *, quick: bool = False, workers=None, progress=False) -> FigureOutput:
    """Relative gap (final - limit) / limit against d, log-log, one line per rate r > 1.

    For r <= 1 orthonormal rows reach the limit exactly at every d, so only the optimisation
    error remains there; those rates are listed in the CSV and noted on the plot.

    Sweep ``isotropic``; each line is labelled with its fitted log-log slope.

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
        The files (finite-size.png, .pdf, .csv) and a summary of theory against simulation.

    Raises
    ------
    RuntimeError
        If a run of the sweep failed.

    References
    ----------
    .. [1] A. Shevchenko, K. Kögler, H. Hassani and M. Mondelli, "Fundamental limits of
       two-layer autoencoders, and achieving them with gradient methods", ICML 2023
       (PMLR 202), arXiv:2212.13468.
    """
    rows = run_spec("isotropic", out, quick=quick, workers=workers, progress=progress)
    fig, ax = figure()
    table, exact = [], []
    for (rate, group), marker in zip(_by(rows, "rate").items(), _markers()):
        group = sorted(group, key=lambda r: r["d"])
        table += [{"rate": rate, "d": r["d"], "relative_gap": r["relative_gap"], "final_risk": r["final_risk"],
                   "predicted_risk": r["predicted_risk"]} for r in group]
        if rate <= 1:
            exact.append(max(abs(r["relative_gap"]) for r in group))
            continue
        ds, gaps = [r["d"] for r in group], [abs(r["relative_gap"]) for r in group]
        slope = np.polyfit(np.log(ds), np.log(gaps), 1)[0] if len(ds) > 1 and min(gaps) > 0 else float("nan")
        ax.plot(ds, gaps, marker + "-", label=f"r = {rate:g} (gap ∝ d^{slope:.2f})")
    if exact:
        ax.text(0.02, 0.03, f"r ≤ 1: |gap| ≤ {max(exact):.1e} at every d (exact orthonormal optimum)",
                transform=ax.transAxes, fontsize=8.5)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set(xlabel="input dimension d", ylabel="relative gap (R_GD − R_limit) / R_limit",
           title="Approach to the proportional limit (sign, isotropic)")
    ax.legend(loc="upper right")
    files = save(fig, out, "finite-size") + [write_csv(out / "finite-size.csv", table)]
    summary = []
    for rate, group in _by(rows, "rate").items():
        if rate > 1:
            last = max(group, key=lambda r: r["d"])
            summary.append({"figure": "finite-size", "quantity": "relative gap", "rate": rate, "d": last["d"],
                            "theory": 0.0, "simulation": last["relative_gap"]})
    return FigureOutput("finite-size", files, summary)


def _frame_eigenvalues(B: np.ndarray) -> np.ndarray:
    U = B / np.linalg.norm(B, axis=1, keepdims=True)
    n, d = U.shape
    G = U @ U.T if n <= d else U.T @ U
    return np.sort(np.linalg.eigvalsh(G))[::-1]


@styled
def features(out: Path, *, quick: bool = False, workers=None, progress=False) -> FigureOutput:
    """Frame spectrum before and after training against the flat prediction; polar alignment.

    Left: two extra :func:`~twolayer.simulations.train` runs (r = 0.5 and 2, d = 256, or 64
    with ``quick``, seed 0, float64); right: ``polar_alignment`` of the ``isotropic`` sweep
    against d.

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
        The files (features.png, .pdf, .csv) and a summary of theory against simulation.

    Raises
    ------
    RuntimeError
        If a run of the sweep failed.

    References
    ----------
    .. [1] A. Shevchenko, K. Kögler, H. Hassani and M. Mondelli, "Fundamental limits of
       two-layer autoencoders, and achieving them with gradient methods", ICML 2023
       (PMLR 202), arXiv:2212.13468.
    """
    rows = run_spec("isotropic", out, quick=quick, workers=workers, progress=progress)
    d = 64 if quick else 256
    steps = 400 if quick else 2000
    fig, (ax1, ax2) = figure(TWO_PANELS, ncols=2)
    table = []
    for rate, color in ((0.5, "C0"), (2.0, "C1")):
        n = int(round(rate * d))
        result = train(d, n, activation="sign", method="population", steps=steps, seed=0, dtype="float64")
        before, after = _frame_eigenvalues(result.B0), _frame_eigenvalues(result.B)
        idx = np.arange(1, before.size + 1) / before.size
        ax1.plot(idx, before, ":", color=color, label=f"r = {rate:g}, initial (Gaussian)")
        ax1.plot(idx, after, "-", color=color, lw=2, label=f"r = {rate:g}, after training")
        ax1.axhline(max(1.0, rate), color=color, lw=0.8, ls="--")
        table += [{"panel": "frame spectrum", "rate": rate, "d": d, "stage": stage, "index": i + 1, "eigenvalue": float(v)}
                  for stage, vals in (("initial", before), ("trained", after)) for i, v in enumerate(vals)]
    ax1.set(xlabel="eigenvalue index / count", ylabel="eigenvalue of U Uᵀ (r ≤ 1) or Uᵀ U (r > 1)",
            title=f"Frame spectrum, d = {d} (dashed: prediction 1 or r)")
    ax1.legend(loc="upper right")
    for (rate, group), marker in zip(_by(rows, "rate").items(), _markers()):
        group = sorted(group, key=lambda r: r["d"])
        ax2.plot([r["d"] for r in group], [r["polar_alignment"] for r in group], marker + "-", label=f"r = {rate:g}")
        table += [{"panel": "polar alignment", "rate": rate, "d": r["d"], "polar_alignment": r["polar_alignment"]}
                  for r in group]
    ax2.axhline(1.0, color="k", lw=0.8, ls="--")
    ax2.set_xscale("log", base=2)
    ax2.set(xlabel="input dimension d", ylabel="mean cosine(rows of B, rows of P Qᵀ)",
            title="Learned features vs polar factor of the initialisation")
    ax2.legend(loc="lower right", ncols=2)
    files = save(fig, out, "features") + [write_csv(out / "features.csv", table)]
    summary = [{"figure": "features", "rate": r["rate"], "d": r["d"], "theory": 1.0, "simulation": r["polar_alignment"],
                "quantity": "polar alignment"} for r in rows if r["d"] == max(x["d"] for x in rows)]
    return FigureOutput("features", files, summary)


@styled
def anisotropic(out: Path, *, quick: bool = False, workers=None, progress=False) -> FigureOutput:
    """Power-law source sigma_k = 1/k: risk against rate with the allocation prediction; learned profile.

    Left: sweep ``anisotropic`` against :func:`twolayer.theory.min_risk` with the spectrum
    (the allocation prediction, derived under the linearised-arcsin approximation; see
    :mod:`twolayer.theory.limits`); right: one extra Adam run at r = 0.5, its learned
    allocation profile against :func:`~twolayer.theory.optimal_allocation`.

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
        The files (anisotropic.png, .pdf, .csv) and a summary of theory against simulation.

    Raises
    ------
    RuntimeError
        If a run of the sweep failed.

    References
    ----------
    .. [1] A. Shevchenko, K. Kögler, H. Hassani and M. Mondelli, "Fundamental limits of
       two-layer autoencoders, and achieving them with gradient methods", ICML 2023
       (PMLR 202), arXiv:2212.13468.
    """
    rows = run_spec("anisotropic", out, quick=quick, workers=workers, progress=progress)
    d = rows[0]["d"]
    spectrum = np.arange(1, d + 1, dtype=np.float64) ** -1.0
    fig, (ax1, ax2) = figure(TWO_PANELS, ncols=2)
    table = []
    for label, values, style in (
        ("allocation prediction (sign)", theory.min_risk(RATE_GRID, spectrum=spectrum), "-k"),
        ("Shannon D(r)", theory.rate_distortion(RATE_GRID, spectrum=spectrum), "--C3"),
        ("PCA (real-valued code)", theory.pca_risk(RATE_GRID, spectrum=spectrum), ":C7"),
    ):
        ax1.plot(RATE_GRID, values, style, label=label, lw=1.6)
        table += [{"panel": "risk", "series": label, "rate": float(r), "risk": float(v)} for r, v in zip(RATE_GRID, values)]
    rows = sorted(rows, key=lambda r: r["rate"])
    ax1.plot([r["rate"] for r in rows], [r["final_risk"] for r in rows], "o", mfc="none", label=f"gradient descent, d = {d}")
    table += [{"panel": "risk", "series": "gradient descent", "rate": r["rate"], "risk": r["final_risk"]} for r in rows]
    ax1.set(xlabel="rate r = n/d", ylabel="risk", title=f"Power-law source σ_k ∝ 1/k, d = {d}", xlim=(0, 3.1), ylim=(0, 1.02))
    ax1.legend(loc="upper right")

    rate = 0.5
    n = int(round(rate * d))
    cov = np.diag(spectrum)
    result = train(d, n, activation="sign", method="population", cov=cov, steps=600 if quick else 3000, optimizer="adam",
                   seed=0, dtype="float64")
    prof = allocation_profile(result.B, cov)
    order = np.argsort(-prof["eigenvalues"])
    k = np.arange(1, d + 1)
    ax2.plot(k, prof["predicted"][order], "-k", label="optimal_allocation (prediction)")
    ax2.plot(k, prof["learned"][order], "o", ms=3.5, mfc="none", color="C0", label="learned (diag of Wᵀ W)")
    ax2.set(xlabel="eigen-direction k of Σ (σ_k = 1/k)", ylabel="frame operator along e_k",
            title=f"Allocation at r = {rate:g} (profile error {prof['allocation_profile_error']:.3f}, "
                  f"leakage {prof['leakage']:.3f})")
    ax2.legend(loc="upper right")
    table += [{"panel": "allocation", "rate": rate, "k": int(i), "sigma": float(s), "predicted": float(p), "learned": float(lv)}
              for i, s, p, lv in zip(k, prof["eigenvalues"][order], prof["predicted"][order], prof["learned"][order])]
    files = save(fig, out, "anisotropic") + [write_csv(out / "anisotropic.csv", table)]
    summary = [{"figure": "anisotropic", "rate": r["rate"], "d": d, "theory": r["predicted_risk"], "simulation": r["final_risk"]}
               for r in rows]
    return FigureOutput("anisotropic", files, summary)
