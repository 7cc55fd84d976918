"""Regularised autoencoders (issue 13): the minimiser's structure under weight decay, L1 and contractive
penalties, and the denoising minima of erf, tanh and relu codes, measured against the closed forms of
:mod:`twolayer.theory.regularised` (theory/regularised.md).

    python benchmarks/regularised.py                       # every section (~15 min on 2 busy cores)
    python benchmarks/regularised.py --sections sign denoising --json /tmp/out.json

Sections (each row: the measured value, the formula's value, their gap; nothing is asserted):

* ``linear``: the linear autoencoder with weight decay gamma on both layers and the contractive penalty c
  (encoder-only weight decay), powerlaw:1 at d = 32, population gradient descent (untied, plain GD, float64)
  against :func:`~twolayer.theory.regularised.linear_weight_decay_minimum`: the penalised objective, the mode
  products p_k (singular values of AB), the imbalance || gamma A^T A - (gamma + c) B B^T ||, with and without
  input noise.
* ``sign``: the sign code with weight decay. (a) decoder-only weight decay: Adam on the profile objective
  d - tr(C (M + gamma I)^{-1} C^T) with row-normalised B (:func:`twolayer.theory.risk.optimal_decoder_risk_jax`
  with ``jitter`` = gamma is exactly that objective), from a Gaussian start, against
  :func:`~twolayer.theory.regularised.sign_ridge_minimum`, and the frame spectrum (singular values of the
  row-normalised B); (b) what ``--weight-decay`` does (both layers; untied population GD): the rows' norm, the
  objective against the infimum, the spread of the last 100 losses.
* ``penalties``: erf (d = 64), tanh (d = 32), relu (d = 64) at r = 1/2 with weight decay and L1 / contractive
  penalties: Adam on the exact objective (untied, float64, 2000 steps), the singular values and row norms of B,
  the pairwise cosines of the rows, the objective and risk against
  :func:`~twolayer.theory.regularised.orthogonal_frame_minimum` (erf, tanh) and
  :func:`~twolayer.theory.regularised.relu_simplex_minimum` (relu).
* ``relu_simplex``: relu on N(0, I), d = 64, n = 32, tau^2 in {0, 0.25, 1}, population GD (optimal decoder):
  the risk against :func:`~twolayer.theory.regularised.relu_simplex_minimum` and the n -> infinity value.
* ``denoising``: erf (d = 64) and tanh (d = 32) on N(0, I), r in {0.25, 0.5}, tau^2 in {0.25, 1}, population GD
  (optimal decoder, float64, 2000 steps; erf also 8000) against the infimum
  :func:`~twolayer.theory.regularised.denoising_lower_bound` (the linear Wiener value, which is also the
  noiseless minimum mapped by 1 - (1 - R_0)/(1 + tau^2) since R_0 = 1 - r); relu on powerlaw:1, d = 64, against
  the candidates: the noiseless relu value mapped by 1 + tau^2, the allocation with the weights
  D = lambda^2/(lambda + tau^2 v), the relu pairs (Wiener at n/2), the lower bound (Wiener at n).
"""

from __future__ import annotations

import argparse
import json
import os
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_JSON = os.path.join(HERE, "results-regularised.json")
ADAM = {"optimizer": "adam", "lr": 0.01, "schedule": "cosine"}


def _objective(res, d, weight_decay=0.0, l1=0.0, contractive=0.0, activation="linear", cov=None):
    """(d R + penalties) / d of a trained network, with the exact Gaussian penalties (standardised source)."""
    from twolayer.theory import population_risk
    from twolayer.theory.regularised import code_penalties

    v = 1.0 if cov is None else np.trace(cov) / d
    B, A = res.B * np.sqrt(v), res.A / np.sqrt(v)  # as trained: the standardised source
    cov_std = None if cov is None else cov / v
    risk = population_risk(B, A, activation=activation, cov=cov_std)
    total = d * risk + weight_decay * (np.sum(A**2) + np.sum(B**2))
    if l1 or contractive:
        pen = code_penalties(B, activation=activation, cov=cov_std)
        total += l1 * pen["l1"] + contractive * pen["contractive"]
    return total / d, risk


