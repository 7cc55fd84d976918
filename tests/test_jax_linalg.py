"""The two linear-algebra pieces of the JAX risk (twolayer.theory._jax_linalg), against plain
computations: the symmetric vector-Jacobian product of sandwich's K = B Sigma B^T against automatic differentiation of
B Sigma B^T, and psd_solve (Cholesky, LU fallback) against numpy.linalg.solve."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.linalg import cho_factor

from twolayer.theory._jax_linalg import psd_solve, sandwich


@pytest.mark.parametrize("with_cov", [False, True])
def test_gram_vjp_matches_autodiff(with_cov, random_cov):
    """d<W, B Sigma B^T> / dB and / dSigma from the custom VJP equal autodiff of the plain product
    (W not symmetric, so both halves of (H + H^T) are exercised)."""
    rng = np.random.default_rng(0)
    n, d = 7, 5
    B = jnp.asarray(rng.standard_normal((n, d)))
    W = jnp.asarray(rng.standard_normal((n, n)))
    cov = jnp.asarray(random_cov(np.linspace(0.5, 2.0, d), 1)) if with_cov else None
    plain = (lambda b, c: jnp.sum(W * (b @ c @ b.T))) if with_cov else (lambda b, c: jnp.sum(W * (b @ b.T)))
    mine = lambda b, c: jnp.sum(W * sandwich(b, c)[0])
    np.testing.assert_allclose(mine(B, cov), plain(B, cov), rtol=1e-14)
    argnums = (0, 1) if with_cov else 0
    got = jax.grad(mine, argnums=argnums)(B, cov)
    want = jax.grad(plain, argnums=argnums)(B, cov)
    for a, b in zip(*(jax.tree_util.tree_leaves(x) for x in (got, want))):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_sandwich_vjp_with_both_outputs_matches_autodiff(random_cov):
    """A loss of both outputs, <W, B Sigma B^T> + <V, B Sigma>: the custom VJP's dB and dSigma
    equal automatic differentiation of the plain products (Sigma symmetric, as a covariance)."""
    rng = np.random.default_rng(3)
    n, d = 6, 5
    B = jnp.asarray(rng.standard_normal((n, d)))
    W, V = jnp.asarray(rng.standard_normal((n, n))), jnp.asarray(rng.standard_normal((n, d)))
    cov = jnp.asarray(random_cov(np.linspace(0.5, 2.0, d), 4))

    def mine(b, c):
        K, BS = sandwich(b, c)
        return jnp.sum(W * K) + jnp.sum(V * BS)

    plain = lambda b, c: jnp.sum(W * (b @ c @ b.T)) + jnp.sum(V * (b @ c))
    np.testing.assert_allclose(mine(B, cov), plain(B, cov), rtol=1e-14)
    for a, b in zip(jax.grad(mine, argnums=(0, 1))(B, cov), jax.grad(plain, argnums=(0, 1))(B, cov)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    iso = lambda b: jnp.sum(W * sandwich(b)[0]) + jnp.sum(V * sandwich(b)[1])
    np.testing.assert_allclose(jax.grad(iso)(B), jax.grad(lambda b: jnp.sum(W * (b @ b.T)) + jnp.sum(V * b))(B),
                               rtol=1e-12, atol=1e-12)


def test_psd_solve_cholesky_branch():
    """Positive definite M: the Cholesky branch, equal to numpy.linalg.solve."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((30, 30))
    M, R = X @ X.T + 0.1 * np.eye(30), rng.standard_normal((30, 4))
    np.testing.assert_allclose(psd_solve(jnp.asarray(M), jnp.asarray(R)), np.linalg.solve(M, R), rtol=1e-10)


def test_psd_solve_falls_back_to_lu():
    """Symmetric but indefinite M (Cholesky breaks down: NaN factor): the LU branch gives the
    solution, equal to numpy.linalg.solve, instead of NaN."""
    rng = np.random.default_rng(2)
    Q = np.linalg.qr(rng.standard_normal((12, 12)))[0]
    M = Q @ np.diag(np.linspace(-1.0, 2.0, 12) + 0.05) @ Q.T
    R = rng.standard_normal((12, 3))
    assert not np.all(np.isfinite(np.asarray(cho_factor(jnp.asarray(M), lower=True)[0])))
    got = np.asarray(jax.jit(psd_solve)(jnp.asarray(M), jnp.asarray(R)))
    np.testing.assert_allclose(got, np.linalg.solve(M, R), rtol=1e-9, atol=1e-12)


def test_psd_solve_without_fallback_is_nan_where_cholesky_fails():
    """fallback=False: the same solution on a positive definite M (float64 and float32, a
    rectangular right-hand side wider than M, as in the sign step at r < 1), NaN on an
    indefinite one, whose solve the default (fallback=True) gets right by LU."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 40))
    M, R = X @ X.T + 0.5 * np.eye(40), rng.standard_normal((40, 90))
    want = np.linalg.solve(M, R)
    np.testing.assert_allclose(jax.jit(lambda m, r: psd_solve(m, r, False))(M, R), want, rtol=1e-9, atol=1e-12)
    got32 = np.asarray(psd_solve(jnp.asarray(M, jnp.float32), jnp.asarray(R, jnp.float32), False), np.float64)
    assert np.max(np.abs(got32 - want)) < 1e-4 * np.max(np.abs(want))
    Q = np.linalg.qr(rng.standard_normal((12, 12)))[0]
    bad = Q @ np.diag(np.linspace(-1.0, 2.0, 12) + 0.05) @ Q.T
    rhs = rng.standard_normal((12, 3))
    assert np.all(np.isnan(np.asarray(psd_solve(jnp.asarray(bad), jnp.asarray(rhs), False))))
    np.testing.assert_allclose(psd_solve(jnp.asarray(bad), jnp.asarray(rhs)), np.linalg.solve(bad, rhs), rtol=1e-9)
