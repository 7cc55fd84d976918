"""How far the default trainings stop from the best Gaussian sign code, on the data sets' spectra.

    python benchmarks/training_gap.py                    # patches:8, patches:16, digits; raw and item mean removed
    python benchmarks/training_gap.py --data patches:8 --rates 1 --remove-item-mean no --json /tmp/out.json

No data enter except their training covariance Sigma (seed 0, the suite's split), so every number
is an exact Gaussian risk R(B) for N(0, Sigma) (:func:`twolayer.theory.population_risk`), free of
test noise. Per cell:

* ``orbit``: the best sign-flip orbit encoder (:func:`twolayer.theory.orbits.orbit_min_risk`,
  default 8 orbits): the exact risk of an explicit encoder, within 0.8 % of converged optima in
  27 checked cells (theory/orbits.md), so an achievable reference;
* ``population``: plain population GD on the exact risk (the population default), 2000 steps (the
  suite's theory encoder until 2026-12-04) and 20000 steps; ``population_adam_2000``: Adam on the same
  risk, 2000 steps (the suite's theory encoder since, ``simulations.training.THEORY_OPTIMIZER``);
* ``samples``: the suite's twin training, ``train(d, n, data=G, method="samples")`` on N Gaussian
  rows G with covariance Sigma (N = the data set's training size), 2000 steps (the suite's) and
  8000 steps; R(B) of the encoder it returns.

Then the data: is the Gaussian optimum a better code for the data than the unconverged theory
encoder? ``heldout`` / ``train``: the orbit encoder, the theory encoder (Adam) and the former one (plain GD,
``gd``) on the data (least-squares decoder on the training rows); ``bc_d``: each one's ``bc-d`` (the brightness-contrast
mixture of the training rows less its excess on G, as the suite computes it; n_train >= 32 d only).

Every number is measured in this run; nothing is asserted. Results: ``results-training-gap.json``.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
from suite_grid import add_grid_arguments, cells, save

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results-training-gap.json")


def cell(data, rate, *, remove_item_mean=False, seed=0):
    """Measure one cell (module docstring); returns a JSON-ready dict."""
    from twolayer.activations import get_activation
    from twolayer.config import code_size
    from twolayer.data import prepare
    from twolayer.simulations import train
    from twolayer.theory import population_risk
    from twolayer.theory.orbits import orbit_structure
    from twolayer.universality import THEORY_OPTIMIZER, TWIN_STREAM, _brightness_contrast_risk, _scored, gaussian_rows

    t0 = time.perf_counter()
    _, split = prepare(data, seed=seed, remove_item_mean=remove_item_mean)
    N, d = split.train.shape
    n = code_size(rate, d)
    G = gaussian_rows(split.cov, N, np.random.default_rng([seed, TWIN_STREAM]))
    lam, V = np.linalg.eigh(split.cov)
    lam, V = lam[::-1], V[:, ::-1]  # descending, the orbit encoder's basis
    orbit = orbit_structure(n / d, lam)
    encoders = {"orbit": (orbit["encoder"] / np.sqrt(np.maximum(lam, 1e-300))) @ V.T}  # whitened rows -> B
    out = {"data": data, "remove_item_mean": remove_item_mean, "rate": rate, "d": d, "n": n, "n_train": N,
           "top_eigenvalue_fraction": float(split.spectrum.max() / split.spectrum.sum()),
           "orbit": float(orbit["risk"])}
    for steps in (2000, 20000):
        B = train(d, n, method="population", cov=split.cov, steps=steps, seed=seed).B
        out[f"population_{steps}"] = population_risk(B, cov=split.cov)
        if steps == 2000:
            encoders["gd"] = B
    B = train(d, n, method="population", cov=split.cov, steps=2000, seed=seed, optimizer=THEORY_OPTIMIZER).B
    out["population_adam_2000"] = population_risk(B, cov=split.cov)
    encoders["theory"] = B
    for steps in (2000, 8000):
        B = train(d, n, data=G, method="samples", steps=steps, seed=seed, parametrization="untied").B
        out[f"samples_{steps}"] = population_risk(B, cov=split.cov)
    sign = get_activation("sign")
    for name, B in encoders.items():
        scored = _scored(split.train, split.test, B, sign)  # the suite's scoring: least squares on the training rows
        bc_d = _brightness_contrast_risk(B, split.train, G, population_risk(B, cov=split.cov), sign)
        out[f"{name}_on_data"] = {"heldout": scored["test"], "train": scored["train"],
                                  "bc_d": bc_d}  # the suite's bc-d at this encoder (None when N < 32 d)
    out["seconds"] = time.perf_counter() - t0
    return out


COLUMNS = ("population_2000", "population_20000", "population_adam_2000", "samples_2000", "samples_8000")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_grid_arguments(parser, data=["patches:8", "patches:16", "digits"])
    parser.add_argument("--json", default=RESULTS)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    print(f"{'data':>10} {'mean':>7} {'r':>5} {'n':>4} {'top-eig':>7} {'orbit':>7} | "
          + " ".join(f"{c:>16}" for c in COLUMNS) + "   (R and R / orbit - 1)")
    rows = []
    for data, mean, rate in cells(args):
        r = cell(data, rate, remove_item_mean=mean)
        rows.append(r)
        print(f"{data:>10} {'removed' if mean else 'raw':>7} {rate:5.2f} {r['n']:4d} "
              f"{r['top_eigenvalue_fraction']:7.3f} {r['orbit']:7.4f} | "
              + " ".join(f"{r[c]:7.4f} {r[c] / r['orbit'] - 1:+7.1%}" for c in COLUMNS)
              + "".join(f" | {k} on data: held {r[k + '_on_data']['heldout']:.4f}"
                        + ("" if r[k + "_on_data"]["bc_d"] is None else f" bc-d {r[k + '_on_data']['bc_d']:.4f}")
                        for k in ("theory", "gd", "orbit")), flush=True)
        save(args.json, rows, "python benchmarks/training_gap.py")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