# ----------------------------------------------------------------------------- linear
def linear_rows():
    from twolayer.simulations import train
    from twolayer.spectra import eigenvalues
    from twolayer.theory import population_risk
    from twolayer.theory.regularised import linear_weight_decay_minimum

    d = 32
    lam = eigenvalues("powerlaw:1", d)
    lam_std = lam / lam.mean()
    rows = []
    cells = [(0.25, 0.1, 0.0, 0.0), (0.25, 0.5, 0.0, 0.0), (0.5, 0.1, 1.0, 0.0), (0.5, 0.5, 1.0, 0.0),
             (0.25, 0.1, 0.0, 0.5), (0.25, 0.3, 1.0, 1.0), (0.5, 2.0, 0.0, 0.0)]
    for rate, gamma, c, tau2 in cells:
        n = int(rate * d)
        res = train(d, n, activation="linear", parametrization="untied", spectrum=lam, weight_decay=gamma,
                    contractive=c, noise=tau2, steps=20000, lr=0.02, dtype="float64")
        th = linear_weight_decay_minimum(lam, rate, gamma, contractive=c, noise=tau2)
        B, A = res.B * np.sqrt(lam.mean()), res.A / np.sqrt(lam.mean())  # as trained (standardised source)
        risk = population_risk(B, A, activation="linear", cov=np.diag(lam_std), noise=tau2)
        objective = risk + (gamma * np.sum(A**2) + (gamma + c) * np.sum(B**2)) / d
        p = np.linalg.svd(A @ B, compute_uv=False)[:n]
        imbalance = np.linalg.norm(gamma * A.T @ A - (gamma + c) * B @ B.T) / max(gamma, 1e-300)
        rows.append({"rate": rate, "weight_decay": gamma, "contractive": c, "noise": tau2, "kept": th["kept"],
                     "objective": objective, "objective_theory": th["objective"],
                     "objective_gap": objective - th["objective"], "risk": risk, "risk_theory": th["risk"],
                     "products_max_error": float(np.max(np.abs(p - th["products"]))),
                     "imbalance_over_gamma": float(imbalance),
                     "norm_ratio": float(np.median(np.linalg.svd(A, compute_uv=False)[: th["kept"]]
                                                   / np.linalg.svd(B, compute_uv=False)[: th["kept"]])),
                     "norm_ratio_theory": float(np.sqrt((gamma + c) / gamma))})
    return rows


def print_linear(rows):
    print("\nLinear autoencoder + weight decay gamma + contractive c (powerlaw:1, d = 32; GD 20000 steps)")
    print(f"{'r':>5} {'gamma':>6} {'c':>5} {'tau2':>5} {'kept':>4} {'objective':>10} {'theory':>10} {'gap':>9} "
          f"{'max|dp|':>8} {'imbal/g':>8} {'|a|/|b|':>8} {'theory':>7}")
    for r in rows:
        print(f"{r['rate']:>5} {r['weight_decay']:>6} {r['contractive']:>5} {r['noise']:>5} {r['kept']:>4} "
              f"{r['objective']:>10.6f} {r['objective_theory']:>10.6f} {r['objective_gap']:>9.1e} "
              f"{r['products_max_error']:>8.1e} {r['imbalance_over_gamma']:>8.1e} {r['norm_ratio']:>8.4f} "
              f"{r['norm_ratio_theory']:>7.4f}")


