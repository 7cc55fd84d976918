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

Mean and standard error over the repetitions (each its own B, X, G).

``--data patches:8`` (the choice of the correction): on each cell of a data set (raw and item
mean removed, r = 0.1 ... 1, seed 0, the suite's split) the theory encoder (Adam on the exact
Gaussian risk of the training covariance, as in the data runs) is scored on the test items with
its least-squares decoder, and each model's risk under five corrections is compared with that
measured risk: none, the Gaussian excess, the one-scale twin, a contrast-only twin (only the part
outside the top principal direction v_1 scaled, by scales from the contrast's norm spread) and a
two-scale twin (the v_1 part and the rest each scaled by their own scales, paired row by row).
The exact risks of the last two twins are those of zero-mean Gaussian mixtures over 64 groups of
the scales. Every number is measured in this run; nothing is asserted.
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


def _grouped_risk(B, cov, v1, scales_top, scales_rest, groups=(8, 8)):
    """Exact sign risk of rows s_top (g . v1) v1 + s_rest P g, g ~ N(0, cov), over groups of the paired scales."""
    from twolayer.activations import get_activation
    from twolayer.theory.gaussian_mixture import gaussian_mixture_risk

    top = float(v1 @ cov @ v1) * np.outer(v1, v1)
    rest = cov - top
    covs, weights = [], []
    for g in np.array_split(np.argsort(scales_top, kind="stable"), groups[0]):
        for h in np.array_split(g[np.argsort(scales_rest[g], kind="stable")], groups[1]):
            covs.append(np.mean(scales_top[h] ** 2) * top + np.mean(scales_rest[h] ** 2) * rest)
            weights.append(len(h))
    return gaussian_mixture_risk(B, covs, np.array(weights) / len(scales_top), activation=get_activation("sign"))


def data_cell(data, remove_item_mean, rate, seed=0, steps=2000):
    """Each model's risk at the theory encoder under five corrections, against its measured held-out risk."""
    from twolayer.activations import get_activation
    from twolayer.data import prepare
    from twolayer.simulations import train
    from twolayer.simulations.training import THEORY_OPTIMIZER
    from twolayer.theory import population_risk
    from twolayer.theory.gaussian_mixture import (
        brightness_contrast_mixture,
        contrast_binned_mixture,
        gaussian_mixture_risk,
    )
    from twolayer.theory.scale_mixture import kappa_of_scales, mixture_risk, twin_scales
    from twolayer.universality import TWIN_STREAM, _scored, gaussian_rows

    sign = get_activation("sign")
    _, split = prepare(data, seed=seed, remove_item_mean=remove_item_mean)
    X = split.train
    N, d = X.shape
    n = max(1, round(rate * d))
    pop = train(d, n, method="population", cov=split.cov, steps=steps, seed=seed, optimizer=THEORY_OPTIMIZER,
                progress=False)
    B = np.asarray(pop.B)
    measured = _scored(X, split.test, B, sign)["test"]
    gauss = population_risk(B, activation="sign", cov=split.cov)
    G = gaussian_rows(split.cov, N, np.random.default_rng([seed, TWIN_STREAM]))
    v1 = np.linalg.eigh(split.cov)[1][:, -1]
    bx, bg = X @ v1, G @ v1
    px, pg = X - np.outer(bx, v1), G - np.outer(bg, v1)
    one = twin_scales(X, G)
    rest = twin_scales(px, pg)
    top = twin_scales(bx[:, None], bg[:, None])
    twins = {  # name: (rows, their exact risk)
        "gaussian": (G, gauss),
        "one-scale twin": (one[:, None] * G, mixture_risk(gauss, kappa_of_scales(one))),
        "contrast-only twin": (np.outer(bg, v1) + rest[:, None] * pg,
                               _grouped_risk(B, split.cov, v1, np.ones(N), rest, (1, 64))),
        "two-scale twin": (np.outer(top * bg, v1) + rest[:, None] * pg, _grouped_risk(B, split.cov, v1, top, rest)),
    }
    row = dict(data=data, remove_item_mean=remove_item_mean, rate=rate, n=n, theory_encoder_heldout=measured,
               correlation_log_brightness_log_contrast=float(np.corrcoef(np.log(np.abs(bx)),
                                                                         np.log(np.linalg.norm(px, axis=1)))[0, 1]))
    for model, grouping in (("bins", contrast_binned_mixture), ("bc", brightness_contrast_mixture)):
        def risk(rows, grouping=grouping):
            covs, weights, *means = grouping(rows)
            return gaussian_mixture_risk(B, covs, weights, means=means[0] if means else None, activation=sign)

        rx = risk(X)
        row[model] = {"uncorrected": rx / measured - 1,
                      **{name: (rx - (risk(rows) - exact)) / measured - 1 for name, (rows, exact) in twins.items()}}
    return row


def main_data(args):
    rows = []
    names = ("uncorrected", "gaussian", "one-scale twin", "contrast-only twin", "two-scale twin")
    print(f"against the theory encoder's held-out risk: {', '.join(names)}")
    for mean in (False, True):
        for rate in (0.1, 0.25, 0.5, 1.0):
            row = data_cell(args.data, mean, rate)
            rows.append(row)
            for model in ("bins", "bc"):
                print(f"{args.data:>10} {'removed' if mean else 'raw':>7} {rate:>5} {model:>4} "
                      f"(held-out {row['theory_encoder_heldout']:.4f}, corr {row['correlation_log_brightness_log_contrast']:+.2f}) "
                      + " ".join(f"{100 * row[model][name]:+6.1f}%" for name in names), flush=True)
    with open(args.json, "w") as fh:
        json.dump({"rows": rows, "command": f"python benchmarks/bins_twin.py --data {args.data}"}, fh, indent=1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=12, help="repetitions per law (default: 12)")
    parser.add_argument("--json", default=None, help=f"results file (default: {RESULTS}, or results-bins-twin-DATA.json)")
    parser.add_argument("--data", default=None, help="a data set: compare the corrections on its cells instead")
    args = parser.parse_args(argv)
    if args.data is not None:
        args.json = args.json or RESULTS.replace(".json", f"-{args.data.replace(':', '')}.json")
        return main_data(args)
    args.json = args.json or RESULTS
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
