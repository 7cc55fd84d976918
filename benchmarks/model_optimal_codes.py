"""How far the suite's trained encoder is from the best sign code for a model of the data (issue 14, item 5).

    python benchmarks/model_optimal_codes.py                                  # raw patches, r = 0.1 ... 1
    python benchmarks/model_optimal_codes.py --data digits --models gmm bins --remove-item-mean both
    python benchmarks/model_optimal_codes.py --data patches:8 --rates 0.25 --json /tmp/out.json

On raw patches the suite's trained encoder is 3-8 % better on held-out data than the
Gaussian-optimal (theory) encoder, and the brightness-contrast model (``bc-d``) describes the
theory encoder, not that gain (theory/universality.md). This script asks how much better a sign
code can be on these data, and where the trained encoder sits. Per cell (seed 0, the suite's split):

* ``trained``: ``train(d, n, data=X_train, method="samples", steps=2000, seed=0)``, the suite's
  encoder; ``trained@4x``: the same with 4 times the steps (does more training close the gap?);
* ``theory``: plain population GD on the exact Gaussian risk of the training covariance (2000 steps;
  the suite's theory encoder when the stored results were measured; the suite has used Adam since
  2026-12-04, which converges on raw-patch spectra: theory/universality.md);
* ``<model>-opt``: the best sign code for a Gaussian mixture built from the training rows, found
  by L-BFGS on the exact mixture risk from the theory encoder
  (:func:`~twolayer.theory.gaussian_mixture.gaussian_mixture_optimum`). ``model`` is the mixture
  risk it reaches and ``theory_encoder_model`` the theory encoder's. The models:

  - ``bc``: rows grouped by brightness, then contrast, 4 x 8 groups with their own means
    (:func:`~twolayer.theory.gaussian_mixture.brightness_contrast_mixture`; the suite's ``bc-d``);
  - ``bins``: zero-mean groups by contrast (:func:`~twolayer.theory.gaussian_mixture.contrast_binned_mixture`;
    ``bins-d``);
  - ``gmm``: 4 components with means, scikit-learn EM (the suite's ``gmm-opt``).

  For the two groupings ``excess`` is the grouping's excess on Gaussian rows with the training
  covariance, at the optimal encoder (R_model(G) - R_gauss, as ``bc-d`` and ``bins-d`` subtract it).

For every encoder ``held-out`` and ``train`` are its risks on the data with the least-squares
decoder fitted on the training rows: a model's optimum is checked by the encoder it produces.
Every number is measured in this run; nothing is asserted. Results: ``results-model-optimal-codes.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings

import numpy as np
from suite_grid import add_grid_arguments, cells, save

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results-model-optimal-codes.json")


def _models():
    """name -> (grouping: X -> (covariances, weights, means or None), least rows per dimension, excess measured)."""
    from twolayer.theory.gaussian_mixture import (
        BRIGHTNESS_CONTRAST_BINS,
        DATA_COMPONENTS,
        brightness_contrast_mixture,
        contrast_binned_mixture,
        fit_gaussian_mixture_with_means,
    )

    def bins(X):
        return (*contrast_binned_mixture(X), None)

    def gmm(X):
        return fit_gaussian_mixture_with_means(X, DATA_COMPONENTS, seed=0)  # seed 0, as the suite's cells

    return {"bc": (brightness_contrast_mixture, int(np.prod(BRIGHTNESS_CONTRAST_BINS)), True),
            "bins": (bins, 4, True), "gmm": (gmm, DATA_COMPONENTS + 1, False)}


MODELS = ("bc", "bins", "gmm")


def cell(data, rate, *, remove_item_mean=False, models=("bc", "gmm"), steps=2000, seed=0, maxiter=500):
    """Measure one cell (module docstring); returns a JSON-ready dict (models without enough rows are left out)."""
    from twolayer.activations import get_activation
    from twolayer.config import code_size
    from twolayer.data import prepare
    from twolayer.simulations import train
    from twolayer.theory import population_risk
    from twolayer.theory.gaussian_mixture import gaussian_mixture_optimum, gaussian_mixture_risk
    from twolayer.universality import TWIN_STREAM, _scored, gaussian_rows

    _, split = prepare(data, seed=seed, remove_item_mean=remove_item_mean)
    Xtr, Xte = split.train, split.test
    N, d = Xtr.shape
    n = code_size(rate, d)
    out = {"data": data, "remove_item_mean": remove_item_mean, "rate": rate, "d": d, "n": n, "n_train": N,
           "steps": steps}

    def score(name, B, **extra):
        B = np.asarray(B, dtype=np.float64)
        scored = _scored(Xtr, Xte, B, get_activation("sign"))  # the suite's scoring: least squares on Xtr
        out[name] = {"heldout": scored["test"], "train": scored["train"],
                     "gauss": population_risk(B, cov=split.cov), **extra}
        return B

    t0 = time.perf_counter()
    sample_options = dict(data=Xtr, method="samples", seed=seed, parametrization="untied")
    score("trained", train(d, n, steps=steps, **sample_options).B)
    score("trained@4x", train(d, n, steps=4 * steps, **sample_options).B)
    theory = score("theory", train(d, n, method="population", cov=split.cov, steps=steps, seed=seed, optimizer="sgd").B)
    out["seconds_training"] = time.perf_counter() - t0

    G = gaussian_rows(split.cov, N, np.random.default_rng([seed, TWIN_STREAM]))
    for name in models:
        grouping, rows_per_dim, with_excess = _models()[name]
        if N < rows_per_dim * d:
            continue
        t0 = time.perf_counter()
        covs, weights, means = grouping(Xtr)
        model, B = gaussian_mixture_optimum(theory, covs, weights, means, maxiter=maxiter)
        excess = None
        if with_excess:
            gc, gw, gm = grouping(G)
            excess = gaussian_mixture_risk(B, gc, gw, means=gm) - population_risk(B, cov=split.cov)
        score(f"{name}-opt", B, model=model, excess=excess,
              theory_encoder_model=gaussian_mixture_risk(theory, covs, weights, means=means))
        out[f"seconds_{name}_opt"] = time.perf_counter() - t0
    return out


def _line(r):
    """One printed line per (cell, model)."""
    tr, tr4, th = r["trained"], r["trained@4x"], r["theory"]
    head = (f"{r['data']:>10} {'removed' if r.get('remove_item_mean') else 'raw':>7} {r['rate']:5.2f} {r['n']:4d} | "
            f"{tr['heldout']:7.4f} {tr['train']:7.4f} | {tr4['heldout']:7.4f} {tr4['train']:7.4f} | {th['heldout']:7.4f} |")
    lines = []
    for key in sorted(k for k in r if k.endswith("-opt")):
        m = r[key]
        excess = "" if m.get("excess") is None else f"{m['excess']:+.4f}"
        lines.append(f"{head} {key:>8} {m.get('theory_encoder_model', float('nan')):7.4f} {m['model']:7.4f} "
                     f"{excess:>8} {m['heldout']:7.4f} {m['train']:7.4f} | {tr['heldout'] / m['heldout']:7.3f}")
    return "\n".join(lines) or head


def markdown(rows) -> str:
    """The results as the markdown table of theory/universality.md ("The best code for a model of the data")."""
    out = ["| data | item mean | r | n | trained: held-out | train | 4× steps: held-out | theory enc.: held-out | "
           "model | optimum (model, less excess) | its encoder: held-out | train | model / held-out | trained / optimum's held-out |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        tr, tr4, th = r["trained"], r["trained@4x"], r["theory"]
        for key in sorted(k for k in r if k.endswith("-opt")):
            m = r[key]
            model = m["model"] - (m.get("excess") or 0.0)  # the groupings less their excess on Gaussian rows
            out.append(f"| {r['data']} | {'removed' if r.get('remove_item_mean') else 'raw'} | {r['rate']:g} | {r['n']} | "
                       f"{tr['heldout']:.4f} | {tr['train']:.4f} | {tr4['heldout']:.4f} | {th['heldout']:.4f} | "
                       f"{key[:-4]} | {model:.4f} | {m['heldout']:.4f} | {m['train']:.4f} | "
                       f"{model / m['heldout']:.3f} | {tr['heldout'] / m['heldout']:.3f} |")
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_grid_arguments(parser, data=["patches:8", "patches:16"], remove_item_mean="no")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=["bc", "gmm"])
    parser.add_argument("--maxiter", type=int, default=500, help="most L-BFGS iterations per model optimum")
    parser.add_argument("--json", default=RESULTS, help="results file; rows already there for other cells are kept")
    parser.add_argument("--markdown", action="store_true", help="print the stored results as a markdown table; run nothing")
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown(json.load(open(args.json))["rows"]))
        return
    warnings.filterwarnings("ignore", category=UserWarning)
    print(f"{'data':>10} {'mean':>7} {'r':>5} {'n':>4} | {'trained: held':>7} {'train':>7} | {'@4x: held':>7} "
          f"{'train':>7} | {'theory: held':>7} | {'model':>8} {'theory':>7} {'optimum':>7} {'excess':>8} "
          f"{'held':>7} {'train':>7} | {'trained/opt held':>7}")
    rows = json.load(open(args.json))["rows"] if os.path.exists(args.json) else []
    for data, mean, rate in cells(args):
        new = cell(data, rate, remove_item_mean=mean, models=args.models, maxiter=args.maxiter)
        rows = [r for r in rows if (r["data"], r.get("remove_item_mean", False), r["rate"])
                != (data, mean, rate)] + [new]
        print(_line(new), flush=True)
        save(args.json, rows, "python benchmarks/model_optimal_codes.py")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