# ----------------------------------------------------------------------------- sign
def _sign_profile_gd(d, n, gamma, noise, steps=2000, seed=1):
    import jax
    import jax.numpy as jnp
    import optax

    from twolayer.theory.risk import optimal_decoder_risk_jax

    with jax.enable_x64(True):
        def f(B):
            U = B / jnp.linalg.norm(B, axis=1, keepdims=True)
            return optimal_decoder_risk_jax(U, activation="sign", jitter=gamma, noise=noise)

        tx = optax.adam(optax.cosine_decay_schedule(0.01, steps))
        B = jnp.asarray(np.random.default_rng(seed).standard_normal((n, d)) / np.sqrt(d))
        state = tx.init(B)
        value_grad = jax.value_and_grad(f)

        @jax.jit
        def step(B, state):
            _, g = value_grad(B)
            updates, state = tx.update(g, state, B)
            return optax.apply_updates(B, updates), state

        for _ in range(steps):
            B, state = step(B, state)
        value = float(f(B))
        U = np.asarray(B / jnp.linalg.norm(B, axis=1, keepdims=True))
    return value, np.linalg.svd(U, compute_uv=False)


def sign_rows():
    from twolayer.simulations import train
    from twolayer.theory.regularised import sign_ridge_minimum

    d = 64
    rows = {"decoder_only": [], "both_layers": []}
    for rate, gamma, tau2 in [(0.25, 0.1, 0.0), (0.5, 0.1, 0.0), (1.0, 0.1, 0.0), (0.5, 1.0, 0.0), (1.0, 1.0, 0.0),
                              (0.5, 0.1, 1.0)]:
        # the value with the ridge decoder is d R + gamma |A|^2 over d (jitter = gamma in the profile objective)
        value, sv = _sign_profile_gd(d, int(rate * d), gamma, tau2)
        th = sign_ridge_minimum(rate, gamma, noise=tau2)
        rows["decoder_only"].append({"rate": rate, "weight_decay": gamma, "noise": tau2, "objective": value,
                                     "objective_theory": th["objective"], "gap": value - th["objective"],
                                     "frame_sv_min": float(sv.min()), "frame_sv_max": float(sv.max())})
    from twolayer.simulations.training import TrainingDivergedError

    for gamma, lr in ((0.1, None), (1.0, None), (0.1, 0.03), (1.0, 0.03)):
        try:
            res = train(d, d // 2, activation="sign", parametrization="untied", weight_decay=gamma, steps=4000,
                        lr=lr, dtype="float64", record_every=1)
        except TrainingDivergedError as err:
            rows["both_layers"].append({"rate": 0.5, "weight_decay": gamma, "lr": lr, "diverged": str(err)})
            continue
        objective, risk = _objective(res, d, weight_decay=gamma, activation="sign")
        U = res.B / np.linalg.norm(res.B, axis=1, keepdims=True)
        sv = np.linalg.svd(U, compute_uv=False)
        th = sign_ridge_minimum(0.5, gamma)
        last = np.asarray(res.history["loss"][-100:])
        rows["both_layers"].append({"rate": 0.5, "weight_decay": gamma, "lr": res.config["lr"],
                                    "objective": objective, "infimum": th["objective"], "risk": risk,
                                    "risk_at_infimum": th["risk"], "row_norm": float(np.linalg.norm(res.B, axis=1).mean()),
                                    "frame_sv_min": float(sv.min()), "frame_sv_max": float(sv.max()),
                                    "last_losses_spread": float(last.max() - last.min())})
    return rows


def print_sign(rows):
    print("\nSign code, decoder-only weight decay: Adam on the profile objective (row-normalised B), d = 64")
    print(f"{'r':>5} {'gamma':>6} {'tau2':>5} {'objective':>10} {'theory':>10} {'gap':>9} {'frame sv':>19}")
    for r in rows["decoder_only"]:
        print(f"{r['rate']:>5} {r['weight_decay']:>6} {r['noise']:>5} {r['objective']:>10.6f} "
              f"{r['objective_theory']:>10.6f} {r['gap']:>9.1e} {r['frame_sv_min']:>9.6f}-{r['frame_sv_max']:<9.6f}")
    print("\nSign code, --weight-decay (both layers), untied population GD, d = 64, r = 0.5, 4000 steps")
    print(f"{'gamma':>6} {'lr':>5} {'objective':>10} {'infimum':>10} {'risk':>8} {'at inf':>8} {'|b_i|':>7} "
          f"{'frame sv':>17} {'loss spread':>11}")
    for r in rows["both_layers"]:
        if "diverged" in r:
            print(f"{r['weight_decay']:>6} {r['lr']!s:>5} {r['diverged'][:90]}")
            continue
        print(f"{r['weight_decay']:>6} {r['lr']:>5} {r['objective']:>10.6f} {r['infimum']:>10.6f} {r['risk']:>8.5f} "
              f"{r['risk_at_infimum']:>8.5f} {r['row_norm']:>7.4f} {r['frame_sv_min']:>8.5f}-{r['frame_sv_max']:<8.5f} "
              f"{r['last_losses_spread']:>11.1e}")


