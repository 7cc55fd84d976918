"""Where the default training stops on raw patches: minibatches, the full batch, and the same training on the data model.

    python benchmarks/model_training.py                       # raw 8x8 patches, seeds 0 1 2, r = 0.5 1
    python benchmarks/model_training.py --rates 0.1 0.25 --json /tmp/out.json

On each suite cell (the suite's split and seed) four encoders, each scored on the test rows with
the least-squares decoder (held-out risk):

* ``trained``: the default training, ``train(d, n, data=X)`` (Adam, cosine, annealed smoothing,
  minibatches of 256, 2000 steps);
* ``full_batch``: the same with every training row in every minibatch;
* ``model_trained``: the same optimiser, schedule, smoothing, start and steps on the exact loss of
  the suite's ``bc`` model of the training rows (:func:`twolayer.simulations.mixture_training.train_on_mixture`,
  no minibatches), the suite's ``train-enc``;

and the suite's prediction ``bc-train`` (``model_training_risk``: the ``bc`` model's risk of the
``model_trained`` encoder, less the model's Gaussian excess). The record of each cell comes from
:func:`twolayer.universality.data_experiment` with ``model_training=True`` (the suite's own run), the
full-batch encoder from one more ``train``. Every number is measured in this run; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import time

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results-model-training.json")


def cell(data, seed, rate):
    """One row: the held-out risks of the four encoders and bc-train."""
    from twolayer.activations import get_activation
    from twolayer.data import prepare
    from twolayer.simulations import train
    from twolayer.simulations.threads import blas_threads
    from twolayer.universality import DATA_BLAS_THREADS, _scored, data_experiment

    t0 = time.perf_counter()
    record = data_experiment(data, rate, seed=seed, model_training=True)
    with blas_threads(DATA_BLAS_THREADS):
        _, split = prepare(data, seed=seed)
        Xtr, Xte = split.train, split.test
        full = train(Xtr.shape[1], record["n"], data=Xtr, method="samples", seed=seed, batch_size=Xtr.shape[0],
                     progress=False)
        full_batch = _scored(Xtr, Xte, full.B, get_activation("sign"))["test"]
    return dict(data=data, seed=seed, rate=rate, n=record["n"], n_train=record["n_train"],
                trained=record["final_risk"], full_batch=full_batch, model_trained=record["model_training_heldout_risk"],
                bc_train=record["model_training_risk"], bc_theory=record["theory_encoder_brightness_contrast_risk"],
                theory_encoder=record["theory_encoder_risk"], seconds=time.perf_counter() - t0)


def _pct(value, reference):
    return f"{100 * (value / reference - 1):+6.1f}%"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="patches:8", help="a data set with n_train >= 32 d (default patches:8)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (default: 0 1 2)")
    parser.add_argument("--rates", type=float, nargs="+", default=[0.5, 1.0], help="rates (default: 0.5 1)")
    parser.add_argument("--json", default=RESULTS, help=f"results file (default: {RESULTS})")
    args = parser.parse_args(argv)
    print("held-out risks; the others against the trained encoder's")
    print(f"{'seed':>4} {'r':>5} {'trained':>8} {'full-batch':>10} {'model-trained':>13} {'bc-train':>8} {'bc-d':>8}")
    rows = []
    for seed in args.seeds:
        for rate in args.rates:
            row = cell(args.data, seed, rate)
            rows.append(row)
            held = row["trained"]
            print(f"{seed:>4} {rate:>5} {held:8.4f} {_pct(row['full_batch'], held):>10} "
                  f"{_pct(row['model_trained'], held):>13} {_pct(row['bc_train'], held):>8} "
                  f"{_pct(row['bc_theory'], held):>8}", flush=True)
    with open(args.json, "w") as fh:
        json.dump({"rows": rows, "command": "python benchmarks/model_training.py"}, fh, indent=1)


if __name__ == "__main__":
    main()
