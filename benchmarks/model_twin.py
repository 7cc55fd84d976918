"""Where training beats the Gaussian-optimal encoder on patches: is the structure it uses in the data model?

    python benchmarks/model_twin.py                      # 8x8 patches, seeds 0 1 2; 16x16 raw, seed 0
    python benchmarks/model_twin.py --data patches:8 --seeds 0 --json /tmp/out.json

On each suite cell (the suite's split, seed and default training: 2000 Adam steps from a random
start) the data model of the preprocessing (raw: ``bc``, 4 brightness x 8 contrast groups with
means; item mean removed: ``bins``, 32 zero-mean contrast groups; theory/universality.md) is
asked two questions.

1. **Does the model describe the trained encoder?** The model's exact risk of the trained
   encoder (best linear decoder, less the grouping's excess, exactly as the suite's ``bc-d`` and
   ``bins-d`` do at the theory encoder) against that encoder's held-out risk on the data; the
   same for the theory encoder (Adam on the exact Gaussian risk of the training covariance).
   Beside it, how each encoder's neurons mix the principal directions (:func:`neuron_mixing`).
2. **Does training on the model's rows reach what training on the data reaches?** Twins, each
   N training rows and N_test test rows, trained with the same default training and scored on
   their own test rows with the least-squares decoder:

   * ``model``: rows drawn from the model (every group a Gaussian with its rows' mean and
     covariance; group counts multinomial with the model's weights);
   * ``group-shuffle``: the data's own rows (training and test pooled), grouped as the model
     groups them; within each group the coordinates along the group's principal axes are
     permuted independently across its rows. This keeps each group's mean, covariance and
     marginals along its axes, and removes the dependence between the axes within a group;
   * ``gaussian``: the suite's Gaussian twin (N(0, Sigma_train), ``default_rng([seed, 1])``).

``--bins 16 8`` groups raw patches into finer brightness groups (-> ``results-model-twin-bc16x8.json``;
raw 8x8 patches by default: 128 groups need N >= 128 d rows). ``--gaussian-check`` is the control
of the method: the same with Gaussian rows of each data set's training covariance in place of the
data (-> ``results-model-twin-gaussian-check.json``, ``...-bc16x8-gaussian-check.json``).

If the structure that training uses were in the model, the model would describe the trained
encoder, and training on its rows would land near the data's trained risk. Every number is
measured in this run; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results-model-twin.json")
RATES = (0.1, 0.25, 0.5, 1.0)
#: (data, item mean removed, seeds) of the default run.
CELLS = (("patches:8", False, (0, 1, 2)), ("patches:8", True, (0, 1, 2)), ("patches:16", False, (0,)))
#: seed sequence entry of the twins' own draws (the Gaussian twin's is 1).
TWIN_DRAWS = 2
#: seed sequence entry of the Gaussian rows that stand in for the data in the ``--gaussian-check`` control.
CHECK_DRAWS = 3


def model_of(remove_item_mean, bins=None):
    """(name, groups(X) -> index arrays, mixture(X) -> (covs, weights, means or None), uses the scale twin).

    ``bins``: the (brightness, contrast) groups of the raw-patch model (default the suite's 4 x 8).
    """
    from twolayer.theory.gaussian_mixture import (
        BRIGHTNESS_CONTRAST_BINS,
        brightness_contrast_groups,
        brightness_contrast_mixture,
        contrast_binned_mixture,
        contrast_groups,
        default_contrast_bins,
    )

    if remove_item_mean:
        return ("bins", lambda X: contrast_groups(X, default_contrast_bins(*X.shape)), contrast_binned_mixture, True)
    bins = tuple(bins or BRIGHTNESS_CONTRAST_BINS)
    return ("bc" if bins == BRIGHTNESS_CONTRAST_BINS else f"bc{bins[0]}x{bins[1]}",
            lambda X: brightness_contrast_groups(X, bins), lambda X: brightness_contrast_mixture(X, bins), False)


def model_rows(covariances, weights, means, count, rng):
    """``count`` rows of the Gaussian mixture (group counts multinomial with ``weights``)."""
    d = covariances[0].shape[0]
    counts = rng.multinomial(count, np.asarray(weights) / np.sum(weights))
    parts = []
    for k, (cov, c) in enumerate(zip(covariances, counts)):
        lam, V = np.linalg.eigh(cov)
        g = rng.standard_normal((c, d)) * np.sqrt(np.clip(lam, 0.0, None))
        parts.append(g @ V.T + (0.0 if means is None else means[k]))
    rows = np.vstack(parts)
    return rows[rng.permutation(count)]


def group_shuffled_rows(X, groups, rng):
    """``X`` with, in every group, the coordinates along the group's principal axes permuted independently."""
    out = np.empty_like(X)
    for g in groups:
        Y = X[g]
        mean = Y.mean(axis=0)
        V = np.linalg.eigh((Y - mean).T @ (Y - mean) / len(g))[1]
        Z = (Y - mean) @ V
        Z = np.column_stack([Z[rng.permutation(len(g)), j] for j in range(Z.shape[1])])
        out[g] = Z @ V.T + mean
    return out


def neuron_mixing(B, cov):
    """How each neuron mixes the principal directions: f_i = lambda_1 (b_i . v_1)^2 / (b_i^T Sigma b_i), and more.

    Returns the quantiles (10, 25, 50, 75, 90 %) of the top direction's share f_i of each neuron's
    projection variance, the median over the neurons of the number of principal directions a
    neuron mixes (1 / sum_j p_ij^2, p_ij = lambda_j (b_i . v_j)^2 / b_i^T Sigma b_i), and the share of
    all neurons' projection variance on the top direction (sum_i f_i / n).
    """
    lam, V = np.linalg.eigh(cov)
    share = (np.asarray(B) @ V[:, ::-1]) ** 2 * np.clip(lam[::-1], 0.0, None)
    share /= share.sum(axis=1, keepdims=True)
    return {"top_share_quantiles": np.quantile(share[:, 0], [0.1, 0.25, 0.5, 0.75, 0.9]).tolist(),
            "directions_per_neuron": float(np.median(1.0 / np.sum(share**2, axis=1))),
            "top_share_mean": float(share[:, 0].mean())}


def cell(data, remove_item_mean, seed, rates=RATES, steps=2000, gaussian_check=False, bins=None):
    """Rows (one per rate) of the two questions for one data set, preprocessing and seed.

    With ``gaussian_check`` the data's rows are replaced by Gaussian rows with their covariance
    (``default_rng([seed, CHECK_DRAWS])``, the same counts): there every twin has the data's law
    up to the grouping, so each twin's trained risk should be the data's within the run's noise.
    """
    from twolayer.activations import get_activation
    from twolayer.data import prepare
    from twolayer.simulations import train
    from twolayer.simulations.threads import blas_threads
    from twolayer.simulations.training import THEORY_OPTIMIZER
    from twolayer.theory import population_risk
    from twolayer.universality import DATA_BLAS_THREADS, TWIN_STREAM, _binned_risk, _scored, gaussian_rows

    sign = get_activation("sign")
    name, groups_of, mixture, scale_twin = model_of(remove_item_mean, bins)
    options = dict(activation="sign", method="samples", steps=steps, seed=seed, optimizer="adam", schedule="cosine",
                   batch_size=256, parametrization="untied", dtype="float32", progress=False)  # the suite's training
    rows = []
    with blas_threads(DATA_BLAS_THREADS):
        _, split = prepare(data, seed=seed, remove_item_mean=remove_item_mean)
        Xtr, Xte, cov = split.train, split.test, split.cov
        (N, d), N_te = Xtr.shape, Xte.shape[0]
        if gaussian_check:  # the control: Gaussian rows with the data's covariance in place of the data
            X = gaussian_rows(cov, N + N_te, np.random.default_rng([seed, CHECK_DRAWS]))
            Xtr, Xte = X[:N], X[N:]
            cov = Xtr.T @ Xtr / N
            data = f"gaussian({data})"
        G = gaussian_rows(cov, N + N_te, np.random.default_rng([seed, TWIN_STREAM]))
        rng = np.random.default_rng([seed, TWIN_DRAWS])
        covs, weights, *means = mixture(Xtr)
        pooled = np.vstack([Xtr, Xte])
        twins = {"model": model_rows(covs, weights, means[0] if means else None, N + N_te, rng),
                 "group-shuffle": group_shuffled_rows(pooled, groups_of(pooled), rng),
                 "gaussian": G}
        for rate in rates:
            t0 = time.perf_counter()
            n = max(1, round(rate * d))
            trained = train(d, n, data=Xtr, **options).B
            theory = train(d, n, method="population", cov=cov, steps=steps, seed=seed, optimizer=THEORY_OPTIMIZER,
                           progress=False).B
            row = dict(data=data, remove_item_mean=remove_item_mean, seed=seed, rate=rate, n=n, model=name)
            for label, B in (("trained", trained), ("theory", theory)):
                gauss = population_risk(B, activation=sign, cov=cov)
                row.update({f"{label}_{key}": value for key, value in neuron_mixing(B, cov).items()})
                row[f"{label}_heldout"] = _scored(Xtr, Xte, B, sign)["test"]
                row[f"{label}_model"] = _binned_risk(mixture, B, Xtr, G[:N], gauss, sign, scale_twin=scale_twin)[0]
            for label, T in twins.items():
                Ttr, Tte = T[:N], T[N:]
                row[f"twin_{label}_heldout"] = _scored(Ttr, Tte, train(d, n, data=Ttr, **options).B, sign)["test"]
            row["seconds"] = time.perf_counter() - t0
            rows.append(row)
    return rows


def _pct(value, reference):
    return f"{100 * (value / reference - 1):+6.1f}%"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="one data set (default: 8x8 patches both ways, 16x16 raw)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="seeds (default: 0 1 2; 16x16: 0)")
    parser.add_argument("--bins", type=int, nargs=2, default=None, metavar=("BRIGHTNESS", "CONTRAST"),
                        help="groups of the raw-patch model (default: the suite's 4 8); raw patches only")
    parser.add_argument("--gaussian-check", action="store_true",
                        help="the control: Gaussian rows with each data set's covariance in place of the data")
    parser.add_argument("--json", default=RESULTS, help=f"results file (default: {RESULTS})")
    args = parser.parse_args(argv)
    if args.json == RESULTS:
        args.json = RESULTS.replace(".json", (f"-bc{args.bins[0]}x{args.bins[1]}" if args.bins else "")
                                    + ("-gaussian-check" if args.gaussian_check else "") + ".json")
    cells = CELLS if args.data is None else tuple((args.data, mean, (0, 1, 2)) for mean in (False, True))
    if args.bins:  # the raw-patch model only; finer groups need N >= d x groups rows (8x8 patches by default)
        cells = tuple((data, False, seeds) for data, mean, seeds in cells
                      if not mean and (args.data is not None or data == "patches:8"))
    rows = []
    print("held-out risk of the trained encoder; the model's risk of each encoder and the twins' trained risks "
          "against it")
    print(f"{'data':>10} {'mean':>7} {'seed':>4} {'r':>5} {'model':>5} {'trained':>8} {'model(tr)':>9} "
          f"{'theory':>8} {'model(th)':>9} {'twin:model':>10} {'shuffle':>8} {'gaussian':>8}")
    for data, mean, seeds in cells:
        for seed in (args.seeds or seeds):
            for row in cell(data, mean, seed, gaussian_check=args.gaussian_check, bins=args.bins):
                rows.append(row)
                held = row["trained_heldout"]
                print(f"{data:>10} {'removed' if mean else 'raw':>7} {seed:>4} {row['rate']:>5} {row['model']:>5} "
                      f"{held:8.4f} {_pct(row['trained_model'], held):>9} {_pct(row['theory_heldout'], held):>8} "
                      f"{_pct(row['theory_model'], row['theory_heldout']):>9} "
                      f"{_pct(row['twin_model_heldout'], held):>10} {_pct(row['twin_group-shuffle_heldout'], held):>8} "
                      f"{_pct(row['twin_gaussian_heldout'], held):>8}", flush=True)
    with open(args.json, "w") as fh:
        json.dump({"rows": rows, "command": "python benchmarks/model_twin.py"
                   + (f" --bins {args.bins[0]} {args.bins[1]}" if args.bins else "")
                   + (" --gaussian-check" if args.gaussian_check else "")}, fh, indent=1)


if __name__ == "__main__":
    main()
