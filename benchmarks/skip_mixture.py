"""The denoising skip-connection autoencoder on two clusters: measured tables (theory/skip_mixture.md).

    python benchmarks/skip_mixture.py --section closed            # tables 1, 2 (seconds)
    python benchmarks/skip_mixture.py --section population --regime weak    # tables 3, 4 (minutes)
    python benchmarks/skip_mixture.py --section population --regime strong
    python benchmarks/skip_mixture.py --section samples
    python benchmarks/skip_mixture.py --section proportional

Each run adds its part to benchmarks/results-skip-mixture.json (``--json``) and keeps the others.

Source: (N(mu, I) + N(-mu, I)) / 2 in dimension d, input x~ = x + tau eps, network
x_hat = b x~ + A sigma(B x~) (sign or linear code). Two scalings of the cluster means:
"weak" ||mu||^2 = 4 (O(1): the clusters carry O(1) of the O(d) energy) and "strong"
||mu||^2 = d / 4 (the clusters carry a fixed fraction of it).

1. Large d, bounded code (n = 2: one unit near the cluster axis, one random): the exact b*(B)
   against the derived limit E_c / (E_c + tau^2 d) and the rescaling value T / (T + tau^2 d).
2. Proportional regime (random Gaussian B, n = r d): the exact b*(B), risk and code-only risk.
3. Gradient descent at d (Adam on the exact risk over (b, A, B); and on fresh samples, then
   (b, A) refitted for the exact code): the trained b against the closed form b*(B) of its own B.
4. How much the code helps: skip only, code only, both, against the Bayes denoiser E[x | x~]
   (exact quadrature for two clusters, and Monte Carlo).

Every number is measured in this run; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from twolayer.theory.skip_mixture import (
    bayes_risk_monte_carlo,
    code_only_risk,
    fit_population,
    fit_samples,
    large_d_skip_weight,
    linear_mmse_risk,
    optimal_skip_decoder,
    rescaling_skip_weight,
    two_cluster_bayes_risk,
    two_clusters,
)

OUT = Path(__file__).with_name("results-skip-mixture.json")


def mean_norm2(regime, d):
    return 4.0 if regime == "weak" else d / 4


def large_d_table(tau2=0.5, ds=(64, 256, 1024, 4096)):
    rows = []
    for regime in ("weak", "strong"):
        for act in ("sign", "linear"):
            for d in ds:
                covs, w, means = two_clusters(d, mean_norm2(regime, d))
                rng = np.random.default_rng(1)
                B = np.vstack([np.eye(d)[0] + 0.3 * rng.standard_normal(d) / np.sqrt(d),
                               rng.standard_normal(d) / np.sqrt(d)])
                b, _, risk = optimal_skip_decoder(B, covs, w, means, activation=act, noise=tau2)
                limit = large_d_skip_weight(B, covs, w, means, activation=act, noise=tau2)
                rescale = rescaling_skip_weight(covs, w, means, noise=tau2)
                rows.append({"regime": regime, "activation": act, "d": d, "tau2": tau2, "b_star": b, "b_limit": limit,
                             "b_rescaling": rescale, "d_times_gap_limit": d * (b - limit),
                             "d_times_gap_rescaling": d * (b - rescale), "risk": risk})
    return rows


def proportional_table(tau2=0.5, ds=(64, 128, 256, 512), rates=(0.25, 0.5)):
    rows = []
    for regime in ("weak", "strong"):
        for r in rates:
            for d in ds:
                covs, w, means = two_clusters(d, mean_norm2(regime, d))
                B = np.random.default_rng(2).standard_normal((int(r * d), d))
                b, _, risk = optimal_skip_decoder(B, covs, w, means, noise=tau2)
                rows.append({"regime": regime, "rate": r, "d": d, "tau2": tau2, "b_star": b,
                             "b_limit_bounded_n": large_d_skip_weight(B, covs, w, means, noise=tau2),
                             "b_rescaling": rescaling_skip_weight(covs, w, means, noise=tau2),
                             "within_cluster_gain": 1 / (1 + tau2), "risk": risk,
                             "code_only_risk": code_only_risk(B, covs, w, means, noise=tau2)})
    return rows


def population_tables(d, n, steps, regime, tau2s=(0.25, 1.0)):
    gd, helps = [], []
    m2 = mean_norm2(regime, d)
    covs, w, means = two_clusters(d, m2)
    for tau2 in tau2s:
        B0 = np.random.default_rng(3).standard_normal((n, d))
        entry = {"regime": regime, "d": d, "n": n, "tau2": tau2}
        for act in ("sign", "linear"):
            b, A, B, risk = fit_population(B0, covs, w, means, activation=act, noise=tau2, steps=steps)
            b_star, _, risk_star = optimal_skip_decoder(B, covs, w, means, activation=act, noise=tau2)
            gd.append({**entry, "activation": act, "method": "population", "b_gd": b, "b_closed_form": b_star,
                       "gap": b - b_star, "risk_gd": risk, "risk_closed_form": risk_star,
                       "b_limit": large_d_skip_weight(B, covs, w, means, activation=act, noise=tau2),
                       "b_rescaling": rescaling_skip_weight(covs, w, means, noise=tau2)})
            print(f"  GD population {regime:6s} tau2={tau2:4} {act:6s}: b = {b:.7f}, b*(B) = {b_star:.7f}, "
                  f"gap {b - b_star:+.1e}, risk {risk:.6f}", flush=True)
            _, _, _, code_risk = fit_population(B0, covs, w, means, activation=act, noise=tau2, steps=steps,
                                                skip=False)
            entry[f"both_{act}"] = risk
            entry[f"code_only_{act}"] = code_risk
        skip_only = 1 - rescaling_skip_weight(covs, w, means, noise=tau2)
        bayes = two_cluster_bayes_risk(d, m2, 1.0, tau2)
        mc, se = bayes_risk_monte_carlo(covs, w, means, noise=tau2, samples=200_000, rng=4)
        helps.append({**entry, "skip_only": skip_only, "linear_mmse": linear_mmse_risk(covs, w, means, noise=tau2),
                      "bayes": bayes, "bayes_monte_carlo": mc, "bayes_monte_carlo_stderr": se})
    return gd, helps


def samples_table(d, n, tau2=1.0, codes=("sign", "linear")):
    """The weak regime, fresh draws: phase 1 over (b, A, B), phase 2 (b, A) for the exact code."""
    rows = []
    covs, w, means = two_clusters(d, mean_norm2("weak", d))
    B0 = np.random.default_rng(3).standard_normal((n, d))
    for act in codes:
        b1, b, _, B = fit_samples(B0, covs, w, means, activation=act, noise=tau2, steps=3000, refit_steps=2000)
        b_star, _, _ = optimal_skip_decoder(B, covs, w, means, activation=act, noise=tau2)
        rows.append({"regime": "weak", "d": d, "n": n, "tau2": tau2, "activation": act, "method": "samples",
                     "b_after_phase_1": b1, "b_gd": b, "b_closed_form": b_star, "gap": b - b_star})
        print(f"  GD samples weak tau2={tau2} {act:6s}: b = {b:.7f} (phase 1 {b1:.7f}), b*(B) = {b_star:.7f}, "
              f"gap {b - b_star:+.1e}", flush=True)
    return rows


def proportional_gd(d, n, steps, tau2=1.0):
    rows = []
    for regime in ("weak", "strong"):
        covs, w, means = two_clusters(d, mean_norm2(regime, d))
        B0 = np.random.default_rng(3).standard_normal((n, d))
        b, _, B, risk = fit_population(B0, covs, w, means, noise=tau2, steps=steps)
        b_star, _, risk_star = optimal_skip_decoder(B, covs, w, means, noise=tau2)
        rows.append({"regime": regime, "d": d, "n": n, "tau2": tau2, "activation": "sign", "method": "population",
                     "steps": steps, "b_gd": b, "b_closed_form": b_star, "gap": b - b_star, "risk_gd": risk,
                     "risk_closed_form": risk_star, "b_limit": large_d_skip_weight(B, covs, w, means, noise=tau2),
                     "b_rescaling": rescaling_skip_weight(covs, w, means, noise=tau2),
                     "code_only_risk_of_B": code_only_risk(B, covs, w, means, noise=tau2)})
        print(f"  GD population {regime} tau2={tau2} sign n={n}: b = {b:.7f}, b*(B) = {b_star:.7f}, "
              f"gap {b - b_star:+.1e}, risk {risk:.6f}", flush=True)
    return rows


def show(title, rows, keys, fmt="{:.6g}"):
    print(f"\n{title}")
    print(" | ".join(keys))
    for row in rows:
        print(" | ".join(fmt.format(row[k]) if isinstance(row.get(k), float) else str(row.get(k, "")) for k in keys))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--section", choices=["closed", "population", "samples", "proportional"], default="closed",
                        help="one part per run (each a few minutes); the JSON keeps the other parts")
    parser.add_argument("--regime", choices=["weak", "strong"], default="weak", help="for --section population")
    parser.add_argument("--d", type=int, default=512)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--proportional-n", type=int, default=128)
    parser.add_argument("--proportional-steps", type=int, default=600)
    parser.add_argument("--codes", nargs="+", choices=["sign", "linear"], default=["sign", "linear"],
                        help="for --section samples (rows of other codes already in the JSON are kept)")
    parser.add_argument("--json", type=Path, default=OUT)
    args = parser.parse_args(argv)
    results = json.loads(args.json.read_text()) if args.json.exists() else {}

    if args.section == "closed":
        results["large_d"] = large_d_table()
        show("1. Large d, n = 2 (tau^2 = 0.5): b* against its limits", results["large_d"],
             ["regime", "activation", "d", "b_star", "b_limit", "b_rescaling", "d_times_gap_limit",
              "d_times_gap_rescaling"])
        results["proportional"] = proportional_table()
        show("2. Proportional regime, random B (tau^2 = 0.5, sign)", results["proportional"],
             ["regime", "rate", "d", "b_star", "b_limit_bounded_n", "b_rescaling", "within_cluster_gain", "risk",
              "code_only_risk"])
    elif args.section == "population":
        print(f"3. Gradient descent on the exact risk at d = {args.d}, n = {args.n}, {args.steps} Adam steps")
        gd, helps = population_tables(args.d, args.n, args.steps, args.regime)
        results[f"population_{args.regime}"] = gd
        results[f"help_{args.regime}"] = helps
        show("3. Trained skip weight against the closed form b*(B) of the trained B", gd,
             ["regime", "tau2", "activation", "b_gd", "b_closed_form", "gap", "b_limit", "b_rescaling"], fmt="{:.7g}")
        show("4. Risk (normalised by E||x||^2): skip only, code only, both, Bayes", helps,
             ["regime", "tau2", "skip_only", "code_only_sign", "code_only_linear", "both_sign", "both_linear",
              "linear_mmse", "bayes", "bayes_monte_carlo", "bayes_monte_carlo_stderr"])
    elif args.section == "samples":
        kept = [row for row in results.get("samples", []) if row["activation"] not in args.codes]
        results["samples"] = kept + samples_table(args.d, args.n, codes=tuple(args.codes))
        show("3b. Samples: trained skip weight against b*(B)", results["samples"],
             ["activation", "b_after_phase_1", "b_gd", "b_closed_form", "gap"], fmt="{:.7g}")
    else:
        results["proportional_gd"] = proportional_gd(args.d, args.proportional_n, args.proportional_steps)
        show("3c. Proportional regime, GD", results["proportional_gd"],
             ["regime", "n", "steps", "b_gd", "b_closed_form", "gap", "b_limit", "b_rescaling", "risk_gd",
              "code_only_risk_of_B"], fmt="{:.7g}")
    args.json.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
