"""Wall time of a small universality suite by worker count and BLAS threads per worker.

    python benchmarks/worker_threads.py                      # patches:16, item mean removed, r = 0.1 0.25
    python benchmarks/worker_threads.py --data patches:8 --rate 0.25 0.5 --json /tmp/out.json

Each sweep worker used to start its BLAS (OpenBLAS) with one thread per core. On a machine with
as many workers as cores the threads spin waiting for work on each other's cores, and the
suite's BLAS-heavy parts (EM fits of Gaussian mixtures, L-BFGS optima, data-model risks) slow
down several-fold. Since 0.3.0 each worker uses cores // workers BLAS threads
(:func:`twolayer.sweep.executors.worker_blas_threads`). This script runs the same cells into
fresh stores three ways, one after the other:

* ``workers, shared BLAS``: ``--workers K`` (the default now: cores // K BLAS threads each);
* ``workers, BLAS on every core``: ``--workers K`` with ``OPENBLAS_NUM_THREADS`` = the core
  count (a user setting, which the pool keeps: the behaviour before 0.3.0);
* ``one worker``: ``--workers 1``, in process, BLAS on every core.

It prints the wall time of each and its ratio to the first, and checks that the three give the
same trained held-out risks (the BLAS thread count may move the last digits of the EM- and
L-BFGS-based predictions, so only the training is compared). One run each: the numbers are
measurements of this machine at this moment, nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results-worker-threads.json")


def _suite(args, workers: int, env: dict, folder: str, name: str) -> tuple[float, list]:
    """(wall seconds, the cells' records) of one ``twolayer universality`` into a fresh store."""
    command = [sys.executable, "-m", "twolayer", "universality", "--data", *args.data,
               "--rate", *map(str, args.rate), "--remove-item-mean", args.remove_item_mean,
               "--workers", str(workers), "--out", os.path.join(folder, f"{name}.sqlite"), "--no-progress", "--json"]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    return seconds, [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", default=["patches:16"])
    parser.add_argument("--rate", nargs="+", type=float, default=[0.1, 0.25])
    parser.add_argument("--remove-item-mean", default="yes", choices=["no", "yes", "both"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", default=RESULTS, help="results file (default: %(default)s)")
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    base = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                                              "MKL_NUM_THREADS")}
    modes = [
        ("workers, shared BLAS", args.workers, base),
        ("workers, BLAS on every core", args.workers, {**base, "OPENBLAS_NUM_THREADS": str(cores)}),
        ("one worker", 1, base),
    ]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for i, (label, workers, env) in enumerate(modes):
            seconds, cells = _suite(args, workers, env, folder, f"mode{i}")
            rows.append({"mode": label, "workers": workers, "seconds": seconds,
                         "final_risk": [cell["final_risk"] for cell in cells]})
            print(f"{label:>28}: {seconds:7.1f} s  ({workers} worker{'s' if workers > 1 else ''})", flush=True)
    reference = rows[0]["seconds"]
    for row in rows:
        row["ratio_to_shared"] = row["seconds"] / reference
    same = all(row["final_risk"] == rows[0]["final_risk"] for row in rows)
    print("ratios to 'workers, shared BLAS': " + ", ".join(f"{r['mode']} {r['ratio_to_shared']:.2f}" for r in rows))
    print(f"trained held-out risks identical in the three: {same}")
    report = {"command": "python benchmarks/worker_threads.py " + " ".join(argv or sys.argv[1:]), "cores": cores,
              "data": args.data, "rate": args.rate, "remove_item_mean": args.remove_item_mean, "rows": rows,
              "trained_risks_identical": same}
    with open(args.json, "w") as fh:
        json.dump(report, fh, indent=1)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
