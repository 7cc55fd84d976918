"""Structured sources: the acceptance measurements of the sparse-data theory, printed as tables.

    python benchmarks/structured.py [--ds 256 512 1024] [--steps 2000] [--json OUT.json]

1. The theorem "a linear decoder performs as on a Gaussian source" (Bernoulli-Gaussian data):
   the risk under the law of the Gaussian-optimal encoder (Haar orthonormal rows for r <= 1,
   a Haar tight frame for r > 1, with the Gaussian-optimal decoder), and of a sample-trained
   autoencoder, against the Gaussian value, for growing d.
2. The effective scalar channel: the measured sigma^2 of the trained network's linear
   reconstruction against R_G / (1 - R_G) (and against R / (1 - R) with its own risk R).
3. The denoisers: the simulated risk of linear + MMSE denoiser and of the learned denoiser
   against the prediction mmse(R_G / (1 - R_G)), and against mmse(R / (1 - R)).
4. Speed: ``twolayer theory --decoder denoiser`` for 100 rates, and each run's wall time.

``--only-finite-d`` (section 3c): the channel at finite d (the norm the 1-bit code does not see,
``finite_d_channel``) against the Gaussian-optimal encoder's measured sigma^2 and denoiser risk, for
growing d, beside the asymptotic predictions.

``--only-flat`` (section 1c): the finite-d excess of item 1 for Haar rows against flat rows
(a randomised Hadamard matrix), both orthonormal with the Gaussian-optimal decoder: the excess
follows the fourth moment of the rows.

Every number is measured on this machine in this run; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def bernoulli_gaussian_cells(ps, rates, ds):
    """(P, law, r, Gaussian value R_G(r), d) over the grid, in the order P, r, d."""
    from twolayer.theory import min_risk
    from twolayer.theory.priors import Law

    for p in ps:
        law = Law("bernoulli-gaussian", p)
        for r in rates:
            g = float(min_risk(r))
            for d in ds:
                yield p, law, r, g, d


def gaussian_optimal_encoder_excess(ds, rates, ps, draws=300):
    from twolayer.theory import minimizer
    from twolayer.theory.structured import structured_risk

    rows = []
    for p, law, r, g, d in bernoulli_gaussian_cells(ps, rates, ds):
        A, B = minimizer(d, int(round(r * d)), seed=d)
        est = structured_risk(B, A, law, draws=draws, seed=d + 1)
        rows.append({"P": p, "rate": r, "d": d, "risk": est.value, "stderr": est.stderr, "gaussian": g,
                     "excess": est.value / g - 1})
    return rows


def trained_runs(ds, rates, ps, steps):
    from twolayer import RunConfig, run

    rows = []
    for p in ps:
        for r in rates:
            for d in ds:
                start = time.perf_counter()
                rec = run(RunConfig(data=f"bernoulli-gaussian:{p}", d=d, rate=r, decoder="denoiser", steps=steps))
                rows.append({
                    "P": p, "rate": r, "d": d, "seconds": time.perf_counter() - start,
                    "linear": rec["risk_linear"], "linear_se": rec["risk_linear_stderr"],
                    "gaussian": rec["predicted_risk_linear"],
                    "sigma2": rec["effective_sigma2"], "sigma2_pred": rec["predicted_sigma2"],
                    "sigma2_given_linear": rec["risk_linear"] / (1 - rec["risk_linear"]),
                    "denoiser": rec["risk_denoiser"], "denoiser_se": rec["risk_denoiser_stderr"],
                    "learned": rec["risk_learned_denoiser"], "pred": rec["predicted_risk_denoiser"],
                    "pred_given_linear": rec["predicted_risk_denoiser_given_linear"],
                })
                print(_fmt_trained([rows[-1]], header=len(rows) == 1), flush=True)
    return rows


def _fmt_trained(rows, header=True):
    lines = []
    if header:
        lines.append(f"{'P':>4} {'r':>4} {'d':>5} {'linear':>8} {'R_G':>7} {'exc%':>6} {'s2':>7} {'s2 pred':>7} "
                     f"{'s2|R':>7} {'denois':>8} {'learned':>8} {'pred':>7} {'dev%':>6} {'pred|R':>7} {'dev%':>6} "
                     f"{'lrn/den':>7} {'sec':>5}")
    for x in rows:
        lines.append(
            f"{x['P']:>4} {x['rate']:>4} {x['d']:>5} {x['linear']:8.4f} {x['gaussian']:7.4f} "
            f"{100 * (x['linear'] / x['gaussian'] - 1):6.2f} {x['sigma2']:7.4f} {x['sigma2_pred']:7.4f} "
            f"{x['sigma2_given_linear']:7.4f} {x['denoiser']:8.4f} {x['learned']:8.4f} {x['pred']:7.4f} "
            f"{100 * (x['denoiser'] / x['pred'] - 1):6.2f} {x['pred_given_linear']:7.4f} "
            f"{100 * (x['denoiser'] / x['pred_given_linear'] - 1):6.2f} {x['learned'] / x['denoiser']:7.4f} "
            f"{x['seconds']:5.0f}")
    return "\n".join(lines)


def transition(ps, d=64, rate=0.5, seeds=(0, 1), steps=10000):
    """Sparse Rademacher: which structure gradient descent finds, against the derived critical P.

    Per P: the exact risk of the identity-like encoder (best linear decoder), the risk of a Haar
    orthonormal encoder with its best linear decoder (Monte Carlo), and for sample-trained
    networks the risk under the law (trained decoder) and the rows' inverse participation ratio.
    """
    from twolayer import RunConfig, run
    from twolayer.theory import minimizer
    from twolayer.theory.priors import Law
    from twolayer.theory.structured import identity_encoder_risk, structured_linear_decoder, structured_risk

    n = int(round(rate * d))
    rows = []
    for p in ps:
        law = Law("sparse-rademacher", p)
        _, B = minimizer(d, n, seed=7)
        rot = structured_risk(B, structured_linear_decoder(B, law, draws=200_000, seed=8), law, draws=100_000, seed=9)
        trained = [run(RunConfig(data=f"sparse-rademacher:{p}", d=d, rate=rate, steps=steps, seed=s, eval_samples=20000))
                   for s in seeds]
        rows.append({"P": p, "identity": identity_encoder_risk(law, n, d), "rotation": rot.value,
                     "trained": [t["final_risk"] for t in trained],
                     "trained_refit": [t["risk_linear_refit"] for t in trained],
                     "ipr": [t["encoder_localisation"] for t in trained]})
        x = rows[-1]
        print(f"  P = {p:4.2f}: identity {x['identity']:.4f}  rotation {x['rotation']:.4f}  trained "
              + ", ".join(f"{a:.4f} (refit {b:.4f}, IPR {c:.3f})" for a, b, c in zip(x["trained"], x["trained_refit"],
                                                                                  x["ipr"])), flush=True)
    return rows


def optimal_encoder_decoders(d, rates, ps, count=8000, seed=0):
    """The channel and the denoisers on the Gaussian-optimal encoder (``minimizer``: Haar orthonormal rows
    or tight frame, Gaussian-optimal decoder), without training: separates the scalar-channel
    approximation from how far training got."""
    from twolayer.activations import get_activation
    from twolayer.structured_run import score_decoders
    from twolayer.theory import min_risk, minimizer
    from twolayer.theory.priors import Law, effective_noise

    act = get_activation("sign")
    rows = []
    for p in ps:
        law = Law("bernoulli-gaussian", p)
        for r in rates:
            A, B = minimizer(d, int(round(r * d)), seed=seed)
            ch, scored = score_decoders(law, B, A, None, act, count, seed)
            g = float(min_risk(r))
            lin = scored["linear"][0]
            row = {"P": p, "rate": r, "d": d, "linear": lin, "gaussian": g, "sigma2": ch["sigma2"],
                   "sigma2_pred": effective_noise(g), "sigma2_given_linear": effective_noise(lin),
                   "denoiser": scored["denoiser"][0], "denoiser_se": scored["denoiser"][1],
                   "learned": scored["learned-denoiser"][0], "pred": law.mmse(effective_noise(g)),
                   "pred_given_linear": law.mmse(effective_noise(lin)), "seconds": 0.0}
            rows.append(row)
            print(_fmt_trained([row], header=len(rows) == 1), flush=True)
    return rows


def finite_d_channel_table(ds, rates, ps, count=8000, seed=0, save=None):
    """Section 3c: the Gaussian-optimal encoder's channel and denoiser against the asymptotic and the
    finite-d predictions (:func:`twolayer.theory.priors.finite_d_channel`), for each d.

    ``save``: called with the rows so far after each row (a long table survives an interruption).
    The tight frames of r > 1 take minutes from d = 1024 on (``equal_norm_frame``)."""
    from twolayer.activations import get_activation
    from twolayer.structured_run import score_decoders
    from twolayer.theory import minimizer
    from twolayer.theory.priors import effective_noise, finite_d_channel

    act = get_activation("sign")
    rows = []
    for p, law, r, g, d in bernoulli_gaussian_cells(ps, rates, ds):
        start = time.perf_counter()
        A, B = minimizer(d, int(round(r * d)), seed=seed)
        ch, scored = score_decoders(law, B, A, None, act, count, seed)
        model = finite_d_channel(law, d, g)
        den, den_se = scored["denoiser"]
        row = {"P": p, "rate": r, "d": d, "linear": scored["linear"][0], "linear_finite_d": model["risk_linear"],
               "sigma2": ch["sigma2"], "sigma2_asymptotic": effective_noise(g),
               "sigma2_finite_d": model["sigma2"], "denoiser": den, "denoiser_se": den_se,
               "denoiser_asymptotic": law.mmse(effective_noise(g)), "denoiser_finite_d": model["risk_denoiser"],
               "seconds": time.perf_counter() - start}
        rows.append(row)
        if save:
            save(rows)
        print(f"  P = {p}, r = {r}, d = {d:>5}: sigma2 {row['sigma2']:.4f} (asymptotic "
              f"{100 * (row['sigma2'] / row['sigma2_asymptotic'] - 1):+.2f}%, finite-d "
              f"{100 * (row['sigma2'] / row['sigma2_finite_d'] - 1):+.2f}%); denoiser {den:.4f} +- {den_se:.4f} "
              f"(asymptotic {100 * (den / row['denoiser_asymptotic'] - 1):+.2f}%, finite-d "
              f"{100 * (den / row['denoiser_finite_d'] - 1):+.2f}%); linear {row['linear']:.4f} (finite-d "
              f"{100 * (row['linear'] / row['linear_finite_d'] - 1):+.2f}%)  {row['seconds']:.0f} s", flush=True)
    return rows


def flat_frame_excess(ds, rates, ps, draws=300):
    """Section 1c: the finite-d excess of the linear decoder, Haar rows against flat (Hadamard) rows.

    Both frames are orthonormal, so both have the Gaussian risk 1 - 2r/pi exactly and the same
    Gaussian-optimal decoder sqrt(2/pi) B^T; they differ only in the fourth moment of their rows,
    m4 = mean_i sum_j b_ij^4, which sets the excess kurtosis kappa4 m4 of the projections b_i . x
    (kappa4 = 3/P - 3 for Bernoulli-Gaussian coordinates).
    """
    from twolayer.theory import minimizer, optimal_decoder
    from twolayer.theory.structured import flat_frame, orthonormal_finite_d_risk, structured_risk

    rows = []
    for p, law, r, g, d in bernoulli_gaussian_cells(ps, rates, ds):
        n = int(round(r * d))
        for name, B in (("haar", minimizer(d, n, seed=d)[1]), ("flat", flat_frame(d, n, seed=d))):
            est = structured_risk(B, optimal_decoder(B), law, draws=draws, seed=d + 1)
            m4 = float(np.mean(np.sum(B**4, axis=1)))
            row = {"P": p, "rate": r, "d": d, "frame": name, "m4": m4, "kappa4_m4": (3 / p - 3) * m4,
                   "risk": est.value, "stderr": est.stderr, "gaussian": g, "excess": est.value / g - 1,
                   "excess_stderr": est.stderr / g, "first_order": orthonormal_finite_d_risk(B, law)}
            rows.append(row)
            print(f"  P = {p}, r = {r}, d = {d:>5}, {name:>4} rows: m4 = {m4:.5f}, kappa4 m4 = "
                  f"{row['kappa4_m4']:.4f}; risk {est.value:.5f} +- {est.stderr:.5f}, excess "
                  f"{100 * row['excess']:+.2f}% (+- {100 * row['excess_stderr']:.2f}), excess / (kappa4 m4) = "
                  f"{row['excess'] / row['kappa4_m4']:.3f}; first-order prediction {row['first_order']:.5f}", flush=True)
    return rows


def population_trained(ds, rates, ps, steps):
    """Gradient descent (Adam) on exact Gaussian risks given fresh supports (method population): the
    linear decoder's risk under the law against the Gaussian value, for growing d."""
    from twolayer import RunConfig, run

    rows = []
    for p in ps:
        for r in rates:
            for d in ds:
                start = time.perf_counter()
                rec = run(RunConfig(data=f"bernoulli-gaussian:{p}", d=d, rate=r, method="population", steps=steps))
                rows.append({"P": p, "rate": r, "d": d, "risk": rec["final_risk"], "stderr": rec["final_risk_stderr"],
                             "refit": rec["risk_linear_refit"], "gaussian": rec["predicted_risk_linear"],
                             "seconds": time.perf_counter() - start})
                x = rows[-1]
                print(f"  P = {p}, r = {r}, d = {d:>5}: {x['risk']:.4f} +- {x['stderr']:.4f} (refit {x['refit']:.4f}; "
                      f"Gaussian {x['gaussian']:.4f}, excess {100 * (x['risk'] / x['gaussian'] - 1):+.2f}%) "
                      f"{x['seconds']:.0f} s", flush=True)
    return rows


