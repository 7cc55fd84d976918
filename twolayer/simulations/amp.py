r"""Decoding a 1-bit code y = sign(B x) with an AMP-type algorithm (GLM-VAMP), and its unrolled, trainable form.

:func:`vamp_decode` runs GLM-VAMP (Schniter, Rangan and Fletcher 2016) on a batch of codes, in
float64 NumPy: three stages exchange Gaussian messages (mean r, precision g), each turning its
posterior mean and mean posterior variance E into an outgoing message by the "extrinsic" rule

    g_out = 1/E - g_in,     r_out = (x_post / E - g_in r_in) / g_out,

* prior stage: x_post = E[x | r_x^-] (the law's MMSE denoiser at noise 1/g_x^-), E its mean
  posterior variance (Tweedie: sigma^2 times the denoiser's mean slope);
* linear stage: the Gaussian posterior of x with prior N(r_x^+, 1/g_x^+) and observation
  r_z^- = B x + N(0, 1/g_z^-): covariance (g_x^+ I + g_z^- B^T B)^{-1}, applied through the SVD
  of B (rows normalised: sign(Bx) does not see row norms);
* channel stage: z | y ~ N(p, 1/g_z^+) truncated to sign(z) = y (closed form).

Every precision is measured on each item (its own divergences), so the state evolution
(:func:`twolayer.theory.amp.state_evolution`) is a prediction, not an input. Pass t's
estimate x_hat_t is the prior stage's output; pass 1 is the best linear decoder followed by
the scalar denoiser.

:class:`UnrolledDecoder` (``--decoder amp:L``) is the same computation with L passes, in JAX,
but with the precisions fixed per pass instead of measured: 4L scalars (g_x^+, g_z^+, g_z^-,
g_x^- per pass; stored as logs), initialised from the state evolution of the encoder's own
spectrum and then trained by Adam on fresh samples to minimise E||x - x_hat_L||^2 (the encoder
stays fixed). At initialisation it is the algorithm with its predicted precisions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import special

from ..theory.priors import Law

#: the smallest precision a message may carry (a message with less is "nothing known").
_TINY = 1e-12


def _unit_rows(B):
    B = np.asarray(B, dtype=np.float64)
    norms = np.linalg.norm(B, axis=1)
    if B.ndim != 2 or not np.all(norms > 0):
        raise ValueError("B: expected an n x d encoder without zero rows")
    return B / norms[:, None]


def _channel(y, p, gz_plus):
    """Posterior mean and variance of z ~ N(p, 1/g) given sign(z) = y (per item g, shape (N, 1))."""
    sd = 1.0 / np.sqrt(gz_plus)
    u = y * p / sd
    lam = np.exp(-0.5 * u * u - 0.5 * math.log(2 * math.pi) - special.log_ndtr(u))
    var = np.clip(1.0 - u * lam - lam * lam, 1e-12, 1.0) * sd**2
    return p + y * sd * lam, var


@dataclass(frozen=True)
class _Frame:
    """An encoder with unit rows and its thin SVD: B = U diag(s) V^T, V: d x m."""

    B: np.ndarray
    V: np.ndarray
    s2: np.ndarray

    @classmethod
    def of(cls, B):
        B = _unit_rows(B)
        _, s, vt = np.linalg.svd(B, full_matrices=False)
        keep = s > 1e-10 * s.max()
        return cls(B, vt[keep].T, s[keep] ** 2)

    def posterior(self, a, gx, gz):
        """(g_x I + g_z B^T B)^{-1} a per item (rows of a; gx, gz of shape (N, 1)) and its mean traces."""
        d, n = self.B.shape[1], self.B.shape[0]
        Va = a @ self.V
        denom = gx + gz * self.s2  # (N, m)
        x = (a - Va @ self.V.T) / gx + (Va / denom) @ self.V.T
        trace_x = ((d - self.s2.size) / gx[:, 0] + np.sum(1.0 / denom, axis=1)) / d
        trace_z = np.sum(self.s2 / denom, axis=1) / n
        return x, trace_x, trace_z


def vamp_decode(y, B, law: Law, passes: int, *, rotation=None, trace: list | None = None):
    """GLM-VAMP estimates of x from y = sign(B x) after each pass (module docstring).

    Parameters
    ----------
    y : array_like
        Codes, N x n, entries +-1 (sign(0) = +1 by the package's convention).
    B : array_like
        The n x d encoder.
    law : Law
        The law of the i.i.d. coordinates of z, with x = Q z (``rotation`` Q; identity if None).
    passes : int
        Number of passes T >= 1.
    rotation : array_like, optional
        The d x d orthogonal Q of a rotated source (the algorithm runs on z with encoder B Q).
    trace : list, optional
        If given, one row per pass is appended: the median over items of the precisions
        (g_x^+, g_z^+, g_z^-, g_x^-) of that pass (the start of an :class:`UnrolledDecoder`).

    Returns
    -------
    list of ndarray
        T arrays N x d: the estimate of x after passes 1 .. T.

    References
    ----------
    .. [1] P. Schniter, S. Rangan and A. K. Fletcher, "Vector approximate message passing for the
       generalized linear model", Asilomar 2016, arXiv:1612.01186.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> B = np.linalg.qr(rng.standard_normal((64, 32)))[0].T     # 32 orthonormal rows, d = 64
    >>> x = rng.standard_normal((500, 64))
    >>> est = vamp_decode(np.where(x @ B.T >= 0, 1.0, -1.0), B, Law("gaussian"), 2)
    >>> round(float(np.mean((x - est[-1]) ** 2)), 2)     # 1 - 2r/pi = 0.68
    0.68
    """
    if not isinstance(passes, int) or passes < 1:
        raise ValueError(f"passes: expected an integer >= 1, got {passes!r}")
    B = np.asarray(B, dtype=np.float64)
    if rotation is not None:
        B = B @ np.asarray(rotation, dtype=np.float64)
    frame = _Frame.of(B)
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 2 or y.shape[1] != B.shape[0]:
        raise ValueError(f"y: expected N x {B.shape[0]} codes, got shape {y.shape}")
    N, d = y.shape[0], B.shape[1]
    x_post, ex = np.zeros((N, d)), np.ones((N, 1))
    r_minus, gx_minus = np.zeros((N, d)), np.zeros((N, 1))
    rz_minus, gz_minus = np.zeros_like(y), np.zeros((N, 1))
    estimates = []
    for _ in range(passes):
        gx_plus = np.maximum(1.0 / ex - gx_minus, _TINY)  # prior stage -> linear stage
        r_plus = (x_post / ex - gx_minus * r_minus) / gx_plus
        x_lin, _, ez = frame.posterior(gx_plus * r_plus + gz_minus * (rz_minus @ frame.B), gx_plus, gz_minus)
        ez = ez[:, None]
        gz_plus = np.maximum(1.0 / ez - gz_minus, _TINY)  # linear stage -> channel
        p = (x_lin @ frame.B.T / ez - gz_minus * rz_minus) / gz_plus
        z_post, z_var = _channel(y, p, gz_plus)
        ec = z_var.mean(axis=1, keepdims=True)
        gz_minus = np.maximum(1.0 / ec - gz_plus, _TINY)  # channel -> linear stage
        rz_minus = (z_post / ec - gz_plus * p) / gz_minus
        x_lin, el, _ = frame.posterior(gx_plus * r_plus + gz_minus * (rz_minus @ frame.B), gx_plus, gz_minus)
        el = el[:, None]
        gx_minus = np.maximum(1.0 / el - gx_plus, _TINY)  # linear stage -> prior stage
        r_minus = (x_lin / el - gx_plus * r_plus) / gx_minus
        if trace is not None:
            trace.append([float(np.median(g)) for g in (gx_plus, gz_plus, gz_minus, gx_minus)])
        x_post = law.denoise(r_minus, 1.0 / gx_minus)  # per item noise 1/g_x^-, shape (N, 1)
        ex = np.maximum(law.posterior_variance(r_minus, 1.0 / gx_minus).mean(axis=1, keepdims=True), 1e-300)
        estimates.append(x_post if rotation is None else x_post @ np.asarray(rotation, dtype=np.float64).T)
    return estimates


# ----------------------------------------------------------------------------- the unrolled decoder
def _unrolled_estimates(log_prec, y, B, V, s2, law):
    """x_hat after each of the L passes with fixed precisions exp(log_prec) (L x 4), in JAX."""
    import jax.numpy as jnp
    from jax.scipy.special import log_ndtr

    d = B.shape[1]
    prec = jnp.exp(log_prec)

    def posterior(a, gx, gz):
        Va = a @ V
        return (a - Va @ V.T) / gx + (Va / (gx + gz * s2)) @ V.T

    x_post = jnp.zeros((y.shape[0], d), y.dtype)
    r_minus = jnp.zeros_like(x_post)
    rz_minus = jnp.zeros_like(y)
    gx_prev = gz_prev = jnp.zeros((), y.dtype)
    estimates = []
    for gxp, gzp, gzm, gxm in prec:
        r_plus = ((gxp + gx_prev) * x_post - gx_prev * r_minus) / gxp
        x_lin = posterior(gxp * r_plus + gz_prev * (rz_minus @ B), gxp, gz_prev)
        p = ((gzp + gz_prev) * (x_lin @ B.T) - gz_prev * rz_minus) / gzp
        sd = 1.0 / jnp.sqrt(gzp)
        u = y * p / sd
        z_post = p + y * sd * jnp.exp(-0.5 * u * u - 0.5 * math.log(2 * math.pi) - log_ndtr(u))
        rz_minus = ((gzp + gzm) * z_post - gzp * p) / gzm
        x_lin = posterior(gxp * r_plus + gzm * (rz_minus @ B), gxp, gzm)
        r_minus = ((gxp + gxm) * x_lin - gxp * r_plus) / gxm
        x_post = law.denoise_jax(r_minus, 1.0 / gxm)
        gx_prev, gz_prev = gxm, gzm
        estimates.append(x_post)
    return estimates


@lru_cache(maxsize=1)
def _compiled_estimates():
    """:func:`_unrolled_estimates` compiled once per process (shapes and law: XLA's own cache)."""
    import jax

    return jax.jit(_unrolled_estimates, static_argnums=5)


@dataclass(frozen=True)
class UnrolledDecoder:
    """L passes of GLM-VAMP with trainable per-pass precisions (``--decoder amp:L``; module docstring).

    Parameters
    ----------
    law : Law
        The law of z's coordinates (x = Q z).
    B : ndarray
        The n x d encoder (as trained; normalised to unit rows inside).
    rotation : ndarray or None
        Q (None: identity).
    log_precisions : ndarray
        L x 4: log (g_x^+, g_z^+, g_z^-, g_x^-) per pass.
    """

    law: Law
    B: np.ndarray
    rotation: np.ndarray | None
    log_precisions: np.ndarray

    @property
    def layers(self) -> int:
        """L, the number of passes."""
        return self.log_precisions.shape[0]

    def _arrays(self, dtype):
        import jax.numpy as jnp

        B = self.B if self.rotation is None else self.B @ self.rotation
        frame = _Frame.of(B)
        return jnp.asarray(frame.B, dtype), jnp.asarray(frame.V, dtype), jnp.asarray(frame.s2, dtype)

    def decode(self, y, *, every_layer: bool = False):
        """x_hat = the estimate after the last pass (``every_layer``: a list, one per pass), float64.

        Parameters
        ----------
        y : array_like
            Codes, N x n (+-1).
        every_layer : bool
            Return the estimate after every pass (default False: the last only).

        Returns
        -------
        ndarray or list of ndarray
            N x d estimates of x.
        """
        import jax

        with jax.enable_x64(True):
            B, V, s2 = self._arrays("float64")
            est = _compiled_estimates()(jax.numpy.asarray(self.log_precisions), jax.numpy.asarray(y, "float64"), B, V, s2, self.law)
            out = [np.asarray(e) for e in est]
        if self.rotation is not None:
            out = [e @ self.rotation.T for e in out]
        return out if every_layer else out[-1]


def initial_unrolled(law: Law, B, layers: int, *, rotation=None) -> UnrolledDecoder:
    """The unrolled decoder at its start: the state evolution's precisions for this encoder's spectrum.

    Parameters
    ----------
    law : Law
        The law of z's coordinates.
    B : array_like
        The n x d encoder.
    layers : int
        L >= 1 passes.
    rotation : array_like, optional
        Q of a rotated source.

    Returns
    -------
    UnrolledDecoder
        With ``log_precisions`` from :func:`twolayer.theory.amp.state_evolution` (passes 1 .. L; a
        state evolution that converges in fewer passes repeats its last precisions).
    """
    from ..theory.amp import encoder_spectrum, state_evolution

    if not isinstance(layers, int) or layers < 1:
        raise ValueError(f"layers: expected an integer >= 1, got {layers!r}")
    B = np.asarray(B, dtype=np.float64)
    se = state_evolution(law, B.shape[0] / B.shape[1], spectrum=encoder_spectrum(B), passes=layers, tol=0.0)
    prec = se.precisions
    if prec.shape[0] < layers:
        prec = np.concatenate([prec, np.repeat(prec[-1:], layers - prec.shape[0], axis=0)])
    rot = None if rotation is None else np.asarray(rotation, dtype=np.float64)
    return UnrolledDecoder(law, B, rot, np.log(np.clip(np.nan_to_num(prec[:layers], nan=1e12), 1e-12, 1e12)))


def train_unrolled(decoder: UnrolledDecoder, *, steps: int, lr: float = 0.02, batch_size: int = 256,
                   seed=0, data=None) -> tuple[UnrolledDecoder, np.ndarray]:
    """Adam on the 4L log-precisions, minibatches of fresh samples (or of ``data`` rows), loss E||x - x_hat_L||^2 / d.

    Parameters
    ----------
    decoder : UnrolledDecoder
        The start (usually :func:`initial_unrolled`).
    steps : int
        Adam steps (>= 0; 0 returns the start).
    lr : float
        Adam's learning rate on the log-precisions (default 0.02).
    batch_size : int
        Fresh samples per step (default 256).
    seed : int or sequence of int
        Seed of the sample stream (``numpy.random.default_rng(seed)``).
    data : array_like, optional
        N x d training rows of z (in the law's basis): minibatches are drawn from them, with
        replacement, instead of from ``decoder.law``.

    Returns
    -------
    (UnrolledDecoder, ndarray)
        The trained decoder and the loss per step (float64, ``steps`` entries).
    """
    import jax
    import jax.numpy as jnp
    import optax

    law, d = decoder.law, decoder.B.shape[1]
    if steps == 0:
        return decoder, np.zeros(0)
    rng = np.random.default_rng(seed)
    if data is None:
        draw = lambda: law.sample(rng, (batch_size, d))
    else:
        data = np.asarray(data, dtype=np.float64)
        if data.ndim != 2 or data.shape[1] != d:
            raise ValueError(f"data: expected N x {d} rows, got shape {data.shape}")
        draw = lambda: data[rng.integers(0, data.shape[0], batch_size)]
    with jax.enable_x64(True):
        B, V, s2 = decoder._arrays("float64")

        def loss(params, z, B, V, s2):
            y = jnp.where(z @ B.T >= 0, 1.0, -1.0)  # the code in the law's basis (B Q, unit rows)
            return jnp.mean((z - _unrolled_estimates(params, y, B, V, s2, law)[-1]) ** 2)

        opt = optax.adam(lr)

        @jax.jit
        def step(params, state, z, B, V, s2):
            value, grad = jax.value_and_grad(loss)(params, z, B, V, s2)
            updates, state = opt.update(grad, state)
            return optax.apply_updates(params, updates), state, value

        params = jnp.asarray(decoder.log_precisions)
        state = opt.init(params)
        history = np.empty(steps)
        for i in range(steps):
            params, state, value = step(params, state, jnp.asarray(draw()), B, V, s2)
            history[i] = float(value)
        trained = np.asarray(params)
    return UnrolledDecoder(law, decoder.B, decoder.rotation, trained), history
