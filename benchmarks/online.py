"""Online-SGD ODEs vs simulation at d = 1000, n = 4 (twolayer.theory.online_dynamics).

Prints the lock-step agreement table (erf/linear x tied/untied x spiked/isotropic spectrum),
the time per ODE curve of 10,000 points, and the simulation speed; writes
benchmarks/results-online.json. Run: python benchmarks/online.py  (about 1-2 minutes on one core).
"""

from __future__ import annotations

import json
import pathlib
import time

import numpy as np

from twolayer.theory import online_dynamics as od

D, N = 1000, 4
SPIKES = [4.0, 2.0, 1.0, 0.5]
CONFIGS = {
    # spiked (Refinetti-Goldt regime): tr Sigma = O(1), spikes O(1), bulk O(1/d)
    "spiked": dict(blocks=od.spiked_blocks(D, SPIKES, 1.0), eta=0.25, t_max=60, record_every=500,
                   init_scale=1.0, spike_scale=0.2, n_spikes=4, metric="risk_rel"),
    # isotropic Sigma = I (Saad-Solla regime, eta^2 terms kept): R ~ 1 - O(n/d), so the metric
    # is the gap relative to the explained variance max(1 - R)
    "isotropic": dict(blocks=(np.array([1.0]), np.array([D])), eta=0.5, t_max=20, record_every=500,
                      init_scale=0.5, spike_scale=0.0, n_spikes=0, metric="explained_rel"),
}


def main():
    rows = []
    print(f"{'spectrum':10s} {'act':6s} {'tied':5s} {'risk_rel':>9s} {'risk_abs':>9s} {'expl_rel':>9s} "
          f"{'Q_rel':>7s} {'R_rel':>7s} {'T_rel':>7s} {'R_end sim':>10s} {'R_end ode':>10s} {'sim s':>6s} {'ode s':>6s}")
    for name, cfg in CONFIGS.items():
        sigma, dims = cfg["blocks"]
        for act in ("linear", "erf"):
            for tied in (False, True):
                out = od.lockstep(sigma, dims, N, act, tied, eta=cfg["eta"], t_max=cfg["t_max"],
                                  record_every=cfg["record_every"], init_scale=cfg["init_scale"], seed=0,
                                  spike_scale=cfg["spike_scale"], n_spikes=cfg["n_spikes"])
                a = out["agreement"]
                row = dict(spectrum=name, activation=act, tied=tied, eta=cfg["eta"], t_max=cfg["t_max"],
                           metric=cfg["metric"], passes_2pc=bool(a[cfg["metric"]] < 0.02),
                           risk_end_sim=float(out["sim"]["risk"][-1]), risk_end_ode=float(out["ode"]["risk"][-1]),
                           sim_seconds=out["sim_seconds"], ode_seconds=out["ode_seconds"], **a)
                rows.append(row)
                print(f"{name:10s} {act:6s} {tied!s:5s} {a['risk_rel']:9.4f} {a['risk_abs']:9.5f} "
                      f"{a['explained_rel']:9.4f} {a['Q_rel']:7.4f} {a['R_rel']:7.4f} {a['T_rel']:7.4f} "
                      f"{row['risk_end_sim']:10.5f} {row['risk_end_ode']:10.5f} {out['sim_seconds']:6.2f} "
                      f"{out['ode_seconds']:6.2f}", flush=True)
    # time per ODE curve of 10,000 points (spiked, erf untied, with and without the Ito terms)
    sigma, dims = CONFIGS["spiked"]["blocks"]
    W0, V0 = od.init_weights(N, D, 0.1, False, 3)
    t = np.linspace(0, 100, 10_000)
    timing = {}
    for so in (False, True):
        t0 = time.perf_counter()
        od.online_curve(od.order_params(W0, V0, sigma, dims), sigma, dims, "erf", False, 1.0, t, second_order=so,
                        factors0=od.block_factors(W0, V0, dims))
        timing[f"ode_curve_10000_points_seconds_second_order_{so}"] = time.perf_counter() - t0
    # simulation speed (JAX scan, float64, d = 1000, n = 4), compile excluded by a warm-up
    W0, V0 = od.init_weights(N, D, 1.0, False, 0)
    od.simulate_online(W0, V0, sigma, dims, "erf", 0.25, 1000, 500, 1)
    steps = 50_000
    t0 = time.perf_counter()
    od.simulate_online(W0, V0, sigma, dims, "erf", 0.25, steps, 500, 1)
    el = time.perf_counter() - t0
    timing["sim_steps_per_second_d1000_n4"] = steps / el
    print({k: round(v, 3) for k, v in timing.items()})
    res = {"d": D, "n": N, "spikes": SPIKES, "bulk": 1.0, "agreement": rows, "timing": timing,
           "conventions": "x_hat = sum_k v_k g(w_k.x), g = erf(./sqrt2) or linear; SGD step eta/d; t = steps/d; "
                          "R = E||x - x_hat||^2 / tr Sigma"}
    path = pathlib.Path(__file__).with_name("results-online.json")
    path.write_text(json.dumps(res, indent=1))
    print("wrote", path)


if __name__ == "__main__":
    main()