def theory_speed(rates=100, repeats=3):
    from twolayer.cli import theory_records
    from twolayer.theory.priors import Law

    grid = np.linspace(0.05, 3.0, rates)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        theory_records(grid, "sign", law=Law("bernoulli-gaussian", 0.1), decoder="denoiser")
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ds", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--rates", type=float, nargs="+", default=[0.5, 1.0, 1.5])
    parser.add_argument("--ps", type=float, nargs="+", default=[0.1, 0.3])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--json", metavar="OUT.json")
    parser.add_argument("--only-transition", action="store_true", help="only section 5")
    parser.add_argument("--only-optimal-encoder", action="store_true", help="only section 3b")
    parser.add_argument("--only-population", action="store_true", help="only section 1b")
    parser.add_argument("--only-flat", action="store_true", help="only section 1c (d: powers of 2; rates <= 1)")
    parser.add_argument("--only-finite-d", action="store_true", help="only section 3c")
    args = parser.parse_args(argv)
    if args.only_finite_d:
        print("3c. Gaussian-optimal encoder: the channel and the denoiser against the asymptotic and the finite-d "
              "predictions (relative deviations of the measurement)")
        def save(rows):
            if args.json:
                with open(args.json, "w") as fh:
                    json.dump({"finite_d_channel": rows}, fh, indent=1)

        finite_d_channel_table(args.ds, args.rates, args.ps, save=save)
        return
    if args.only_flat:
        print("1c. Haar against flat (randomised Hadamard) orthonormal rows, Gaussian-optimal decoder")
        rows = flat_frame_excess(args.ds, [r for r in args.rates if r <= 1], args.ps)
        if args.json:
            with open(args.json, "w") as fh:
                json.dump({"flat_frame": rows}, fh, indent=1)
        return
    if args.only_population:
        print(f"1b. Population-style training (exact risks given fresh supports, Adam, {args.steps} steps)")
        rows = population_trained(args.ds, args.rates, args.ps, args.steps)
        if args.json:
            with open(args.json, "w") as fh:
                json.dump({"population_trained": rows}, fh, indent=1)
        return
    if args.only_optimal_encoder:
        print(f"3b. Gaussian-optimal encoder (no training), d = {max(args.ds)}: channel and decoders")
        rows = optimal_encoder_decoders(max(args.ds), args.rates, args.ps)
        if args.json:
            with open(args.json, "w") as fh:
                json.dump({"optimal_encoder": rows}, fh, indent=1)
        return
    if args.only_transition:
        from twolayer.theory.structured import SPARSE_RADEMACHER_CRITICAL_P

        print(f"5. Sparse Rademacher, d = 64, r = 0.5, 10000 steps of Adam per seed (2 seeds): identity vs "
              f"rotation (critical P* = 2 - pi/2 = {SPARSE_RADEMACHER_CRITICAL_P:.4f} in the limit)")
        rows = transition([0.2, 0.3, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
        if args.json:
            with open(args.json, "w") as fh:
                json.dump({"transition": rows}, fh, indent=1)
        return

    print("1. Gaussian-optimal encoder on Bernoulli-Gaussian data (linear decoder), risk vs the Gaussian value")
    enc = gaussian_optimal_encoder_excess(sorted({128, *args.ds}), [0.5, 1.0], args.ps)
    for x in enc:
        print(f"  P = {x['P']}, r = {x['rate']}, d = {x['d']:>5}: {x['risk']:.4f} +- {x['stderr']:.4f} "
              f"(Gaussian {x['gaussian']:.4f}, excess {100 * x['excess']:+.2f}%)")
    print(f"\n2-3. Trained autoencoders ({args.steps} steps of Adam on fresh samples), decoders against predictions")
    runs = trained_runs(args.ds, args.rates, args.ps, args.steps)
    speed = theory_speed()
    print(f"\n4. twolayer theory --decoder denoiser, 100 rates: {speed:.2f} s (median of 3)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"encoder": enc, "trained": runs, "theory_100_rates_seconds": speed, "steps": args.steps}, fh,
                      indent=1)


if __name__ == "__main__":
    main()
