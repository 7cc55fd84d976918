"""Orbit encoders against the converged exact optimum, as the orbit count grows.

    python benchmarks/orbits.py                      # orbits 1 2 4 8, all 20 cells (~10 min on 2 cores)
    python benchmarks/orbits.py --orbits 8 --cells powerlaw:2 --rates 1

For each spectrum and rate of `benchmarks/spiked.py` (n = round(r d)), the exact risk of the best
orbit encoder found by :func:`twolayer.theory.orbits.orbit_structure` (4 starts, seed 0) for each
requested orbit count, against the lower of the stored reference optima (results-spiked.json,
results-spiked-multistart.json). The orbit value is the exact risk of an explicit encoder, so a
negative error means that encoder beats the stored reference. Writes results-orbits.json;
nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from spiked import RATES, SPECTRA, load  # noqa: E402
from spiked_head import references  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", nargs="*", default=list(SPECTRA), choices=list(SPECTRA))
    parser.add_argument("--rates", nargs="*", type=float, default=list(RATES))
    parser.add_argument("--orbits", nargs="*", type=int, default=[1, 2, 4, 8])
    parser.add_argument("--out", default=os.path.join(HERE, "results-orbits.json"))
    args = parser.parse_args(argv)
    from twolayer.config import code_size
    from twolayer.theory.orbits import orbit_structure

    refs = references()
    rows = []
    print(f"{'spectrum':<13}{'r':>5}{'n':>5}{'reference':>11}" + "".join(f"{f'P>={p}':>18}" for p in args.orbits))
    for spec in args.cells:
        sigma = load(spec)
        for r in args.rates:
            n = code_size(r, sigma.size)
            ref = refs[(spec, r)]
            line = f"{spec:<13}{r:>5}{n:>5}{ref:>11.5f}"
            for orbits in args.orbits:
                start = time.perf_counter()
                st = orbit_structure(n / sigma.size, sigma, orbits=orbits)
                seconds = time.perf_counter() - start
                rows.append({"spectrum": spec, "rate": r, "n": n, "orbits": orbits, "P": st["P"], "k": st["k"],
                             "risk": st["risk"], "start_risks": st["start_risks"], "reference": ref,
                             "relative_error": st["risk"] / ref - 1, "seconds": seconds})
                line += f"{st['risk'] / ref - 1:>+9.2%} ({st['P']:>3},{seconds:>3.0f}s)"
            print(line, flush=True)
            with open(args.out, "w") as fh:
                json.dump({"description": "orbit encoders against the stored reference optima (benchmarks/orbits.py)",
                           "rows": rows}, fh, indent=1)
    for orbits in args.orbits:
        errs = [row["relative_error"] for row in rows if row["orbits"] == orbits]
        print(f"orbits >= {orbits}: worst {max(errs):+.2%}, best {min(errs):+.2%}, "
              f"{sum(abs(e) <= 0.01 for e in errs)} of {len(errs)} within 1 %")


if __name__ == "__main__":
    main()
