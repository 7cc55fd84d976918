r"""A prior learned from data: an independent Gaussian scale mixture per coordinate.

For data sets there is no law to denoise with. :func:`fit_scale_mixture` fits, to the
coordinates u_i of training rows (in a chosen orthonormal basis), the model

    u_i ~ sum_k w_ik N(0, v_ik),     v_ik = lambda_i c_k,

independently across i, with lambda_i = mean u_i^2 and a fixed grid of relative scales c_k
(log-spaced); only the weights w_ik are fitted, by EM (the grid form of the nonparametric
maximum-likelihood estimate of a scale mixture: the log-likelihood is concave in the weights,
so EM converges to the global maximum on the grid). The likelihood sees u_i^2 only, so the
rows are first binned in log u_i^2 (``BINS`` bins, each at its mean u^2): EM then costs
d x BINS x K per step whatever the number of rows (the binning changes u^2 by at most a
factor of (max/min)^(1/BINS), 4 % for 10 decades). Scale mixtures are symmetric and
unimodal, which is what the projections of centred image data look like (heavy-tailed,
peaked at 0), and their posterior under Gaussian noise is closed form: for y = u + sqrt(s2) w,

    p(k | y) ∝ w_k N(y; 0, v_k + s2),   E[u | y] = sum_k p(k | y) g_k y,
    E[u^2 | y] = sum_k p(k | y) (g_k s2 + g_k^2 y^2),   g_k = v_k / (v_k + s2).

:class:`ScaleMixturePrior` offers the interface the decoders of the 1-bit code use
(:func:`twolayer.simulations.amp.vamp_decode`, :class:`~twolayer.simulations.amp.UnrolledDecoder`):
``denoise``, ``posterior_variance`` (exact here, not by Tweedie differences), ``denoise_jax``
and ``sample``. Status: a model, not a theorem -- the coordinates of real data are neither
independent nor exactly scale mixtures; the decoders built on it are measured, not predicted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: relative scales c_k of the default grid: 1e-3 .. 30, log-spaced.
DEFAULT_SCALES = np.geomspace(1e-3, 30.0, 16)
#: most rows the EM fit reads (a seeded random subset beyond that).
FIT_ROWS = 200_000
#: bins of log u^2 per coordinate the EM fit runs on (each bin at the mean u^2 of its rows).
BINS = 512


def _binned_squares(Q, bins: int):
    """Per column of Q >= 0 (N x d): the mean value and the count of each non-empty bin of log Q (d x bins)."""
    logq = np.log(np.maximum(Q, 1e-300))
    lo, hi = logq.min(axis=0), logq.max(axis=0)
    index = np.minimum(((logq - lo) / np.maximum(hi - lo, 1e-12) * bins).astype(np.int64), bins - 1)
    d = Q.shape[1]
    flat = index + bins * np.arange(d)[None, :]
    counts = np.bincount(flat.ravel(), minlength=bins * d).reshape(d, bins).astype(np.float64)
    sums = np.bincount(flat.ravel(), weights=Q.ravel(), minlength=bins * d).reshape(d, bins)
    return np.where(counts > 0, sums / np.maximum(counts, 1.0), 1.0), counts


def _posterior_moments(xp, y, s2, weights, variances):
    """E[u | y] and E[u^2 | y] for the per-coordinate mixtures (y: ... x d; s2 broadcastable to y)."""
    y = y[..., None]
    s2 = xp.broadcast_to(xp.asarray(s2), y.shape[:-1])[..., None]
    total = variances + s2
    logs = xp.log(weights) - 0.5 * xp.log(total) - 0.5 * y * y / total
    resp = xp.exp(logs - logs.max(axis=-1, keepdims=True))
    resp = resp / resp.sum(axis=-1, keepdims=True)
    gain = variances / total
    mean = xp.sum(resp * gain, axis=-1) * y[..., 0]
    second = xp.sum(resp * (gain * s2 + gain * gain * y * y), axis=-1)
    return mean, second


@dataclass(frozen=True, eq=False)
class ScaleMixturePrior:
    """Independent coordinates u_i ~ sum_k w_ik N(0, v_ik) (module docstring).

    Parameters
    ----------
    weights : ndarray
        d x K mixture weights, each row summing to 1 (zero weights allowed).
    variances : ndarray
        d x K component variances, > 0.

    Hashed by identity (it is a static argument of compiled decoders).
    """

    weights: np.ndarray
    variances: np.ndarray

    @property
    def dim(self) -> int:
        """d, the number of coordinates."""
        return self.weights.shape[0]

    def variance(self) -> np.ndarray:
        """E u_i^2 = sum_k w_ik v_ik, per coordinate."""
        return np.sum(self.weights * self.variances, axis=1)

    def _floored(self, xp):
        return xp.maximum(xp.asarray(self.weights), 1e-300), xp.asarray(self.variances)

    def denoise(self, y, s2) -> np.ndarray:
        """E[u | y] for y = u + sqrt(s2) w, coordinate-wise (y: N x d; s2 scalar, per coordinate or per row)."""
        w, v = self._floored(np)
        return _posterior_moments(np, np.asarray(y, dtype=np.float64), s2, w, v)[0]

    def posterior_variance(self, y, s2) -> np.ndarray:
        """Var[u | y] = E[u^2 | y] - E[u | y]^2 (closed form), the shape of ``y``."""
        w, v = self._floored(np)
        mean, second = _posterior_moments(np, np.asarray(y, dtype=np.float64), s2, w, v)
        return np.maximum(second - mean * mean, 0.0)

    def denoise_jax(self, y, s2):
        """:meth:`denoise` in JAX (differentiable in y and s2)."""
        import jax.numpy as jnp

        w, v = self._floored(jnp)
        return _posterior_moments(jnp, y, s2, w.astype(y.dtype), v.astype(y.dtype))[0]

    def sample(self, rng: np.random.Generator, shape) -> np.ndarray:
        """Rows drawn from the prior: ``shape`` = (N, d)."""
        count, d = shape
        if d != self.dim:
            raise ValueError(f"shape: expected (N, {self.dim}), got {shape}")
        cum = np.cumsum(self.weights, axis=1)
        k = (rng.random((count, d, 1)) > cum[None] * (1 - 1e-12)).sum(axis=2)
        k = np.minimum(k, self.weights.shape[1] - 1)
        return rng.standard_normal((count, d)) * np.sqrt(self.variances[np.arange(d), k])


def fit_scale_mixture(U, *, scales=None, iterations: int = 300, tol: float = 1e-7, seed=0,
                      max_rows: int = FIT_ROWS) -> ScaleMixturePrior:
    r"""Fit u_i ~ sum_k w_ik N(0, lambda_i c_k) to the rows of ``U`` by EM on the weights (module docstring).

    The component likelihoods do not depend on the weights, so they are computed once (on the
    binned u^2); each EM step is then w_k <- mean_rows p(k | u) with p(k | u) ∝ w_k N(u; 0, v_k). It stops when no
    weight moves by more than ``tol`` or after ``iterations`` steps.

    Parameters
    ----------
    U : array_like
        N x d training coordinates (N >= 2; columns not all zero).
    scales : array_like, optional
        The grid c_k > 0 (default :data:`DEFAULT_SCALES`).
    iterations : int
        Most EM steps (default 300).
    tol : float
        Stop when the largest change of a weight is below this (default 1e-7).
    seed : int or sequence of int
        Seed of the row subset when N > ``max_rows``.
    max_rows : int
        Most rows used (default :data:`FIT_ROWS`).

    Returns
    -------
    ScaleMixturePrior

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> U = rng.standard_normal((4000, 2)) * np.where(rng.random((4000, 2)) < 0.2, 3.0, 0.3)
    >>> prior = fit_scale_mixture(U)
    >>> bool(np.allclose(prior.variance(), np.mean(U**2, axis=0), rtol=0.02))   # second moments kept
    True
    """
    U = np.asarray(U, dtype=np.float64)
    if U.ndim != 2 or U.shape[0] < 2 or not np.all(np.isfinite(U)):
        raise ValueError(f"U: expected a finite N x d array with N >= 2, got shape {U.shape}")
    scales = DEFAULT_SCALES if scales is None else np.asarray(scales, dtype=np.float64)
    if scales.ndim != 1 or scales.size < 1 or not np.all(scales > 0):
        raise ValueError("scales: expected a 1-D array of positive relative variances")
    if U.shape[0] > max_rows:
        U = U[np.random.default_rng(seed).choice(U.shape[0], max_rows, replace=False)]
    lam = np.mean(U * U, axis=0)
    lam = np.where(lam > 0, lam, max(float(lam.max()), 1.0) * 1e-12)
    variances = lam[:, None] * scales[None, :]  # d x K
    sq, counts = _binned_squares(U * U / lam, BINS)  # the likelihood sees u^2 only: EM on B bins, not N rows
    sq = sq * lam[:, None]
    logs = -0.5 * np.log(variances)[:, None, :] - 0.5 * sq[..., None] / variances[:, None, :]  # d x B x K
    like = np.exp(logs - logs.max(axis=2, keepdims=True))
    share = counts / counts.sum(axis=1, keepdims=True)  # d x B
    weights = np.full(variances.shape, 1.0 / scales.size)
    for _ in range(iterations):
        resp = like * weights[:, None, :]
        resp /= resp.sum(axis=2, keepdims=True)
        new = np.einsum("db,dbk->dk", share, resp)
        done = np.max(np.abs(new - weights)) < tol
        weights = new
        if done:
            break
    return ScaleMixturePrior(weights, variances)
