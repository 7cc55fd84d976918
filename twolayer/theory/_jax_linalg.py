r"""Two dense linear-algebra pieces of the JAX risk, written for speed (shared by :mod:`.risk`
and :mod:`.sign_risk`).

* :func:`sandwich` -- K = B Sigma B^T (and B Sigma) with the symmetric
  vector-Jacobian product dB = (H + H^T) B Sigma: one matrix product in the backward pass
  where plain autodiff of ``B @ B.T`` makes two.
* :func:`psd_solve` -- X = M^{-1} R for a symmetric positive definite M: a Cholesky
  factorisation (n^3/3 flops, no pivoting) and two triangular solves, laid out so that XLA
  copies nothing to and from LAPACK's column-major order; if the factorisation breaks down
  (M numerically singular or indefinite, e.g. duplicate neurons or a linear code with n > d),
  an LU solve instead (``jax.lax.cond``: the LU branch runs only then), or NaN when asked
  (``fallback=False``, for a caller that falls back itself, off the hot path).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


@jax.custom_vjp
def sandwich(B, cov=None):
    """(K, B Sigma) with K = B Sigma B^T (``cov=None``: Sigma = I; Sigma symmetric).

    Backward pass, cotangents (H, D) of (K, B Sigma): dB = (H + H^T) B Sigma + D Sigma and
    dSigma = B^T (H B + D) -- one product for K where autodiff of ``B @ cov @ B.T`` makes
    two, and B Sigma computed once for both outputs.

    Parameters
    ----------
    B : jax.Array
        n x d matrix.
    cov : jax.Array, optional
        Symmetric d x d matrix Sigma; None (default) is Sigma = I.

    Returns
    -------
    K : jax.Array
        n x n matrix B Sigma B^T.
    BS : jax.Array
        n x d matrix B Sigma (``B`` itself when ``cov`` is None).
    """
    return _sandwich_fwd(B, cov)[0]


def _sandwich_fwd(B, cov):
    BS = B if cov is None else B @ cov
    return (BS @ B.T, BS), (B, BS, cov)


def _sandwich_bwd(res, cotangents):
    B, BS, cov = res
    H, D = cotangents
    if cov is None:
        return (H + H.T) @ BS + D, None
    dcov = B.T @ (H @ B + D)  # dead code (removed by XLA) unless cov is differentiated
    return (H + H.T) @ BS + D @ cov, dcov


sandwich.defvjp(_sandwich_fwd, _sandwich_bwd)


def psd_solve(M, R, fallback=True):
    """M^{-1} R for symmetric positive (semi)definite M: Cholesky, or LU where Cholesky fails.

    Computed as (R^T L^{-T} L^{-1})^T with M = L L^T: two right-side triangular solves on R^T,
    which in XLA's row-major layout is the column-major array LAPACK works on, so that neither
    R nor the solution is transposed in memory (the left-side solve on R costs two n x k
    layout copies). The LU branch is a ``jax.lax.cond`` that runs only if the factorisation
    broke down; ``fallback=False`` leaves it out of the compiled graph (the conditional costs
    about 5-10 % of a sign step at n = 1024) and returns NaN where Cholesky fails.

    Parameters
    ----------
    M : jax.Array
        n x n symmetric matrix.
    R : jax.Array
        n x k right-hand side.
    fallback : bool, optional
        Solve by LU where Cholesky fails (default True); False: NaN there.

    Returns
    -------
    jax.Array
        n x k solution X of M X = R.
    """
    L = jax.lax.linalg.cholesky(M.T, symmetrize_input=False)  # M symmetric: M^T is M, already column-major
    Z = jax.lax.linalg.triangular_solve(L, R.T, left_side=False, lower=True, transpose_a=True)  # Z L^T = R^T
    X = jax.lax.linalg.triangular_solve(L, Z, left_side=False, lower=True).T  # X^T L = Z
    if not fallback:
        return X
    ok = jnp.all(jnp.isfinite(jnp.diagonal(L)))
    return jax.lax.cond(ok, lambda: X, lambda: jnp.linalg.solve(M, R))
