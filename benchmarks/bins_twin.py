"""The binned data models' excess, subtracted on Gaussian rows or on a scale-mixture twin: which is exact.

    python benchmarks/bins_twin.py                 # 12 repetitions per law, d = 64, N = 16000
    python benchmarks/bins_twin.py --repeats 4 --json /tmp/out.json

Synthetic rows x = s g, g ~ N(0, diag(k^-1)) (d = 64), s from a known law (none, log-normal
sigma 0.5 and 1, two-point {0.5, 2}), so the exact risk of any sign encoder B is
1 - kappa (1 - R_gauss(B)) (theory/scale_mixture.md). For a random Gaussian B with n = d / 2 and
each binned model of the data (``bins``: 32 contrast groups; ``bc``: 4 brightness x 8 contrast
groups with means, theory/universality.md), the table gives the relative error against that exact
risk of

* ``uncorrected``: the model's risk on the rows X;
* ``gaussian excess``: R(X) - (R(G) - R_gauss), G Gaussian rows of the same covariance and count
  (the data runs' correction until 2026-12-05);
* ``twin excess``: R(X) - (R(T) - R_T), T = s_twin * G with s_twin = ``twin_scales(X, G)`` (the
  data's norm spread less the Gaussian's) and R_T = 1 - kappa(s_twin) (1 - R_gauss) its exact risk
  (the data runs' correction now).

Mean and standard error over the repetitions (each its own B, X, G). Every number is measured in
this run; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time

import numpy as np

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results-bins-twin.json")
LAWS = {  # name: (sampler(rng, N) or None, exact kappa)
    "gaussian": (None, 1.0),
    "lognormal 0.5": (lambda rng, N: np.exp(0.5 * rng.standard_normal(N)), math.exp(-0.25)),
    "lognormal 1": (lambda rng, N: np.exp(rng.standard_normal(N)), math.exp(-1.0)),
    "two-point": (lambda rng, N: rng.choice([0.5, 2.0], N), 1.25**2 / 2.125),
}


def repetition(law, seed, d=64, N=16000):
    """Relative errors (uncorrected, Gaussian excess, twin excess) of bins and bc for one draw."""
    from twolayer.activations import get_activation
    from twolayer.theory import population_risk
    from twolayer.theory.gaussian_mixture import (
        brightness_contrast_mixture,
        contrast_binned_mixture,
        gaussian_mixture_risk,
    )
    from twolayer.theory.scale_mixture import kappa_of_scales, mixture_risk, twin_scales
    from twolayer.universality import gaussian_rows

    sign = get_activation("sign")
    sampler, kappa = LAWS[law]
    rng = np.random.default_rng([seed, 11])
    cov = np.diag(1.0 / np.arange(1, d + 1))
    B = rng.standard_normal((d // 2, d))
    gauss = population_risk(B, activation="sign", cov=cov)
    s = np.ones(N) if sampler is None else sampler(rng, N)
    X = s[:, None] * gaussian_rows(cov, N, rng)
    G = gaussian_rows(cov, N, rng)
    scales = twin_scales(X, G)
    T = scales[:, None] * G
    exact, twin_exact = mixture_risk(gauss, kappa), mixture_risk(gauss, kappa_of_scales(scales))
    out = {}
    for name, grouping in (("bins", contrast_binned_mixture), ("bc", brightness_contrast_mixture)):
        def risk(rows, grouping=grouping):
            covs, weights, *means = grouping(rows)
            return gaussian_mixture_risk(B, covs, weights, means=means[0] if means else None, activation=sign)

        rx, rg, rt = risk(X), risk(G), risk(T)
        out[name] = [rx / exact - 1, (rx - (rg - gauss)) / exact - 1, (rx - (rt - twin_exact)) / exact - 1]
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=12, help="repetitions per law (default: 12)")
    parser.add_argument("--json", default=RESULTS, help=f"results file (default: {RESULTS})")
    args = parser.parse_args(argv)
    rows = []
    print(f"{'law':>14} {'model':>5} {'uncorrected':>16} {'gaussian excess':>16} {'twin excess':>16}")
    for law in LAWS:
        t0 = time.perf_counter()
        reps = [repetition(law, seed) for seed in range(args.repeats)]
        for model in ("bins", "bc"):
            e = np.array([rep[model] for rep in reps])
            mean, se = e.mean(axis=0), e.std(axis=0, ddof=1) / math.sqrt(len(e))
            rows.append(dict(law=law, kappa=LAWS[law][1], model=model, repeats=len(e),
                             mean=dict(zip(("uncorrected", "gaussian_excess", "twin_excess"), mean.tolist())),
                             stderr=dict(zip(("uncorrected", "gaussian_excess", "twin_excess"), se.tolist())),
                             seconds=time.perf_counter() - t0))
            print(f"{law:>14} {model:>5} " + " ".join(f"{100 * m:+7.2f}% +-{100 * s:4.2f}" for m, s in zip(mean, se)),
                  flush=True)
    with open(args.json, "w") as fh:
        json.dump({"rows": rows, "command": "python benchmarks/bins_twin.py"
                   + (f" --repeats {args.repeats}" if args.repeats != 12 else "")}, fh, indent=1)


if __name__ == "__main__":
    main()
