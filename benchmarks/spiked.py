"""Spiked spectra: the new prediction of the sign Gaussian optimum against the converged exact optimum.

    python benchmarks/spiked.py                 # predictions + reference optima (long: ~1-2 h on 2 cores)
    python benchmarks/spiked.py --reuse         # predictions only; reference optima read from the json
                                                # (the lower of results-spiked.json and, where present,
                                                # results-spiked-multistart.json: spiked_multistart.py)
    python benchmarks/spiked.py --cells patches:8 --rates 0.25 --json /tmp/out.json

For each spectrum and rate r (n = round(r d) neurons, the predictions evaluated at n/d):

* ``old``: :func:`twolayer.theory.min_risk` (linearised-arcsin allocation);
* ``new``: :func:`twolayer.theory.spiked.spiked_min_risk` (exact arcsin kernel on the spike);
* ``orbit``: :func:`twolayer.theory.orbits.orbit_min_risk` (the exact risk of the best sign-flip
  orbit encoder found, default 8 orbits and 4 starts: an achievable upper bound on the optimum);
* ``reference``: the converged minimum of the *exact* population risk
  :func:`twolayer.theory.population_risk` (optimal decoder, covariance diag(spectrum) -- the
  risk is rotation invariant), found by L-BFGS-B (scipy) on the differentiable exact risk
  :func:`twolayer.theory.risk.optimal_decoder_risk_jax` in float64, from two starts: the
  linearised-allocation minimizer construction :func:`twolayer.theory.minimizer` (seed 0) and
  (at d = 64) a Gaussian random encoder N(0, 1/d) (seed 1). The reference is the lower of the final
  risks, re-evaluated with the NumPy float64 ``population_risk``. Convergence is reported as
  the relative risk change over the last 20 % of the iterations, per start.

Spectra: the embedded photograph patches ``patches:8`` (d = 64) and ``patches:16`` (d = 256),
raw (item mean not removed; :func:`twolayer.data.prepare` defaults: centred with the training
mean, scaled to trace d), and the power laws ``powerlaw:1``, ``1.5``, ``2`` at d = 128.

Every number is measured on this machine in this run (or, with ``--reuse``, the reference
optima of an earlier run, as stored in the json); nothing is asserted. The stored json's
references were computed cell by cell with this module's :func:`reference` under a heavily
loaded machine, with the iteration budget recorded per cell (``maxiter``: 2000 at d = 64,
1500 at d = 128, 800 at d = 256 and 400 for patches:16 at r = 1; patches:8 at r = 0.5 from an
exploratory 10,000-iteration random-start run of the same minimiser), then the table printed
with ``--reuse``.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_JSON = os.path.join(HERE, "results-spiked.json")
MULTISTART_JSON = os.path.join(HERE, "results-spiked-multistart.json")
SPECTRA = {"patches:8": None, "patches:16": None, "powerlaw:1": 128, "powerlaw:1.5": 128, "powerlaw:2": 128}
RATES = (0.1, 0.25, 0.5, 1.0)


def load(spec: str) -> np.ndarray:
    """Eigenvalues (descending, float64) of a spectrum of the table."""
    if spec.startswith("patches"):
        from twolayer.data import prepare

        _, split = prepare(spec, seed=0)  # raw: remove_item_mean=False, no whitening
        return np.sort(split.spectrum)[::-1].copy()
    from twolayer.spectra import load_spectrum

    return load_spectrum(spec, SPECTRA[spec])[1]


def stored_rows(path: str) -> dict:
    """Rows of a results json keyed by (spectrum, rate); {} when the file does not exist."""
    if not os.path.isfile(path):
        return {}
    with open(path) as fh:
        return {(r["spectrum"], r["rate"]): r for r in json.load(fh).get("rows", [])}


def _lbfgs(sigma: np.ndarray, B0: np.ndarray, maxiter: int) -> dict:
    import jax
    import jax.numpy as jnp
    import scipy.optimize

    from twolayer.theory import population_risk
    from twolayer.theory.risk import optimal_decoder_risk_jax

    n, d = B0.shape
    cov = jnp.asarray(np.diag(sigma))
    fg = jax.jit(jax.value_and_grad(lambda b: optimal_decoder_risk_jax(b.reshape(n, d), cov=cov, jitter=1e-12)))

    def fun(x):
        value, grad = fg(jnp.asarray(x))
        return float(value), np.asarray(grad, dtype=np.float64)

    history = []
    start = time.perf_counter()
    res = scipy.optimize.minimize(
        fun, B0.ravel(), jac=True, method="L-BFGS-B", callback=lambda xk: history.append(fun(xk)[0]),
        options={"maxiter": maxiter, "maxfun": 3 * maxiter, "ftol": 1e-16, "gtol": 1e-13, "maxcor": 30},
    )
    B = res.x.reshape(n, d)
    final = population_risk(B, cov=np.diag(sigma))
    h = np.asarray(history) if history else np.asarray([final])
    at80 = float(h[int(0.8 * (h.size - 1))])
    return {
        "risk": final, "iterations": int(res.nit), "evaluations": int(res.nfev),
        "risk_at_80pct": at80, "relative_change_last_20pct": (at80 - final) / final,
        "seconds": time.perf_counter() - start, "message": str(res.message),
    }


def reference(sigma: np.ndarray, n: int, maxiter: int, starts=("construction", "random")) -> dict:
    """Converged exact-risk optimum: L-BFGS-B from the construction start and/or a random start."""
    import jax

    jax.config.update("jax_enable_x64", True)  # this script only: the reference runs in float64
    from twolayer.theory import minimizer

    d = sigma.size
    runs = {}
    if "construction" in starts:
        _, B_constr = minimizer(d, n, cov=np.diag(sigma), seed=0)
        runs["construction"] = _lbfgs(sigma, B_constr, maxiter)
    if "random" in starts:
        B_rand = np.random.default_rng(1).standard_normal((n, d)) / np.sqrt(d)
        runs["random"] = _lbfgs(sigma, B_rand, maxiter)
    best = min(runs, key=lambda k: runs[k]["risk"])
    return {"risk": runs[best]["risk"], "best_start": best, "maxiter": maxiter, "runs": runs}


def predictions(sigma: np.ndarray, n: int) -> dict:
    from twolayer.theory import min_risk
    from twolayer.theory.orbits import orbit_structure
    from twolayer.theory.spiked import spiked_min_risk, spiked_structure

    rate = n / sigma.size
    start = time.perf_counter()
    new = spiked_min_risk(rate, sigma)
    seconds = time.perf_counter() - start
    st = spiked_structure(rate, sigma)
    start = time.perf_counter()
    orbit = orbit_structure(rate, sigma)
    orbit_seconds = time.perf_counter() - start
    return {"old": float(min_risk(rate, spectrum=sigma)), "new": float(new), "new_seconds": seconds,
            "orbit": orbit["risk"], "orbit_seconds": orbit_seconds, "orbit_P": orbit["P"], "orbit_k": orbit["k"],
            "orbit_start_risks": orbit["start_risks"],
            "structure": {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in st.items()
                          if k in ("spikes", "rho", "bulk_constant", "bulk_rank", "bulk_active")}}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", nargs="*", default=list(SPECTRA), help="spectra (default: all five)")
    parser.add_argument("--rates", nargs="*", type=float, default=list(RATES))
    parser.add_argument("--reuse", action="store_true", help="read the reference optima from --json")
    parser.add_argument("--maxiter", type=int, default=None,
                        help="L-BFGS iterations (default 2000 at d=64, 1500 at d=128, 800 at d=256)")
    parser.add_argument("--json", default=DEFAULT_JSON)
    args = parser.parse_args(argv)
    from twolayer.config import code_size

    old = stored_rows(args.json)
    multistart = stored_rows(MULTISTART_JSON) if args.reuse else {}
    rows = []
    print(f"{'spectrum':<13}{'r':>5}{'d':>5}{'n':>5}{'sigma1/tr':>10}{'old':>10}{'new':>10}{'reference':>11}"
          f"{'orbit':>10}{'old err':>9}{'new err':>9}{'orbit err':>10}{'orbit s':>8}{'conv(last 20%)':>16}")
    for spec in args.cells:
        sigma = load(spec)
        d = sigma.size
        for r in args.rates:
            n = code_size(r, d)
            row = {"spectrum": spec, "rate": r, "d": d, "n": n, "share_top": float(sigma[0] / sigma.sum())}
            row.update(predictions(sigma, n))
            if args.reuse:
                if (spec, r) not in old:
                    raise SystemExit(f"--reuse: no reference for {spec} r={r} in {args.json}")
                row["reference"] = dict(old[(spec, r)]["reference"])
                ms = multistart.get((spec, r))
                if ms is not None and ms["risk"] < row["reference"]["risk"]:
                    row["reference"] = {"risk": ms["risk"], "best_start": f"multistart {ms['best_start']}",
                                        "runs": {"multistart": {"risk": ms["risk"], "relative_change_last_20pct":
                                                                ms["relative_change_last_20pct"]}},
                                        "single_start": old[(spec, r)]["reference"]}
            else:
                maxiter = args.maxiter or {64: 2000, 128: 1500}.get(d, 800)
                starts = ("construction", "random") if d <= 64 else ("construction",)
                row["reference"] = reference(sigma, n, maxiter, starts)
            ref = row["reference"]["risk"]
            row["old_relative_error"] = row["old"] / ref - 1
            row["new_relative_error"] = row["new"] / ref - 1
            row["orbit_relative_error"] = row["orbit"] / ref - 1
            conv = max(abs(v["relative_change_last_20pct"]) for v in row["reference"]["runs"].values()
                       if v["risk"] <= ref * (1 + 1e-3))
            row["reference_convergence"] = conv
            rows.append(row)
            print(f"{spec:<13}{r:>5}{d:>5}{n:>5}{row['share_top']:>10.3f}{row['old']:>10.5f}{row['new']:>10.5f}"
                  f"{ref:>11.5f}{row['orbit']:>10.5f}{row['old_relative_error']:>+9.2%}{row['new_relative_error']:>+9.2%}"
                  f"{row['orbit_relative_error']:>+10.2%}{row['orbit_seconds']:>8.1f}{conv:>16.1e}",
                  flush=True)
            if not args.reuse:  # keep partial progress of the long run
                _write(args.json, rows, old)
    _write(args.json, rows, old)
    for name in ("new", "orbit"):
        worst = max(abs(r[f"{name}_relative_error"]) for r in rows)
        within = sum(abs(r[f"{name}_relative_error"]) <= 0.01 for r in rows)
        print(f"{name}: worst |{name} - reference| / reference {worst:.2%}; {within} of {len(rows)} cells within 1 %")


def _write(path, rows, old):
    done = {(r["spectrum"], r["rate"]) for r in rows}
    merged = rows + [r for k, r in old.items() if k not in done]
    with open(path, "w") as fh:
        json.dump({"description": "spiked spectra: old / new prediction vs converged exact-risk optimum "
                   "(benchmarks/spiked.py)", "rows": merged}, fh, indent=1)


if __name__ == "__main__":
    main()
