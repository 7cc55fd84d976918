"""Sample training started at the theory encoder (``init="theory"``), and early stopping, on the suite's cells.

    python benchmarks/warm_start.py                   # digits, patches:8, patches:16; raw and item mean removed
    python benchmarks/warm_start.py --data patches:8 --rates 1 --remove-item-mean no --json /tmp/out.json
    python benchmarks/warm_start.py --markdown        # the stored results as a table

The suite's trained encoder (2000 Adam steps on the smoothed sign code from a random start) is
not the best sign code on these data: a data model's best code beats it by 2-11 % on held-out
items (``benchmarks/model_optimal_codes.py``). Does a start at the Gaussian optimum help? Per cell
(seed 0, the suite's split and training options otherwise), each encoder scored like the suite's
(least-squares decoder on the training rows; ``heldout`` and ``train`` risks):

* ``random``: ``train(d, n, data=X_train, method="samples")``, the suite's encoder (init gaussian);
* ``theory``: the same with ``init="theory"``: B(0) = the theory encoder for the training
  covariance (2000 Adam steps on the exact Gaussian risk), A(0) its Gaussian optimal decoder;
* ``theory_lr3``: the same at a third of the default learning rate (a start near an optimum may
  want smaller steps; one other rate, not a tuning);
* ``random_val`` and ``theory_val``: ``random`` and ``theory`` with early stopping
  (``validation=0.1``: a tenth of the training rows held out, the encoder of the best validation
  risk kept, checked every 100 steps); ``*_step`` in the results: the steps at the kept encoder;
* ``start``: the theory encoder itself, untrained on the data (the suite's ``theory-enc``);
* ``model_code``: the held-out risk of the best code for the cell's data model, read from
  ``results-model-optimal-codes.json`` (``bc`` on raw patches, ``bins`` on item-mean-removed patches,
  ``gmm`` on the digits; None where that benchmark has no such cell).

Every number except ``model_code`` is measured in this run; nothing is asserted. Results:
``results-warm-start.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings

from suite_grid import add_grid_arguments, cells, save

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results-warm-start.json")
MODEL_CODES = os.path.join(HERE, "results-model-optimal-codes.json")
VARIANTS = ("random", "theory", "theory_lr3", "random_val", "theory_val", "start")


def _model_code(data, remove_item_mean, rate):
    """(model name, held-out risk of its best code) from results-model-optimal-codes.json, or (None, None)."""
    model = "gmm" if data == "digits" else "bins" if remove_item_mean else "bc"
    try:
        with open(MODEL_CODES) as fh:
            rows = json.load(fh)["rows"]
    except FileNotFoundError:
        return model, None
    for row in rows:
        if (row["data"], bool(row.get("remove_item_mean")), row["rate"]) == (data, remove_item_mean, rate):
            opt = row.get(f"{model}-opt")
            return model, None if opt is None else opt["heldout"]
    return model, None


def cell(data, rate, *, remove_item_mean=False, seed=0, steps=2000):
    """Measure one cell (module docstring); returns a JSON-ready dict."""
    import numpy as np

    from twolayer.activations import get_activation
    from twolayer.config import code_size
    from twolayer.data import prepare
    from twolayer.simulations import train
    from twolayer.simulations.optim import DEFAULT_LR
    from twolayer.universality import _scored

    t0 = time.perf_counter()
    _, split = prepare(data, seed=seed, remove_item_mean=remove_item_mean)
    Xtr, Xte = split.train, split.test
    N, d = Xtr.shape
    n = code_size(rate, d)
    options = dict(data=Xtr, method="samples", steps=steps, seed=seed, parametrization="untied")
    lr3 = DEFAULT_LR[("samples", "adam")] / 3 / np.sqrt(d)
    runs = {"random": train(d, n, **options), "theory": train(d, n, init="theory", **options),
            "theory_lr3": train(d, n, init="theory", lr=lr3, **options),
            "random_val": train(d, n, validation=0.1, **options),
            "theory_val": train(d, n, init="theory", validation=0.1, **options)}
    encoders = {name: run.B for name, run in runs.items()}
    encoders["start"] = runs["theory"].B0
    sign = get_activation("sign")
    out = {"data": data, "remove_item_mean": remove_item_mean, "rate": rate, "d": d, "n": n, "n_train": N}
    for name, B in encoders.items():
        scored = _scored(Xtr, Xte, B, sign)
        out[name] = {"heldout": scored["test"], "train": scored["train"], "stderr": scored["stderr"]}
        if name in runs and runs[name].metrics.get("validation_step") is not None:
            out[name]["step"] = runs[name].metrics["validation_step"]
    out["model"], out["model_code"] = _model_code(data, remove_item_mean, rate)
    out["seconds"] = time.perf_counter() - t0
    return out


def markdown(rows) -> str:
    """The stored rows as a Markdown table (held-out risks; the ratio of each to the random start's)."""
    lines = ["| data | item mean | r | n | random | theory | theory, lr / 3 | random, early stop | theory, early stop "
             "| start (theory enc.) | model's code |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        base = r["random"]["heldout"]
        cells = [f"{r[v]['heldout']:.4f}" + ("" if v == "random" else f" ({r[v]['heldout'] / base - 1:+.1%})")
                 + (f" @{r[v]['step']}" if "step" in r[v] else "") for v in VARIANTS]
        code = "–" if r["model_code"] is None else f"{r['model_code']:.4f} ({r['model']})"
        lines.append(f"| {r['data']} | {'removed' if r['remove_item_mean'] else 'raw'} | {r['rate']:g} | {r['n']} | "
                     + " | ".join(cells) + f" | {code} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_grid_arguments(parser, data=["digits", "patches:8", "patches:16"])
    parser.add_argument("--json", default=RESULTS)
    parser.add_argument("--markdown", action="store_true", help="print the stored results as a table and stop")
    args = parser.parse_args(argv)
    if args.markdown:
        with open(args.json) as fh:
            print(markdown(json.load(fh)["rows"]))
        return
    warnings.filterwarnings("ignore", category=UserWarning)
    rows = []
    for data, mean, rate in cells(args):
        r = cell(data, rate, remove_item_mean=mean)
        rows.append(r)
        print(markdown([r]).splitlines()[-1], f"{r['seconds']:.0f} s", flush=True)
        save(args.json, rows, "python benchmarks/warm_start.py")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
