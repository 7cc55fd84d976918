"""Bayes decoding of the 1-bit code: GLM-VAMP against its state evolution, the unrolled decoder, speed.

    python benchmarks/amp.py [--parts speed gaussian unrolled vamp] [--ds 1024 2048 4096]
                             [--items 262144] [--json benchmarks/results-amp.json]

(``--items``: coordinates per measurement, items = ITEMS / d, so that the error bar of the
measured risk is about the same at every d; ``--json`` updates the parts it ran in an existing file.)

1. GLM-VAMP (:func:`twolayer.simulations.amp.vamp_decode`) on the Gaussian-optimal encoder
   (Haar orthonormal rows for r <= 1; for r > 1 Haar orthonormal columns, a tight frame up to the
   row norms, which sign ignores) against the state evolution
   (:func:`twolayer.theory.amp.state_evolution`), pass by pass, for Bernoulli-Gaussian data,
   P in {0.1, 0.3}, r in {0.5, 1, 1.5}, growing d: the largest relative deviation over passes.
2. The Gaussian source at r > 1: the Bayes benchmark against the linear decoder's value.
3. The unrolled decoder amp:L at d = 512: start and trained, per layer, against the one-step
   denoiser and the state evolution.
4. Speed: ``bayes_risk`` for 100 rates.

Every number is measured on this machine in this run; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def _encoder(d, r, seed):
    from twolayer.theory import orthonormal_rows

    """Haar orthonormal rows (r <= 1) or columns (r > 1; a tight frame up to row norms, which sign ignores)."""
    n = int(round(r * d))
    rng = np.random.default_rng(seed)
    return orthonormal_rows(n, d, rng) if n <= d else np.linalg.qr(rng.standard_normal((n, d)))[0]


def vamp_against_state_evolution(ds, rates, ps, coordinates, passes=12):
    from twolayer.simulations.amp import vamp_decode
    from twolayer.theory.amp import encoder_spectrum, state_evolution
    from twolayer.theory.priors import Law
    from twolayer.theory.structured import sign_code

    rows = []
    for p in ps:
        law = Law("bernoulli-gaussian", p)
        for r in rates:
            se = state_evolution(law, r, passes=passes, tol=0.0).risk[1:]
            for d in ds:
                items = max(16, coordinates // d)
                B = _encoder(d, r, seed=d)
                own = state_evolution(law, r, spectrum=encoder_spectrum(B), passes=passes, tol=0.0).risk[1:]
                x = law.sample(np.random.default_rng([d, 1]), (items, d))
                start = time.perf_counter()
                est = vamp_decode(sign_code(x @ B.T), B, law, passes)
                seconds = time.perf_counter() - start
                per_item = np.array([np.mean((x - e) ** 2, axis=1) for e in est])  # passes x items
                emp = per_item.mean(axis=1)
                se_emp = per_item.std(axis=1, ddof=1) / np.sqrt(items)
                dev = emp / own - 1  # against the state evolution of this encoder's spectrum
                rows.append({"P": p, "rate": r, "d": d, "items": items, "seconds": seconds,
                             "empirical": emp.tolist(), "stderr": se_emp.tolist(), "state_evolution": se.tolist(),
                             "state_evolution_own_spectrum": own.tolist(),
                             "max_abs_deviation": float(np.max(np.abs(dev))), "deviation": dev.tolist()})
                print(f"P={p:<4} r={r:<4} d={d:<5} max |emp/SE - 1| = {np.max(np.abs(dev)):6.2%}  "
                      f"pass 1: {emp[0]:.4f} vs {own[0]:.4f}, pass {passes}: {emp[-1]:.4f} (+-{se_emp[-1]:.4f}) "
                      f"vs {own[-1]:.4f} (limit {se[-1]:.4f})  [{seconds:.1f} s]", flush=True)
    return rows


def gaussian_above_one(rates, d, items):
    from twolayer.simulations.amp import vamp_decode
    from twolayer.theory import min_risk
    from twolayer.theory.amp import bayes_risk
    from twolayer.theory.priors import Law
    from twolayer.theory.structured import sign_code

    law, rows = Law("gaussian"), []
    for r in rates:
        B = _encoder(d, r, seed=7)
        x = law.sample(np.random.default_rng([d, 2]), (items, d))
        emp = float(np.mean((x - vamp_decode(sign_code(x @ B.T), B, law, 20)[-1]) ** 2))
        lin, bayes = float(min_risk(r)), float(bayes_risk(law, r))
        rows.append({"rate": r, "linear": lin, "bayes": bayes, "gain": 1 - bayes / lin, "vamp_d": d, "vamp": emp})
        print(f"gaussian r={r:<4} linear {lin:.4f}  Bayes benchmark {bayes:.4f} ({1 - bayes / lin:.1%} lower)  "
              f"VAMP at d={d}: {emp:.4f}", flush=True)
    return rows


def unrolled(d, rates, ps, layers, steps, test_items):
    from twolayer.simulations.amp import initial_unrolled, train_unrolled
    from twolayer.theory import min_risk
    from twolayer.theory.amp import state_evolution
    from twolayer.theory.priors import Law, denoiser_risk
    from twolayer.theory.structured import sign_code

    rows = []
    for p in ps:
        law = Law("bernoulli-gaussian", p)
        for r in rates:
            B = _encoder(d, r, seed=11)
            x = law.sample(np.random.default_rng([d, 3]), (test_items, d))
            y = sign_code(x @ B.T)
            start = initial_unrolled(law, B, layers)
            t0 = time.perf_counter()
            trained, losses = train_unrolled(start, steps=steps, seed=[d, 4])
            seconds = time.perf_counter() - t0
            risk = lambda dec, x=x, y=y: [float(np.mean((x - e) ** 2)) for e in dec.decode(y, every_layer=True)]
            before, after = risk(start), risk(trained)
            se = state_evolution(law, r, passes=200).risk
            rows.append({"P": p, "rate": r, "d": d, "layers": layers, "steps": steps, "train_seconds": seconds,
                         "start": before, "trained": after, "state_evolution": se[1:layers + 1].tolist(),
                         "denoiser_prediction": denoiser_risk(law, float(min_risk(r))),
                         "bayes": float(se[-1])})
            print(f"amp:{layers} P={p} r={r} d={d}: start {before[-1]:.4f}, trained {after[-1]:.4f} "
                  f"(layer 1 = one-step denoiser: {before[0]:.4f}); SE pass {layers} {se[layers]:.4f}, "
                  f"Bayes {se[-1]:.4f}  [{seconds:.0f} s, {steps} steps]", flush=True)
    return rows


def speed():
    from twolayer.theory.amp import _mmse_table, bayes_risk
    from twolayer.theory.priors import Law

    law = Law("bernoulli-gaussian", 0.1)
    _mmse_table.cache_clear()
    t0 = time.perf_counter()
    bayes_risk(law, np.linspace(0.05, 2.0, 100))
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    bayes_risk(law, np.linspace(0.05, 2.0, 100))
    warm = time.perf_counter() - t0
    print(f"bayes_risk for 100 rates: {cold:.2f} s (with the mmse table), {warm:.2f} s after", flush=True)
    return {"bayes_risk_100_rates_cold": cold, "bayes_risk_100_rates_warm": warm}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", choices=["speed", "gaussian", "unrolled", "vamp"],
                        default=["speed", "gaussian", "unrolled", "vamp"])
    parser.add_argument("--ds", type=int, nargs="+", default=[1024, 2048, 4096])
    parser.add_argument("--items", type=int, default=262144, help="coordinates per measurement (items = this / d)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    out = {}
    if args.json and os.path.exists(args.json):
        with open(args.json) as fh:
            out = json.load(fh)
    if "speed" in args.parts:
        out["speed"] = speed()
    if "gaussian" in args.parts:
        out["gaussian_above_one"] = gaussian_above_one([1.5, 2.0, 3.0, 4.0], 1024, 200)
    if "unrolled" in args.parts:
        out["unrolled"] = unrolled(512, [0.5, 1.0], [0.1, 0.3], 4, 200, 2000)
    if "vamp" in args.parts:
        out["vamp"] = vamp_against_state_evolution(args.ds, [0.5, 1.0, 1.5], [0.1, 0.3], args.items)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
