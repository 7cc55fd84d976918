"""Figures on structured sources: ``phase-transition`` (identity vs rotation on sparse Rademacher data)
and ``sparse-decoders`` (decoders beyond linear on Bernoulli-Gaussian data: see :func:`sparse_decoders`).

``phase-transition``:

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


@styled
def sparse_decoders(out: Path, *, quick: bool = False, workers=None, progress=False) -> FigureOutput:
    """Risk against the sparsity P at fixed r for decoders beyond linear, theory and runs.

    Bernoulli-Gaussian data (``simulations/sparse-decoders[.quick].toml``). Lines, in the limit:
    the Gaussian value (a linear decoder, the ICML 2024 theorem), the denoiser prediction
    mmse(R_G / (1 - R_G)), GLM-VAMP's state evolution after L passes and at its fixed point (the
    Bayes benchmark of the Gaussian-optimal encoder; :mod:`twolayer.theory.amp`). Dotted, at the
    runs' d: the linear and denoiser risks of the finite-d channel, where the code does not see
    the norm of x (:func:`twolayer.theory.priors.finite_d_channel`). Markers, on
    the encoder each run learned and the same test draws: the linear decoder (best linear for
    the learned encoder), the law's denoiser after it, the unrolled decoder amp:L (trained) and
    GLM-VAMP run to its fixed point (``risk_bayes`` of the same runs).

    Parameters
    ----------
    out : Path
        The output folder (must exist): the sweep database, PNG, PDF and CSV go there.
    quick : bool, optional
        Run the quick spec (d = 128, three sparsities; default False).
    workers : int or None, optional
        Worker processes of the sweep (None: ``os.cpu_count()``).
    progress : bool, optional
        Show the sweep's progress bar (default False).

    Returns
    -------
    FigureOutput
        The files (sparse-decoders.png, .pdf, .csv) and, per P, the Bayes benchmark (theory)
        against GLM-VAMP on the learned encoder (simulation).

    References
    ----------
    .. [1] K. Kögler, A. Shevchenko, H. Hassani and M. Mondelli, "Compression of structured data
       with autoencoders: provable benefit of nonlinearities and depth", ICML 2024, arXiv:2402.05013.
    """
    from ..config import decoder_layers
    from ..theory import min_risk
    from ..theory.amp import bayes_risk, state_evolution
    from ..theory.priors import Law, denoiser_risk, finite_d_channel

    rows = run_spec("sparse-decoders", out, quick=quick, workers=workers, progress=progress)
    amp_rows = _by_sparsity([r for r in rows if r["decoder"].startswith("amp:")])
    layers = decoder_layers(next(r["decoder"] for r in rows if r["decoder"].startswith("amp:")))
    d, rate = rows[0]["d"], rows[0]["rate"]
    gaussian = float(min_risk(rate))
    grid = np.geomspace(min(amp_rows), 1.0, 60)
    laws = [Law("bernoulli-gaussian", float(p)) for p in grid]
    denoiser = [denoiser_risk(law, gaussian) for law in laws]
    passes = [float(state_evolution(law, rate, passes=layers, tol=0.0).risk[layers]) for law in laws]
    bayes = [float(bayes_risk(law, rate)) for law in laws]
    # at the runs' d: the 1-bit code does not see the norm (theory/structured.md, "The channel at finite d")
    grid_d = np.geomspace(min(amp_rows), 1.0, 16)
    at_d = [finite_d_channel(Law("bernoulli-gaussian", float(p)), d, gaussian) for p in grid_d]

    fig, ax = figure((6.4, 4.6))
    ax.axhline(gaussian, color="C0", lw=1.6, label="linear decoder: Gaussian value (theorem)")
    ax.plot(grid, denoiser, "-", color="C1", lw=1.6, label="+ MMSE denoiser (effective channel)")
    ax.plot(grid, passes, "-", color="C2", lw=1.6, label=f"GLM-VAMP, {layers} passes (state evolution)")
    ax.plot(grid, bayes, "--", color="k", lw=1.6, label="Bayes benchmark (state-evolution fixed point)")
    ax.plot(grid_d, [c["risk_linear"] for c in at_d], ":", color="C0", lw=1.4, label=f"linear decoder at d = {d} (norm unseen)")
    ax.plot(grid_d, [c["risk_denoiser"] for c in at_d], ":", color="C1", lw=1.4, label=f"+ denoiser at d = {d} (norm unseen)")
    ps = list(amp_rows)
    mean = lambda groups, key: [float(np.mean([r[key] for r in groups[p]])) for p in groups]
    ax.plot(ps, mean(amp_rows, "risk_linear_refit"), "o", color="C0", ms=6, label="runs: best linear decoder")
    ax.plot(ps, mean(amp_rows, "risk_denoiser"), "s", color="C1", ms=6, label="runs: + denoiser")
    ax.plot(ps, mean(amp_rows, "risk_amp"), "^", color="C2", ms=7, label=f"runs: amp:{layers} (trained)")
    # every amp:L run also scores GLM-VAMP run to its fixed point, on the same encoder and draws
    ax.plot(ps, mean(amp_rows, "risk_bayes"), "D", color="k", mfc="none", ms=6, label="runs: GLM-VAMP to its fixed point")
    ax.set(xscale="log", xlabel="sparsity P (fraction of non-zero coordinates)",
           ylabel="risk  E|x − x̂|² / E|x|²", ylim=(0, min(1.0, gaussian * 1.25)),
           title=f"Bernoulli-Gaussian, r = {rate:g}, d = {d}: decoders after a 1-bit code")
    ax.legend(loc="lower right", fontsize=7.5)

    table = [{"series": "theory", "P": float(p), "gaussian": gaussian, "denoiser": a, f"amp{layers}": b, "bayes": c}
             for p, a, b, c in zip(grid, denoiser, passes, bayes)]
    table += [{"series": "theory at d", "P": float(p), "d": d, "linear_finite_d": c["risk_linear"],
               "denoiser_finite_d": c["risk_denoiser"]} for p, c in zip(grid_d, at_d)]
    table += [{"series": "runs", "P": p, "d": d, "linear_refit": a, "denoiser": b, f"amp{layers}": c, "bayes": v}
              for p, a, b, c, v in zip(ps, mean(amp_rows, "risk_linear_refit"), mean(amp_rows, "risk_denoiser"),
                                       mean(amp_rows, "risk_amp"), mean(amp_rows, "risk_bayes"))]
    files = save(fig, out, "sparse-decoders") + [write_csv(out / "sparse-decoders.csv", table)]
    summary = [{"figure": "sparse-decoders", "dataset": f"bernoulli-gaussian:{p:g}", "quantity": "risk (Bayes decoding)",
                "d": d, "rate": rate, "theory": float(bayes_risk(Law("bernoulli-gaussian", p), rate)), "simulation": v}
               for p, v in zip(ps, mean(amp_rows, "risk_bayes"))]
    return FigureOutput("sparse-decoders", files, summary)
