"""Spiked spectra, attempt 6 of theory/spiked.md: an exact top-K head for n_b neurons, the one-spike tail for the rest.

    python benchmarks/spiked_head.py --cells powerlaw:2 --rates 0.25 --heads 8 16 --nb-grid 9
    python benchmarks/spiked_head.py --cells powerlaw:2 --rates 1 --heads 16 --nb 80

Exploratory (not a package prediction; see theory/spiked.md, "Extensions tried", item 6). The
encoder, in whitened coordinates (unit rows, covariance diag(σ), σ descending):

* n_b *head* neurons u_j ∈ span(e₁ … e_K), |u_j| = 1 (exact arcsin kernel among them);
* n_a = n − n_b *one-spike* neurons √ρ e₁ + √(1−ρ) v_i with v_i on the directions beyond K,
  Σ_i v_i = 0, VᵀV = diag(m): the structure of :mod:`twolayer.theory.spiked`, kept to first order in
  the tail overlaps (kernel a 11ᵀ + e I + h(1−ρ) VVᵀ; a = arcsin ρ, h = (1−ρ²)^(-1/2),
  e = π/2 − a − √((1−ρ)/(1+ρ))).

The cross overlaps are exactly √ρ u_j1, the same for every one-spike neuron, so (derived) the tail
decouples as in the one-spike model and

    R · tr Σ = Σ_{k≤K} σ_k − tr(K_H⁻¹ M_H) + (1 − 1/h) Σ_{k>K} σ_k + (1/h) min_m Σ_{k>K} σ_k c_b/(m_k + c_b),

with the (1 + n_b)-dimensional exact system of the one-spike neurons' sum s = 1/√n_a and the head
neurons: K_ss = n_a a + e, K_sj = √n_a arcsin(√ρ u_j1), K_jl = arcsin(u_j·u_l) (π/2 on the
diagonal); M_ss = n_a ρ σ₁, M_sj = √(n_a ρ) σ₁ u_j1, M_jl = u_jᵀ diag(σ_≤K) u_l. K = 1, n_b = 0 is
:func:`twolayer.theory.spiked.spiked_min_risk` (checked by ``--check``); n_b = n is the exact risk
restricted to the top K directions (an upper bound on the optimum). Minimised over logit ρ and U by
scipy's L-BFGS-B (JAX gradients, float64) from random starts. Errors are against the lower of the
stored references (results-spiked.json, results-spiked-multistart.json). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from spiked import DEFAULT_JSON, MULTISTART_JSON, RATES, SPECTRA, load, stored_rows  # noqa: E402


def _tail_waterfill(sigma_t: np.ndarray, n_a: int):
    """(S², Σ√σ, tail sums, √σ) of the O(d) water-filling scan over the tail (at most n_a − 1 active)."""
    pmax = max(0, n_a - 1)
    sb = sigma_t[: min(pmax, sigma_t.size)]
    roots = np.sqrt(sb)
    cums = np.cumsum(roots)
    rest = np.clip(sigma_t.sum() - np.cumsum(sb), 0.0, None)
    return cums**2, cums, rest, roots


def make_risk(sigma: np.ndarray, n: int, n_b: int, head: int):
    """jit(value_and_grad) of the model risk as a function of x = (logit ρ, U.ravel())."""
    import jax
    import jax.numpy as jnp

    n_a = n - n_b
    if n_a == 1:
        raise ValueError("n_a = n - n_b must be 0 or >= 2 (one one-spike neuron has no tail to sum to zero)")
    trace = float(sigma.sum())
    s1 = float(sigma[0])
    sigma_h = jnp.asarray(sigma[:head])
    sigma_t = sigma[head:]
    S2, S, rest, roots = _tail_waterfill(sigma_t, n_a)
    p = np.arange(1, S.size + 1, dtype=np.float64)
    eye = jnp.eye(n_b)

    def risk(x):
        U = x[1:].reshape(n_b, head)
        U = U / jnp.linalg.norm(U, axis=1, keepdims=True)
        K_b = jnp.arcsin(jnp.clip(U @ U.T, -1.0 + 1e-15, 1.0 - 1e-15)) * (1 - eye) + (math.pi / 2) * eye
        M_b = (U * sigma_h) @ U.T
        if n_a >= 2:
            rho = jax.nn.sigmoid(x[0])
            a = jnp.arcsin(rho)
            t = jnp.sqrt((1 - rho) / (1 + rho))
            h = 1 / jnp.sqrt(1 - rho**2)
            e = math.pi / 2 - a - t
            cb = e / t
            if S.size:
                F = cb * S2 / (n_a + p * cb) + rest
                F = jnp.min(jnp.where((n_a + p * cb) * roots >= cb * S * (1 - 1e-12), F, jnp.inf))
            else:
                F = sigma_t.sum()
            tail = (1 - 1 / h) * sigma_t.sum() + F / h
            k_s = jnp.sqrt(n_a) * jnp.arcsin(jnp.sqrt(rho) * U[:, 0])
            m_s = jnp.sqrt(n_a * rho) * s1 * U[:, 0]
            K_h = jnp.reshape(n_a * a + e, (1, 1))
            M_h = jnp.reshape(n_a * rho * s1, (1, 1))
            if n_b:
                K_h = jnp.block([[K_h, k_s[None, :]], [k_s[:, None], K_b]])
                M_h = jnp.block([[M_h, m_s[None, :]], [m_s[:, None], M_b]])
        else:
            tail, K_h, M_h = sigma_t.sum(), K_b, M_b
        L = jnp.linalg.cholesky(K_h + 1e-12 * jnp.eye(K_h.shape[0]))
        explained = jnp.trace(jax.scipy.linalg.cho_solve((L, True), M_h))
        return (float(sigma[:head].sum()) - explained + tail) / trace

    return jax.jit(jax.value_and_grad(risk))


def model_risk(sigma: np.ndarray, n: int, n_b: int, head: int, *, starts: int = 1, seed: int = 0,
               maxiter: int = 5000) -> dict:
    """Minimum of the model risk over ρ and U from ``starts`` random starts (L-BFGS-B)."""
    import jax.numpy as jnp
    import scipy.optimize

    value_and_grad = make_risk(sigma, n, n_b, head)

    def fun(x):
        value, grad = value_and_grad(jnp.asarray(x))
        return float(value), np.asarray(grad, dtype=np.float64)

    best = {"risk": np.inf}
    for k in range(starts):
        rng = np.random.default_rng(seed + k)
        x0 = np.concatenate([[rng.uniform(-2.0, 0.0)], rng.standard_normal(n_b * head)])
        res = scipy.optimize.minimize(fun, x0, jac=True, method="L-BFGS-B",
                                      options={"maxiter": maxiter, "maxfun": 3 * maxiter, "ftol": 1e-14,
                                               "gtol": 1e-10, "maxcor": 30})
        if np.isfinite(res.fun) and res.fun < best["risk"]:
            best = {"risk": float(res.fun), "iterations": int(res.nit), "converged": bool(res.success)}
    return best


def references() -> dict:
    """The lower stored reference optimum per (spectrum, rate)."""
    refs = {k: r["reference"]["risk"] for k, r in stored_rows(DEFAULT_JSON).items()}
    for k, r in stored_rows(MULTISTART_JSON).items():
        refs[k] = min(refs.get(k, np.inf), r["risk"])
    return refs


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", nargs="*", default=list(SPECTRA), choices=list(SPECTRA))
    parser.add_argument("--rates", nargs="*", type=float, default=list(RATES))
    parser.add_argument("--heads", nargs="*", type=int, default=[4, 8, 16], help="head sizes K (default 4 8 16)")
    parser.add_argument("--nb-grid", type=int, default=9, help="n_b on this many equispaced points of [0, n]")
    parser.add_argument("--nb", nargs="*", type=int, default=None, help="explicit n_b values (overrides --nb-grid)")
    parser.add_argument("--starts", type=int, default=1)
    parser.add_argument("--maxiter", type=int, default=5000)
    parser.add_argument("--check", action="store_true", help="K = 1, n_b = 0 against spiked_min_risk only")
    args = parser.parse_args(argv)
    import jax

    jax.config.update("jax_enable_x64", True)  # this script only
    from twolayer.config import code_size
    from twolayer.theory.spiked import spiked_min_risk

    refs = references()
    for spec in args.cells:
        sigma = load(spec)
        for r in args.rates:
            n = code_size(r, sigma.size)
            one_spike = spiked_min_risk(n / sigma.size, sigma)
            if args.check:
                got = model_risk(sigma, n, 0, 1, starts=3)["risk"]
                print(f"{spec} r={r} n={n}: K=1, n_b=0 {got:.12f}  spiked_min_risk {one_spike:.12f}", flush=True)
                continue
            ref = refs.get((spec, r), np.nan)
            print(f"{spec} r={r} n={n} reference {ref:.5f}  one-spike {one_spike / ref - 1:+.2%}", flush=True)
            grid = args.nb or sorted({int(round(f * n)) for f in np.linspace(0, 1, args.nb_grid)})
            for head in args.heads:
                for n_b in grid:
                    if n - n_b == 1:
                        continue
                    start = time.perf_counter()
                    res = model_risk(sigma, n, n_b, head, starts=args.starts, maxiter=args.maxiter)
                    print(f"  K={head:<3} n_b={n_b:<4} {res['risk']:.5f} {res['risk'] / ref - 1:+7.2%}  "
                          f"{res['iterations']} it{'' if res['converged'] else ' (not converged)'}  "
                          f"{time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