# ----------------------------------------------------------------------------- penalties
def penalty_rows(quick=False):
    from twolayer.simulations import train
    from twolayer.theory.regularised import code_penalties, orthogonal_frame_minimum, relu_simplex_minimum

    cells = []
    for lam in (0.0, 0.03, 0.1, 0.3, 1.0, 3.0):
        cells.append(("erf", 64, {"weight_decay": 0.01, "l1": lam}))
    for lam in (0.1, 0.3, 1.0, 3.0):
        cells.append(("erf", 64, {"weight_decay": 0.01, "contractive": lam}))
    for gamma in (0.001, 0.1, 0.3, 1.0):
        cells.append(("erf", 64, {"weight_decay": gamma}))
    cells += [("tanh", 32, {"weight_decay": 0.01}), ("tanh", 32, {"weight_decay": 0.01, "l1": 0.3}),
              ("tanh", 32, {"weight_decay": 0.01, "contractive": 0.3})]
    for kw in ({"weight_decay": 0.01}, {"weight_decay": 0.1}, {"weight_decay": 0.01, "l1": 0.1},
               {"weight_decay": 0.01, "l1": 1.0}, {"weight_decay": 0.01, "contractive": 0.1},
               {"weight_decay": 0.01, "contractive": 1.0}):
        cells.append(("relu", 64, kw))
    if quick:
        cells = cells[:2]
    rows = []
    for act, d, kw in cells:
        res = train(d, d // 2, activation=act, parametrization="untied", steps=2000, dtype="float64", **ADAM, **kw)
        objective, risk = _objective(res, d, activation=act, **kw)
        sv = np.linalg.svd(res.B, compute_uv=False)
        norms = np.linalg.norm(res.B, axis=1)
        U = res.B / norms[:, None]
        frame = np.linalg.svd(U, compute_uv=False)
        cos = U @ U.T
        np.fill_diagonal(cos, 1.0)
        pen = code_penalties(res.B, activation=act)
        row = {"activation": act, "d": d, "rate": 0.5, **{k: kw.get(k, 0.0) for k in ("weight_decay", "l1",
                                                                                          "contractive")},
               "objective": objective, "risk": risk, "sv_min": float(sv.min()), "sv_max": float(sv.max()),
               "row_norm_mean": float(norms.mean()), "row_norm_std": float(norms.std()),
               "frame_sv_min": float(frame.min()), "frame_sv_max": float(frame.max()),
               "antipodal_fraction": float(np.mean(cos.min(axis=1) < -0.99)),
               "cosine_min": float(cos.min()), "cosine_max": float((cos - 2 * np.eye(d // 2)).max()),
               "l1_per_neuron": float(pen["l1"] / (d // 2)), "contractive_per_neuron": float(pen["contractive"] / (d // 2))}
        if act == "relu":
            th = relu_simplex_minimum(d, d // 2, **kw)
        else:
            th = orthogonal_frame_minimum(act, 0.5, **kw)
        row.update(objective_theory=th["objective"], risk_theory=th["risk"], row_norm_theory=th["row_norm"],
                   objective_gap=objective - th["objective"])
        rows.append(row)
    return rows


def print_penalties(rows):
    print("\nPenalties at r = 0.5, Adam on the exact objective (untied, 2000 steps). theory: orthogonal equal-norm "
          "frame (erf, tanh); relu: the simplex frame (cosines -1/(n-1) = -0.0323)")
    print(f"{'act':>5} {'d':>3} {'gamma':>6} {'l1':>5} {'contr':>5} {'objective':>9} {'theory':>9} {'gap':>9} "
          f"{'risk':>7} {'theory':>7} {'sv(B)':>15} {'|b_i|':>7} {'theory':>7} {'frame sv':>13} {'cosines':>15} "
          f"{'L1/n':>6}")
    for r in rows:
        print(f"{r['activation']:>5} {r['d']:>3} {r['weight_decay']:>6} {r['l1']:>5} {r['contractive']:>5} "
              f"{r['objective']:>9.6f} {r['objective_theory']:>9.6f} {r['objective_gap']:>9.1e} {r['risk']:>7.4f} "
              f"{r['risk_theory']:>7.4f} {r['sv_min']:>7.4f}-{r['sv_max']:<7.4f} {r['row_norm_mean']:>7.4f} "
              f"{r['row_norm_theory']:>7.4f} {r['frame_sv_min']:>6.3f}-{r['frame_sv_max']:<6.3f} "
              f"{r['cosine_min']:>7.4f}:{r['cosine_max']:<7.4f} {r['l1_per_neuron']:>6.3f}")


# ----------------------------------------------------------------------------- denoising
def denoising_rows(quick=False):
    from twolayer.simulations import train
    from twolayer.spectra import eigenvalues
    from twolayer.theory import min_risk
    from twolayer.theory.regularised import denoising_lower_bound, denoising_min_risk

    rows = []
    cells = [(act, d, rate, tau2, 2000) for act, d in (("erf", 64), ("tanh", 32)) for rate in (0.25, 0.5)
             for tau2 in (0.25, 1.0)]
    cells.append(("erf", 64, 0.5, 1.0, 8000))
    if quick:
        cells = cells[:1]
    for act, d, rate, tau2, steps in cells:
        res = train(d, int(rate * d), activation=act, noise=tau2, steps=steps, dtype="float64")
        bound = denoising_lower_bound(rate, tau2)
        mapped = 1 - (1 - min_risk(rate, activation=act)) / (1 + tau2)
        rows.append({"activation": act, "d": d, "rate": rate, "noise": tau2, "steps": steps,
                     "risk": res.metrics["final_risk_denoising"], "infimum": bound, "mapped_noiseless": mapped,
                     "rel_gap": res.metrics["final_risk_denoising"] / bound - 1,
                     "row_norm": float(np.linalg.norm(res.B, axis=1).mean())})
    if quick:
        return rows
    d = 64
    lam = eigenvalues("powerlaw:1", d)
    for rate in (0.25, 0.5):
        for tau2 in (0.25, 1.0):
            res = train(d, int(rate * d), activation="relu", spectrum=lam, noise=tau2, steps=2000, dtype="float64")
            weights = lam**2 / (lam + tau2 * lam.mean())
            alloc = 1 - weights.sum() * (1 - min_risk(rate, activation="relu", spectrum=weights)) / lam.sum()
            rows.append({"activation": "relu", "d": d, "rate": rate, "noise": tau2, "steps": 2000,
                         "spectrum": "powerlaw:1", "risk": res.metrics["final_risk_denoising"],
                         "mapped_noiseless": 1 - (1 - min_risk(rate, activation="relu", spectrum=lam)) / (1 + tau2),
                         "allocation_D": alloc,
                         "pairs_wiener": denoising_min_risk(rate / 2, tau2, activation="linear", spectrum=lam),
                         "lower_bound": denoising_lower_bound(rate, tau2, spectrum=lam),
                         "row_norm": float(np.linalg.norm(res.B, axis=1).mean())})
    return rows


def print_denoising(rows):
    print("\nDenoising minima, population GD (optimal decoder, float64). erf/tanh on N(0, I): the infimum is the "
          "linear Wiener value 1 - r/(1 + tau^2)")
    print(f"{'act':>5} {'d':>3} {'r':>5} {'tau2':>5} {'steps':>5} {'GD risk':>9} {'infimum':>9} {'mapped':>9} "
          f"{'rel gap':>8} {'|b_i|':>7}")
    for r in rows:
        if r["activation"] == "relu":
            continue
        print(f"{r['activation']:>5} {r['d']:>3} {r['rate']:>5} {r['noise']:>5} {r['steps']:>5} {r['risk']:>9.6f} "
              f"{r['infimum']:>9.6f} {r['mapped_noiseless']:>9.6f} {r['rel_gap']:>8.2%} {r['row_norm']:>7.4f}")
    relu = [r for r in rows if r["activation"] == "relu"]
    if relu:
        print("\nrelu, powerlaw:1, d = 64, 2000 steps: GD against the candidates")
        print(f"{'r':>5} {'tau2':>5} {'GD risk':>9} {'mapped':>9} {'alloc D':>9} {'pairs':>9} {'bound':>9}")
        for r in relu:
            print(f"{r['rate']:>5} {r['noise']:>5} {r['risk']:>9.6f} {r['mapped_noiseless']:>9.6f} "
                  f"{r['allocation_D']:>9.6f} {r['pairs_wiener']:>9.6f} {r['lower_bound']:>9.6f}")


def relu_simplex_rows():
    from twolayer.simulations import train
    from twolayer.theory.regularised import denoising_min_risk, relu_simplex_minimum

    rows = []
    for tau2 in (0.0, 0.25, 1.0):
        res = train(64, 32, activation="relu", noise=tau2, steps=2000, dtype="float64")
        risk = res.metrics["final_risk_denoising"] if tau2 else res.metrics["final_risk"]
        U = res.B / np.linalg.norm(res.B, axis=1, keepdims=True)
        cos = U @ U.T - 2 * np.eye(32)
        rows.append({"noise": tau2, "risk": risk, "simplex": relu_simplex_minimum(64, 32, noise=tau2)["risk"],
                     "large_n": float(denoising_min_risk(0.5, tau2, activation="relu")),
                     "cosine_max": float(cos.max()), "cosine_min": float((cos + 4 * np.eye(32)).min())})
    return rows


def print_relu_simplex(rows):
    print("\nrelu on N(0, I), d = 64, n = 32, population GD (optimal decoder, 2000 steps) against the simplex frame "
          "and the n -> infinity value")
    print(f"{'tau2':>5} {'GD risk':>9} {'simplex':>9} {'gap':>9} {'large n':>9} {'cosines':>17}")
    for r in rows:
        print(f"{r['noise']:>5} {r['risk']:>9.6f} {r['simplex']:>9.6f} {r['risk'] - r['simplex']:>9.1e} "
              f"{r['large_n']:>9.6f} {r['cosine_min']:>8.5f}:{r['cosine_max']:<8.5f}")


SECTIONS = {"linear": (linear_rows, print_linear), "sign": (sign_rows, print_sign),
            "penalties": (penalty_rows, print_penalties), "denoising": (denoising_rows, print_denoising),
            "relu_simplex": (relu_simplex_rows, print_relu_simplex)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", nargs="+", choices=sorted(SECTIONS), default=list(SECTIONS))
    parser.add_argument("--json", default=DEFAULT_JSON, help="results file (sections merged into it)")
    parser.add_argument("--print-only", action="store_true", help="print the tables stored in --json")
    args = parser.parse_args(argv)
    stored = {}
    if os.path.exists(args.json):
        with open(args.json) as fh:
            stored = json.load(fh)
    for name in args.sections:
        compute, show = SECTIONS[name]
        if not args.print_only:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                stored[name] = compute()
            with open(args.json, "w") as fh:
                json.dump(stored, fh, indent=1, default=float)
        if name in stored:
            show(stored[name])


if __name__ == "__main__":
    main()
