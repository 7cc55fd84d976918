"""Figure on structured sources: ``phase-transition`` (identity vs rotation on sparse Rademacher data).

Left panel, risk against the sparsity P at r = 0.5 (``simulations/phase-transition[.quick].toml``):

* solid: the exact risk of the identity-like encoder with its best linear decoder, 1-bit code
  with sign(0) = +1 (:func:`twolayer.theory.structured.identity_encoder_risk`, at the run's d);
* dashed: a rotation's limit, the Gaussian value 1 - 2r/pi;
* dotted vertical: the derived critical sparsity P* = 2 - pi/2 where they cross in the limit;
* filled circles: the encoder gradient descent learned (Adam on fresh samples), with its best
  linear decoder (``risk_linear_refit``); open circles: the network as trained (its trained
  decoder, fitted through a smoothed sign that maps 0 to 0: see theory/structured.md).

Right panel: the mean inverse participation ratio of the learned rows (1: identity-like,
about 3/d: dense), against P.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .common import TWO_PANELS, FigureOutput, figure, run_spec, save, styled, write_csv


def _by_sparsity(rows):
    from ..theory.priors import parse_source

    groups: dict = {}
    for row in rows:
        law = parse_source(row["data"])[0]
        groups.setdefault(law.p, []).append(row)
    return dict(sorted(groups.items()))


@styled
def phase_transition(out: Path, *, quick: bool = False, workers=None, progress=False) -> FigureOutput:
    """Risk and localisation of the learned encoder against P, with the identity and rotation values.

    Parameters
    ----------
    out : Path
        The output folder (must exist): the sweep database, PNG, PDF and CSV go there.
    quick : bool, optional
        Run the quick spec (d = 32, six sparsities, one seed; default False).
    workers : int or None, optional
        Worker processes of the sweep (None: ``os.cpu_count()``).
    progress : bool, optional
        Show the sweep's progress bar (default False).

    Returns
    -------
    FigureOutput
        The files (phase-transition.png, .pdf, .csv) and, per P, the better of the two structures
        (theory) against the learned encoder with its best linear decoder (simulation).

    References
    ----------
    .. [1] K. Kögler, A. Shevchenko, H. Hassani and M. Mondelli, "Compression of structured data
       with autoencoders: provable benefit of nonlinearities and depth", ICML 2024, arXiv:2402.05013.
    """
    from ..theory.priors import Law
    from ..theory.structured import SPARSE_RADEMACHER_CRITICAL_P, identity_encoder_risk

    rows = run_spec("phase-transition", out, quick=quick, workers=workers, progress=progress)
    groups = _by_sparsity(rows)
    d, n, rate = rows[0]["d"], rows[0]["n"], rows[0]["rate"]
    rotation = 1 - 2 * rate / math.pi if rate <= 1 else None
    grid = np.linspace(min(groups), 1.0, 200)
    identity = [identity_encoder_risk(Law("sparse-rademacher", float(p)), n, d) for p in grid]

    fig, (ax1, ax2) = figure(TWO_PANELS, ncols=2)
    ax1.plot(grid, identity, "-k", lw=1.6, label=f"identity-like encoder (exact, d = {d})")
    ax1.axhline(rotation, ls="--", color="C3", lw=1.6, label="rotation (Gaussian value 1 − 2r/π)")
    for ax in (ax1, ax2):
        ax.axvline(SPARSE_RADEMACHER_CRITICAL_P, ls=":", color="0.4", lw=1.2)
    ps = list(groups)
    refit = [float(np.mean([r["risk_linear_refit"] for r in groups[p]])) for p in ps]
    trained = [float(np.mean([r["final_risk"] for r in groups[p]])) for p in ps]
    ipr = [float(np.mean([r["encoder_localisation"] for r in groups[p]])) for p in ps]
    ax1.plot(ps, refit, "o", color="C0", ms=6, label="learned encoder, best linear decoder")
    ax1.plot(ps, trained, "o", color="C0", mfc="none", ms=6, label="network as trained")
    ax1.set(xlabel="sparsity P (fraction of non-zero coordinates)", ylabel="risk  E|x − x̂|² / E|x|²",
            title=f"Sparse Rademacher, r = {rate:g}: identity vs rotation", xlim=(min(ps) - 0.03, 1.02))
    ax1.text(SPARSE_RADEMACHER_CRITICAL_P + 0.01, ax1.get_ylim()[1] - 0.015, "P* = 2 − π/2", fontsize=8, color="0.3",
             va="top")
    ax1.legend(loc="lower left")
    ax2.plot(ps, ipr, "o-", color="C0", ms=6)
    ax2.axhline(3.0 / (d + 2), ls="--", color="0.5", lw=1.0, label=f"dense rows (3/(d+2) = {3 / (d + 2):.3f})")
    ax2.axhline(1.0, ls="-", color="0.5", lw=1.0, label="identity rows (1)")
    ax2.set(xlabel="sparsity P", ylabel="inverse participation ratio of the rows",
            title="Structure learned by gradient descent", ylim=(0, 1.08), xlim=(min(ps) - 0.03, 1.02))
    ax2.legend(loc="center left")

    table = [{"series": "identity (exact)", "P": float(p), "risk": float(v), "d": d} for p, v in zip(grid, identity)]
    table += [{"series": "learned", "P": p, "risk": a, "risk_as_trained": b, "localisation": c, "d": d,
               "seeds": len(groups[p])} for p, a, b, c in zip(ps, refit, trained, ipr)]
    files = save(fig, out, "phase-transition") + [write_csv(out / "phase-transition.csv", table)]
    summary = [{"figure": "phase-transition", "dataset": f"sparse-rademacher:{p:g}", "quantity": "risk (best structure)",
                "d": d, "rate": rate, "theory": min(identity_encoder_risk(Law("sparse-rademacher", p), n, d), rotation),
                "simulation": a} for p, a in zip(ps, refit)]
    return FigureOutput("phase-transition", files, summary)
