"""Figure regularised: denoising autoencoders against their minima, and the L1 code penalty's trade-off.

Left panel (sweep ``regularised-noise``): the denoising objective reached by population gradient
descent against the input-noise level tau^2 at r = 1/2, for sign, relu and linear codes, beside the
derived minima 1 - (1 - min R_0) / (1 + tau^2), exact for every homogeneous code on the isotropic
source (sign: the theorem's min R_0; linear: PCA, the Wiener value; relu: its approximate min R_0, so
its line is dashed). Right panel (sweep ``regularised-l1``): erf codes with weight decay, the code's L1
norm per neuron against the risk along a sweep of the penalty weight (measured; no theory).
See theory/regularised.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..theory.regularised import denoising_min_risk
from .common import TWO_PANELS, FigureOutput, figure, run_spec, save, styled, write_csv

NOISE_GRID = np.linspace(0.0, 2.0, 201)
#: activation -> (colour, marker); the theory line is drawn where a minimum is derived.
STYLE = {"sign": ("C0", "o"), "relu": ("C1", "s"), "linear": ("C2", "^")}


def _objective(row) -> float:
    """The run's denoising objective (its clean risk when the noise is 0)."""
    return row["final_risk_denoising"] if row["noise"] else row["final_risk"]


@styled
def regularised(out: Path, *, quick: bool = False, workers=None, progress=False) -> FigureOutput:
    """Denoising risk against the noise level (left) and the L1 penalty's trade-off (right).

    Parameters
    ----------
    out : Path
        The output folder (must exist): the sweep databases, PNG, PDF and CSV go there.
    quick : bool, optional
        Run the quick specs (smaller d, fewer steps; default False).
    workers : int or None, optional
        Worker processes of the sweeps (None: ``os.cpu_count()``).
    progress : bool, optional
        Show the sweeps' progress bars (default False).

    Returns
    -------
    FigureOutput
        The files (regularised.png, .pdf, .csv) and, for sign and linear at each noise level, the
        derived minimum against the simulation.

    Raises
    ------
    RuntimeError
        If a run of a sweep failed.
    """
    noisy = run_spec("regularised-noise", out, quick=quick, workers=workers, progress=progress)
    l1 = run_spec("regularised-l1", out, quick=quick, workers=workers, progress=progress)
    fig, (left, right) = figure(TWO_PANELS, 1, 2)
    table, summary = [], []
    rate = noisy[0]["rate"]
    for activation, (colour, marker) in STYLE.items():
        rows = sorted((r for r in noisy if r["activation"] == activation), key=lambda r: r["noise"])
        exact = activation != "relu"  # relu's noiseless minimum is itself an approximation
        curve = [denoising_min_risk(rate, t2, activation=activation) for t2 in NOISE_GRID]
        left.plot(NOISE_GRID, curve, "-" if exact else "--", color=colour, lw=1.5,
                  label=f"{activation}: " + ("minimum (proved)" if exact else "from its approximate noiseless minimum"))
        table += [{"panel": "noise", "activation": activation, "kind": "theory", "noise": float(t2),
                   "risk": float(v), "l1_weight": "", "l1_per_neuron": ""} for t2, v in zip(NOISE_GRID, curve)]
        left.plot([r["noise"] for r in rows], [_objective(r) for r in rows], marker, color=colour, mfc="none", ms=6,
                  ls="none", label=f"{activation}: GD, d = {rows[0]['d']}")
        for r in rows:
            table.append({"panel": "noise", "activation": activation, "kind": "simulation", "noise": r["noise"],
                          "risk": _objective(r), "l1_weight": "", "l1_per_neuron": ""})
            summary.append({"figure": "regularised", "quantity": f"denoising risk, {activation}, tau2 = {r['noise']:g}",
                            "d": r["d"], "rate": r["rate"], "simulation": _objective(r),
                            "theory": denoising_min_risk(r["rate"], r["noise"], activation=activation)})
    left.set(xlabel="input-noise variance τ² (relative to the signal's)", ylabel="risk  E|x - x̂(x + τε)|² / E|x|²",
             title=f"Denoising autoencoders, isotropic Gaussian, r = {rate:g}", ylim=(0, 1.02))
    left.legend(loc="lower right")

    rows = sorted(l1, key=lambda r: r["l1"])
    per_neuron = [r["final_l1_penalty"] / r["n"] if r["final_l1_penalty"] is not None else np.nan for r in rows]
    risks = [r["final_risk"] for r in rows]
    right.plot(per_neuron, risks, "o-", color="C3", mfc="none")
    for r, x, y in zip(rows, per_neuron, risks):
        right.annotate(f"λ = {r['l1']:g}", (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
        table.append({"panel": "l1", "activation": r["activation"], "kind": "simulation", "noise": "", "risk": y,
                      "l1_weight": r["l1"], "l1_per_neuron": x})
    first = rows[0]
    right.set(xlabel="code L1 norm per neuron  E|σ(b·x)|", ylabel="risk of the trained network",
              title=f"L1 code penalty, {first['activation']}, weight decay {first['weight_decay']:g}, d = {first['d']}, "
                    f"r = {first['rate']:g} (measured)")
    files = save(fig, out, "regularised") + [write_csv(out / "regularised.csv", table)]
    return FigureOutput("regularised", files, summary)
