"""Learning curves: speed of the predicted curves and the acceptance table of the linear autoencoder.

    python benchmarks/dynamics.py [--json OUT.json] [--repeats 7] [--skip-gd]

1. Speed: a predicted curve of 10,000 points -- the proportional limit (flow and discrete map,
   201 quadrature nodes) and the finite-d curve of a d = 1024 start -- median of ``--repeats``
   calls, beside a reference measured in the same run (one 1024 x 1024 matrix product).
2. Agreement (issue 12, item 1): population gradient descent in twolayer (d = 800, r = 1/4,
   eps = 0.1) against the discrete map (largest gap over 1000 steps), the flow from the run's own
   start (at three step sizes) and the Marchenko-Pastur limit at t = 1, 2, 3; plain and denoising
   (s^2 = 0.25); and the independent start against the eps / sqrt(2) approximation.
3. ``--sign``: the sign autoencoder's spectral flow (issue 12, item 2) against ``train``'s default
   population GD (optimal decoder, sgd) at d = 128 ... 1024, r in {0.25, 0.5, 1, 1.5, 2}, lr 0.3
   (the default) and 0.03: the largest relative gap of R(t) over the run, for the discrete map
   from the run's own start, the map from Marchenko-Pastur (the limit) and the flow; and the
   isotropic prediction against a power-law (k^-1) source, where it is not derived.

Every number is measured on this machine in this run; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def _median_seconds(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def speed(repeats):
    from twolayer.simulations.model import init_params
    from twolayer.theory.linear_dynamics import linear_curve, marchenko_pastur_curve
    from twolayer.theory.sign_dynamics import limit_curve

    times = np.linspace(0.0, 10.0, 10_000)
    sign_times = 2 * 5e-4 * np.arange(10_000)  # one point per step at lr 5e-4 (t up to 10)
    B0 = init_params(1024, 512, parametrization="untied", init="gaussian", seed=0, init_scale=0.1)["B"]
    M = np.random.default_rng(0).standard_normal((1024, 1024))
    rows = {
        "limit, flow": _median_seconds(lambda: marchenko_pastur_curve(times, 0.5, 0.1), repeats),
        "limit, discrete map (eta = 1e-3)": _median_seconds(
            lambda: marchenko_pastur_curve(times, 0.5, 0.1, eta=1e-3), repeats),
        "finite d = 1024, flow": _median_seconds(lambda: linear_curve(B0, times), repeats),
        "sign, limit, spectral map (10,000 steps)": _median_seconds(lambda: limit_curve(sign_times, 0.5, 5e-4), repeats),
        "sign, limit, spectral flow": _median_seconds(
            lambda: limit_curve(times, 0.5, 5e-4, discrete=False), repeats),
        "reference: 1024 x 1024 matrix product": _median_seconds(lambda: M @ M, repeats),
    }
    print("1. Speed of a 10,000-point predicted curve (median seconds)")
    for name, sec in rows.items():
        print(f"   {name:<40} {sec * 1e3:9.2f} ms")
    return rows


def _tied(d, n, lr, steps, every, *, start="tied", eps=0.1, noise=0.0):
    from twolayer.simulations import train

    return train(d, n, activation="linear", method="population", parametrization="untied", start=start,
                 init_scale=eps, optimizer="sgd", lr=lr, schedule="constant", steps=steps, dtype="float64",
                 noise=noise, record_every=every)


def agreement():
    from twolayer.config import RunConfig
    from twolayer.learning_curves import effective_start
    from twolayer.theory.linear_dynamics import linear_curve, marchenko_pastur_curve, time_of_steps

    out = {}
    print("2. Population GD (d = 800, r = 1/4, eps = 0.1) against the predictions")
    for noise in (0.0, 0.25):
        res = _tied(800, 200, 0.0025, 1001, 1, noise=noise)
        t = time_of_steps(res.history["step"], 0.0025)
        risk = np.asarray(res.history["risk"])
        gap_map = float(np.max(np.abs(risk - linear_curve(res.B0, t, eta=0.005, noise=noise))))
        flow = {}
        for lr in (0.005, 0.0025, 0.00125):
            steps = int(round(3.0 / (2 * lr))) + 1
            r = _tied(800, 200, lr, steps, int(round(0.5 / (2 * lr))), noise=noise)
            tt = time_of_steps(r.history["step"], lr)
            flow[lr] = float(np.max(np.abs(np.asarray(r.history["risk"]) - linear_curve(r.B0, tt, noise=noise))))
        r = _tied(800, 200, 0.00125, 1201, 400, noise=noise)
        limit = marchenko_pastur_curve([1.0, 2.0, 3.0], 0.25, 0.1, noise=noise)
        gaps = np.asarray(r.history["risk"])[1:] - limit
        print(f"   s^2 = {noise}: map over 1000 steps {gap_map:.1e}; flow (t <= 3) at lr 0.005 / 0.0025 / 0.00125: "
              + " / ".join(f"{v:.2e}" for v in flow.values())
              + "; MP limit at t = 1, 2, 3 (lr 0.00125): " + " ".join(f"{g:+.1e}" for g in gaps))
        out[f"noise={noise}"] = {"gap_map": gap_map, "gap_flow": flow, "gap_limit_t123": gaps.tolist()}
    print("   independent start, eps / sqrt(2) approximation (d = 800, lr 0.0025, t <= 12):")
    for eps in (0.01, 0.1, 0.5):
        r = _tied(800, 200, 0.0025, 2401, 100, start="independent", eps=eps)
        t = time_of_steps(r.history["step"], 0.0025)
        risk = np.asarray(r.history["risk"])
        cfg = RunConfig(d=800, rate=0.25, activation="linear", parametrization="untied", start="independent",
                        init_scale=eps)
        start, eps_eff, _ = effective_start(cfg, 800, 200)
        g_lim = float(np.max(np.abs(risk - marchenko_pastur_curve(t, 0.25, eps_eff))))
        g_flow = float(np.max(np.abs(risk - linear_curve(start, t))))
        g_tied = float(np.max(np.abs(risk - marchenko_pastur_curve(t, 0.25, eps))))
        print(f"   eps = {eps}: largest gap to the limit at eps/sqrt2 {g_lim:.2e}, to the flow from B_eff {g_flow:.2e}, "
              f"to the tied curve at eps {g_tied:.2e}")
        out[f"independent eps={eps}"] = {"gap_limit": g_lim, "gap_flow": g_flow, "gap_tied_at_eps": g_tied}
    return out


def sign_table(ds, rates, lrs, save=None):
    from twolayer.simulations import train
    from twolayer.theory.linear_dynamics import time_of_steps
    from twolayer.theory.sign_dynamics import encoder_spectrum, limit_curve, sign_curve

    rows = []
    print("3. Sign autoencoder, population GD with the optimal decoder: largest relative gap of R(t) over the run")
    print(f"   {'lr':>5} {'r':>5} {'d':>5}  {'map, own start':>14} {'map, MP limit':>14} {'flow, own':>10}  steps  R(0)     R(end)")
    for lr in lrs:
        steps, every = (40, 1) if lr >= 0.1 else (400, 4)
        for r in rates:
            for d in ds:
                n = int(round(r * d))
                res = train(d, n, lr=lr, steps=steps + 1, record_every=every, dtype="float64")
                t = time_of_steps(res.history["step"], lr)
                risk = np.asarray(res.history["risk"])
                q0, w, rho0 = encoder_spectrum(res.B0)
                own = sign_curve(q0, w, n / d, t, lr, rho0)
                limit = limit_curve(t, n / d, lr)
                flow = sign_curve(q0, w, n / d, t, lr, rho0, discrete=False)
                gaps = [float(np.max(np.abs(c - risk) / risk)) for c in (own, limit, flow)]
                print(f"   {lr:5g} {r:5g} {d:5d}  {gaps[0]:14.3%} {gaps[1]:14.3%} {gaps[2]:10.3%}  {steps:5d}  "
                      f"{risk[0]:.4f}  {risk[-1]:.4f}")
                rows.append({"lr": lr, "rate": r, "d": d, "gap_map_own": gaps[0], "gap_map_limit": gaps[1],
                             "gap_flow_own": gaps[2], "risk_start": float(risk[0]), "risk_end": float(risk[-1])})
                if save:  # after every row: a stopped run keeps what it measured
                    save({"sign": rows})
    for d in ds[-1:]:
        for r in (0.25, 1.0):
            n = int(round(r * d))
            from twolayer.spectra import eigenvalues

            lam = eigenvalues("powerlaw:1", d)
            res = train(d, n, spectrum=lam, lr=0.3, steps=41, record_every=1, dtype="float64")
            t = time_of_steps(res.history["step"], 0.3)
            risk = np.asarray(res.history["risk"])
            q0, w, rho0 = encoder_spectrum(res.B0)
            gap = float(np.max(np.abs(sign_curve(q0, w, n / d, t, 0.3, rho0) - risk) / risk))
            print(f"   power law k^-1, r = {r}, d = {d}: isotropic prediction off by up to {gap:.1%} "
                  f"(R(0) {risk[0]:.4f}, R(end) {risk[-1]:.4f}): not derived for anisotropic sources")
            rows.append({"spectrum": "powerlaw:1", "rate": r, "d": d, "gap_map_own": gap})
            if save:
                save({"sign": rows})
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=None, help="write the measurements to this file")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--skip-gd", action="store_true", help="speed only")
    parser.add_argument("--sign", action="store_true", help="section 3 only: the sign spectral flow table")
    parser.add_argument("--ds", type=int, nargs="+", default=[128, 256, 512, 1024])
    parser.add_argument("--lrs", type=float, nargs="+", default=[0.3, 0.03], help="learning rates of section 3")
    args = parser.parse_args()

    def save(result):
        if args.json:
            with open(args.json, "w") as f:
                json.dump(result, f, indent=2)

    if args.sign:
        result = {"sign": sign_table(args.ds, [0.25, 0.5, 1.0, 1.5, 2.0], args.lrs, save)}
    else:
        result = {"speed_seconds": speed(args.repeats)}
        if not args.skip_gd:
            result["agreement"] = agreement()
    save(result)


if __name__ == "__main__":
    main()
