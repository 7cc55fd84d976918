"""Decoders beyond linear on real data (issue 16, item 8): one trained encoder, every decoder, held-out risks.

    python benchmarks/data_decoders.py                       # the default cells (~15-25 min on 2 cores)
    python benchmarks/data_decoders.py --cells digits patches:8 --rates 0.25 --json /tmp/out.json

For each data set, item-mean variant and rate, the sign autoencoder is trained once exactly as
``twolayer train --data D --rate R --decoder amp:3 --no-controls`` (2000 Adam steps, seed 0),
and its code is decoded, on the same held-out rows, by (twolayer/data_decoders.py):

* ``linear``: least squares on the training codes (the data run's decoder);
* ``learned``: isotonic regression per coordinate on out-of-fold linear reconstructions;
* ``prior``: the posterior mean of a Gaussian scale mixture fitted per coordinate;
* ``vamp1``/``vamp``: GLM-VAMP with that learned prior, after one pass / after 30;
* ``amp3``: 3 unrolled GLM-VAMP passes, precisions trained (200 Adam steps) on training rows;

in each basis asked for (``pca``; ``dct`` for image items). Beside them: the Gaussian
prediction ``gauss`` and the scale-mixture prediction ``mix`` of the data run. Every number is
measured in this run; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CELLS = ("digits", "patches:8", "patches:16")


def measure(data, remove_item_mean, rate, bases, steps=2000, seed=0):
    """One trained encoder; the record fields of every decoder in every basis."""
    from twolayer.activations import get_activation
    from twolayer.data import prepare
    from twolayer.data_decoders import score_data_decoders
    from twolayer.universality import _data_experiment

    t0 = time.perf_counter()
    options = dict(data=data, rate=rate, n=None, activation="sign", steps=steps, theory_steps=None, seed=seed,
                   remove_item_mean=remove_item_mean, contrast_normalize=False, whiten=None, test_fraction=0.2,
                   max_items=None, batch_size=256, lr=None, optimizer=None, schedule=None, init="gaussian",
                   controls=False, progress=False, dtype="float32", d=None, record_spectrum=False)
    record, real = _data_experiment(**options)
    _, split = prepare(data, seed=seed, remove_item_mean=remove_item_mean, contrast_normalize=False, whiten=None,
                       test_fraction=0.2)
    out = {"data": data, "item_mean": "removed" if remove_item_mean else "raw", "rate": rate,
           "predicted_risk": record["predicted_risk"], "predicted_risk_mixture": record["predicted_risk_mixture"],
           "kappa": record["kappa"], "bases": {}}
    for basis in bases:
        if basis == "dct" and len(split.info.get("item_shape") or ()) != 2:
            continue
        fields = score_data_decoders("amp:3", split.train, split.test, real.B, get_activation("sign"), basis=basis,
                                     cov=split.cov, item_shape=split.info.get("item_shape"), seed=seed)
        out["bases"][basis] = fields
    out["seconds"] = time.perf_counter() - t0
    return out


def row(cell, basis):
    f = cell["bases"][basis]
    vamp = f["risk_vamp_per_pass"]
    fmt = lambda v: "  diverged" if v is None or v > 9.99 else f"{v:10.4f}"
    return (f"{cell['data']:>10} {cell['item_mean']:>8} {cell['rate']:5g} {basis:>5} "
            f"{cell['predicted_risk']:8.4f} {cell['predicted_risk_mixture']:8.4f} "
            f"{f['risk_linear']:8.4f} {f['risk_linear_stderr']:6.4f} {f['risk_learned_denoiser']:8.4f} "
            f"{f['risk_prior_denoiser']:8.4f}{fmt(vamp[0])}{fmt(vamp[-1])}{fmt(f['risk_amp'])} "
            f"{100 * (f['risk_linear'] - min(f['risk_learned_denoiser'], f['risk_amp'] or 9)) / f['risk_linear']:7.1f}%")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cells", nargs="+", default=list(CELLS))
    parser.add_argument("--rates", nargs="+", type=float, default=[0.25, 1.0])
    parser.add_argument("--item-mean", choices=("raw", "removed", "both"), default="both")
    parser.add_argument("--bases", nargs="+", default=["pca", "dct"])
    parser.add_argument("--json", default=os.path.join(HERE, "results-data-decoders.json"))
    args = parser.parse_args(argv)
    variants = {"raw": [False], "removed": [True], "both": [False, True]}[args.item_mean]
    cells = []
    print(f"{'data':>10} {'item mean':>8} {'r':>5} {'basis':>5} {'gauss':>8} {'mix':>8} {'linear':>8} {'+-':>6} "
          f"{'learned':>8} {'prior':>8} {'vamp1':>10}{'vamp30':>10}{'amp3':>10} {'best gain':>8}", flush=True)
    for data in args.cells:
        for remove in variants:
            for rate in args.rates:
                cell = measure(data, remove, rate, args.bases)
                cells.append(cell)
                for basis in cell["bases"]:
                    print(row(cell, basis), flush=True)
                with open(args.json, "w") as fh:  # after every cell: a long run keeps what it measured
                    json.dump({"cells": cells}, fh, indent=1)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
