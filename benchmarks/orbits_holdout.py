"""Orbit encoders on spectra and sizes that were not used to choose their defaults (held-out cells).

    python benchmarks/orbits_holdout.py --references --out /tmp/holdout-refs.json   # GPU: a few minutes
    python benchmarks/orbits_holdout.py --compare /tmp/holdout-refs.json            # CPU: orbit values, table
    python benchmarks/orbits_holdout.py --polish orbit.npz powerlaw:2@1024 1 --out p.json  # GPU: from the orbit

The default ``orbits=8`` of :mod:`twolayer.theory.orbits` was chosen on the 20 cells of
`benchmarks/spiked.py`. This script checks it elsewhere, on cells fixed before any of them was
measured: power laws at larger d (k^-2 at d = 512) and steeper exponents (k^-2.5, k^-3 at
d = 128), k^-1.5 at d = 256 and a two-spike spectrum (64, 16, 1, ..., 1) at d = 64.

``--references`` minimises the exact risk over all encoders from many starts at once
(:func:`spiked_multistart.cell`: batched L-BFGS, float64, any JAX backend) and writes the best
risk per cell; ``--compare`` computes :func:`twolayer.theory.orbits.orbit_min_risk` (defaults) for
the same cells and prints both (results-orbits-holdout.json). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

#: (name, rate, starts, seconds of the reference run)
CELLS = [
    ("powerlaw:2@512", 0.25, 16, 40.0),
    ("powerlaw:2@512", 1.0, 8, 90.0),
    ("powerlaw:2.5@128", 0.5, 16, 25.0),
    ("powerlaw:3@128", 0.25, 16, 25.0),
    ("powerlaw:3@128", 1.0, 16, 30.0),
    ("powerlaw:1.5@256", 0.5, 16, 30.0),
    ("spikes:64,16@64", 0.5, 16, 20.0),
]


def spectrum(name: str) -> np.ndarray:
    """Eigenvalues (descending) of a held-out cell: ``powerlaw:ALPHA@D`` or ``spikes:S1,S2,...@D`` (rest 1)."""
    kind, d = name.rsplit("@", 1)
    d = int(d)
    if kind.startswith("spikes:"):
        top = [float(s) for s in kind.split(":", 1)[1].split(",")]
        return np.array(top + [1.0] * (d - len(top)))
    from twolayer.spectra import load_spectrum

    return load_spectrum(kind, d)[1]


def references(out: str, chunk: int) -> None:
    import jax

    jax.config.update("jax_enable_x64", True)  # this script only
    from spiked_multistart import cell

    from twolayer.config import code_size

    rows = []
    print(f"backend {jax.default_backend()}", flush=True)
    for name, rate, starts, seconds in CELLS:
        sigma = spectrum(name)
        n = code_size(rate, sigma.size)
        res = cell(sigma, n, starts, seconds, chunk, 20000)
        res.pop("encoder_whitened")
        rows.append({"spectrum": name, "rate": rate, "d": sigma.size, "n": n, **res})
        print(f"{name:<18}{rate:>5}{n:>5} {res['risk']:.6f} steps {res['steps']} spread {res['spread']:.4f} "
              f"conv {res['relative_change_last_20pct']:.1e} {res['seconds']:.0f}s", flush=True)
        with open(out, "w") as fh:
            json.dump({"backend": jax.default_backend(), "rows": rows}, fh, indent=1)


def polish(npz: str, name: str, rate: float, starts: int, seconds: float, out: str, chunk: int) -> None:
    """Minimise the exact risk over all encoders from the orbit encoder in ``npz`` and from other starts.

    A one-sided check where a converged reference is out of reach (n = d = 1024): the orbit encoder
    is at least (its risk - the best found) / best above the optimum.
    """
    import jax

    jax.config.update("jax_enable_x64", True)  # this script only
    from spiked_multistart import cell

    from twolayer.config import code_size
    from twolayer.theory import population_risk

    sigma = spectrum(name)
    n = code_size(rate, sigma.size)
    U = np.load(npz)["encoder"]
    orbit = population_risk(U / np.sqrt(sigma)[None, :], cov=np.diag(sigma))
    # the orbit encoder is a critical point of the full problem too (the gradient of a symmetric
    # function at a symmetric point is symmetric), so the polish also starts from a perturbed copy
    noisy = U + 0.01 * np.random.default_rng(0).standard_normal(U.shape) / np.sqrt(sigma.size)
    res = cell(sigma, n, starts, seconds, chunk, 20000, extra={"orbit": U, "orbit+noise": noisy})
    res.pop("encoder_whitened")
    row = {"spectrum": name, "rate": rate, "d": sigma.size, "n": n, "orbit": orbit, **res,
           "backend": jax.default_backend()}
    print(f"{name} r={rate} n={n}: orbit {orbit:.6f}; from the perturbed orbit start {res['starts']['orbit+noise']:.6f} "
          f"({res['starts']['orbit+noise'] / orbit - 1:+.2%}); best {res['risk']:.6f} ({res['best_start']}; orbit "
          f"{orbit / res['risk'] - 1:+.2%} above it); steps {res['steps']} in {res['seconds']:.0f} s; "
          f"conv {res['relative_change_last_20pct']:.1e}; starts {res['starts']}", flush=True)
    with open(out, "w") as fh:
        json.dump(row, fh, indent=1)


def compare(path: str, out: str) -> None:
    from twolayer.theory import min_risk
    from twolayer.theory.orbits import orbit_structure
    from twolayer.theory.spiked import spiked_min_risk

    with open(path) as fh:
        refs = json.load(fh)
    rows = []
    print(f"{'spectrum':<18}{'r':>5}{'n':>5}{'reference':>11}{'orbit':>10}{'(P,k)':>8}{'orbit err':>10}"
          f"{'one-spike err':>14}{'linearised err':>15}{'s':>5}")
    for ref in refs["rows"]:
        sigma = spectrum(ref["spectrum"])
        rate = ref["n"] / sigma.size
        start = time.perf_counter()
        st = orbit_structure(rate, sigma)
        seconds = time.perf_counter() - start
        row = {**{k: ref[k] for k in ("spectrum", "rate", "d", "n", "steps", "spread", "relative_change_last_20pct")},
               "reference": ref["risk"], "reference_backend": refs["backend"], "orbit": st["risk"],
               "orbit_P": st["P"], "orbit_k": st["k"], "orbit_seconds": seconds,
               "one_spike": spiked_min_risk(rate, sigma), "linearised": float(min_risk(rate, spectrum=sigma))}
        for key in ("orbit", "one_spike", "linearised"):
            row[f"{key}_relative_error"] = row[key] / row["reference"] - 1
        rows.append(row)
        print(f"{row['spectrum']:<18}{row['rate']:>5}{row['n']:>5}{row['reference']:>11.6f}{row['orbit']:>10.6f}"
              f"{str((st['P'], st['k'])):>8}{row['orbit_relative_error']:>+10.2%}{row['one_spike_relative_error']:>+14.2%}"
              f"{row['linearised_relative_error']:>+15.2%}{seconds:>5.0f}", flush=True)
    with open(out, "w") as fh:
        json.dump({"description": "orbit encoders on held-out spiked cells (benchmarks/orbits_holdout.py)",
                   "rows": rows}, fh, indent=1)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--references", action="store_true", help="compute the multi-start references")
    parser.add_argument("--compare", metavar="REFS_JSON", help="orbit values against these references")
    parser.add_argument("--out", default=None)
    parser.add_argument("--chunk", type=int, default=250)
    parser.add_argument("--polish", nargs=3, metavar=("NPZ", "SPECTRUM@D", "RATE"),
                        help="minimise the exact risk from the orbit encoder in NPZ and from other starts")
    parser.add_argument("--starts", type=int, default=4, help="starts of --polish, the orbit encoder included")
    parser.add_argument("--seconds", type=float, default=240.0, help="time budget of --polish")
    args = parser.parse_args(argv)
    if args.polish:
        npz, name, rate = args.polish
        polish(npz, name, float(rate), args.starts, args.seconds, args.out or "polish.json", args.chunk)
        return
    if args.references:
        references(args.out or "holdout-refs.json", args.chunk)
    if args.compare:
        compare(args.compare, args.out or os.path.join(HERE, "results-orbits-holdout.json"))
    if not (args.references or args.compare):
        parser.error("give --references and/or --compare REFS_JSON")


if __name__ == "__main__":
    main()
