r"""Training objectives and the gradient estimator for sign.

Objectives are d R = E||x - x_hat||^2 / v (v = tr(Sigma)/d; training sees the standardised
source, v = 1, see :mod:`.sources`), so that one learning rate serves every d and scale.

**Population** (Gaussian source, exact): d R(A, B) from :func:`twolayer.theory.risk_jax`
("untied", "tied"), or d R(B) with the optimal decoder from
:func:`twolayer.theory.optimal_decoder_risk_jax` ("optimal-decoder"). For homogeneous
activations (sign, relu, linear) R(B) is invariant to positive row scalings of B, so B is
row-normalised inside the objective: the gradient is the same vector (the raw gradient is
already orthogonal to each row), and the kernel matrix M keeps an O(1) diagonal, which
keeps its solve well conditioned in float32.

**Samples, sign: Gaussian smoothing.** sign' = 0 almost everywhere, so autodiff of the
sample loss gives no signal in B. We train instead the smoothed network

    sigma_tau(z_i) = E_eps sign(z_i + tau s_i eps) = erf(z_i / (sqrt(2) tau s_i)),  eps ~ N(0, 1),

with s_i the root-mean-square of z_i = b_i . x over the minibatch (the pre-activation
scale, so the smoothing is invariant to rescaling a row of B and adapts to any source).
This is sound because (i) the smoothed loss is a smooth function of (A, B) and its gradient
is computed *exactly* by autodiff (no surrogate derivative is substituted anywhere);
(ii) the smoothed code is the conditional mean of a randomly perturbed sign code, so
sigma_tau -> sign pointwise (z != 0) as tau -> 0 and the smoothed risk converges to the
sign network's risk (dominated convergence; {z_i = 0} has probability 0);
(iii) tau is annealed geometrically, tau_t = tau_0 (tau_1/tau_0)^(t/(T-1)), from
tau_0 = 0.5 (wide: every sample carries gradient) to tau_1 = 0.01 (the trained B is then
the B of an almost-sign network). The decoder is refitted at the end (see
:func:`twolayer.simulations.training.train`) for the exact sign code.

**Samples, other activations**: plain autodiff of the minibatch loss.

**Population on a structured source** (Bernoulli-Gaussian): :func:`support_loss`, the exact
Gaussian risk given the support, averaged over a few fresh supports per step.
"""

from __future__ import annotations

import math

from ..theory import optimal_decoder_risk_jax, risk_jax
from . import fast_normal
from .model import decoder, normalise_rows
from .sources import draw_batch

#: (tau_0, tau_1): the smoothing width of sign, relative to the pre-activation scale,
#: annealed geometrically from tau_0 at the first step to tau_1 at the last.
SIGN_SMOOTHING = (0.5, 0.01)


def smoothing_width(step, steps: int, smoothing=SIGN_SMOOTHING):
    """tau_t = tau_0 (tau_1 / tau_0)^(t / (T - 1)) (JAX; constant tau_0 when T = 1).

    Parameters
    ----------
    step : int or jax.Array
        Step t (0-based); clipped to [0, T - 1].
    steps : int
        Number of steps T.
    smoothing : tuple of float, optional
        (tau_0, tau_1), both > 0 (default :data:`SIGN_SMOOTHING`).

    Returns
    -------
    jax.Array
        Scalar tau_t.

    Examples
    --------
    >>> float(smoothing_width(0, 100)), round(float(smoothing_width(99, 100)), 6)
    (0.5, 0.01)
    """
    import jax.numpy as jnp

    tau0, tau1 = smoothing
    frac = jnp.clip(step / max(steps - 1, 1), 0.0, 1.0)
    return tau0 * jnp.exp(frac * math.log(tau1 / tau0))


def smoothed_sign(z, tau):
    """erf(z / (sqrt(2) tau s)) = E_eps sign(z + tau s eps), s = batch RMS of each column of z.

    Parameters
    ----------
    z : jax.Array
        batch x n pre-activations (floating dtype).
    tau : float or jax.Array
        Relative smoothing width, > 0.

    Returns
    -------
    jax.Array
        batch x n smoothed codes in (-1, 1).
    """
    import jax.numpy as jnp
    import jax.scipy.special as jsp

    s = jnp.sqrt(jnp.mean(z * z, axis=0, keepdims=True) + jnp.finfo(z.dtype).tiny)
    return jsp.erf(z / (math.sqrt(2.0) * tau * s))


def population_loss(act, parametrization: str, jitter: float, noise: float = 0.0, fallback: bool = True):
    """loss(params, step, key, consts) = d R (exact) for the parametrisation (``step``, ``key`` unused).

    With ``noise`` = tau^2 > 0, R is the denoising risk E||x - A sigma(B(x + tau eps))||^2 / tr Sigma
    (exact: :mod:`twolayer.theory.risk`).

    Parameters
    ----------
    act : Activation
        An :class:`~twolayer.activations.Activation` instance.
    parametrization : str
        ``"untied"``, ``"tied"`` or ``"optimal-decoder"``.
    jitter : float
        Diagonal regularisation of M for ``"optimal-decoder"``.
    noise : float, optional
        Input-noise variance tau^2 (default 0).
    fallback : bool, optional
        For ``"optimal-decoder"``: solve by LU where Cholesky fails (default True); False: NaN
        there (``train`` reruns the chunk with True).

    Returns
    -------
    callable
        ``loss(params, step, key, consts)``, a JAX scalar; ``consts`` may hold ``"cov"``.
    """

    def loss(params, step, key, consts):
        B, cov = params["B"], consts.get("cov")
        d = B.shape[1]
        if parametrization == "optimal-decoder":
            B_eff = normalise_rows(B, _jnp()) if act.homogeneous else B
            return d * optimal_decoder_risk_jax(B_eff, activation=act, cov=cov, jitter=jitter, noise=noise,
                                                fallback=fallback)
        return d * risk_jax(B, decoder(params), activation=act, cov=cov, noise=noise, skip=params.get("b"))

    return loss


#: supports drawn per step by :func:`support_loss`.
SUPPORTS_PER_STEP = 4


def support_loss(act, law, supports: int = SUPPORTS_PER_STEP):
    r"""loss(params, step, key, consts) = d R on ``supports`` fresh supports of a Bernoulli-Gaussian law.

    The population-style objective of a structured source whose coordinates are Gaussian given
    their support (:mod:`twolayer.theory.structured`): for each support S drawn at this step,
    the exact Gaussian error with Sigma_S = diag(1_S) / P, averaged (an unbiased,
    Rao-Blackwellised estimate of d R; the sign is exact, no smoothing). With ``consts["rotation"]``
    = Q the source is x = Q z: R(A, B; Qz) = R(Q^T A, B Q; z). A neuron whose row misses S would
    have K_ii = 0; a jitter of 1e-9 mean(K_ii) + 1e-30 on the diagonal keeps such a neuron finite (it then
    counts as a random sign, not sign(0) = +1: a training approximation, not used in scoring).

    Parameters
    ----------
    act : Activation
        An :class:`~twolayer.activations.Activation` instance.
    law : Law
        A law with ``is_gaussian_mixture`` (Gaussian or Bernoulli-Gaussian).
    supports : int, optional
        Supports per step (default :data:`SUPPORTS_PER_STEP`).

    Returns
    -------
    callable
        ``loss(params, step, key, consts)``, a JAX scalar.
    """
    import jax

    jnp = _jnp()
    p = law.p if law.name == "bernoulli-gaussian" else 1.0

    def one(B, A, k):
        d = B.shape[1]
        w = jax.random.bernoulli(k, p, (d,)).astype(B.dtype) / p
        BS = B * w[None, :]
        K = BS @ B.T
        diag = jnp.diagonal(K)
        K = K + (1e-9 * jnp.mean(diag) + 1e-30) * jnp.eye(K.shape[0], dtype=K.dtype)  # an empty support: K = 0
        C = BS.T * act.code_coefficient(jnp.diagonal(K), jnp)[None, :]
        M = act.kernel_matrix(K, jnp)
        return jnp.sum(w) - 2.0 * jnp.sum(A * C) + jnp.sum((A @ M) * A)

    def loss(params, step, key, consts):
        B, A = params["B"], decoder(params, jnp)
        Q = consts.get("rotation")
        if Q is not None:
            B, A = B @ Q, Q.T @ A
        keys = jax.random.split(jax.random.fold_in(key, step), supports)
        return jnp.mean(jax.vmap(lambda k: one(B, A, k))(keys))

    return loss


def sample_loss(act, *, d: int, batch_size: int, steps: int, dtype, smoothing=SIGN_SMOOTHING, law=None, noise=0.0,
                l1=0.0, contractive=0.0):
    """loss(params, step, key, consts) = mean_batch ||x - A sigma(B(x + tau eps))||^2 on minibatch ``step`` (v = 1).

    tau^2 = ``noise`` (default 0: the plain autoencoder); eps is drawn from a key of its own. With a
    penalty weight (``l1``, ``contractive``) the loss returns the pair (objective, risk part): the
    objective adds l1 mean_batch sum_i |sigma(z_i)| + contractive mean_batch sum_i sigma'(z_i)^2 ||b_i||^2.

    sign is replaced by :func:`smoothed_sign` with the annealed width of step ``step``.

    Parameters
    ----------
    act : Activation
        An :class:`~twolayer.activations.Activation` instance.
    d : int
        Input dimension.
    batch_size : int
        Samples per minibatch.
    steps : int
        Number of training steps T (for the annealing of tau).
    dtype : dtype
        Floating dtype of the Gaussian samples.
    smoothing : tuple of float, optional
        (tau_0, tau_1) for sign (default :data:`SIGN_SMOOTHING`).
    law : Law, optional
        A structured law of :mod:`twolayer.theory.priors` to draw the samples from (static).
    noise : float, optional
        Input-noise variance tau^2 (default 0).
    l1, contractive : float, optional
        Penalty weights (default 0: no penalty, a scalar loss).

    Returns
    -------
    callable
        ``loss(params, step, key, consts)``, a JAX scalar (a pair with a penalty); ``consts`` as in
        :func:`~twolayer.simulations.sources.draw_batch`.
    """
    import jax

    jnp = _jnp()
    smooth = act.name == "sign"

    def loss(params, step, key, consts):
        x = draw_batch(key, step, batch_size, d, consts, dtype, law)
        x_in = x
        if noise:
            eps = fast_normal.normal(jax.random.fold_in(jax.random.fold_in(key, 2**31 - 1), step), x.shape, x.dtype)
            x_in = x + math.sqrt(noise) * eps
        z = x_in @ params["B"].T
        code = smoothed_sign(z, smoothing_width(step, steps, smoothing)) if smooth else act(z, jnp)
        err = x - code @ decoder(params, jnp).T
        if "b" in params:  # the skip connection x_hat = b x~ + A sigma(B x~)
            err = err - params["b"] * x_in
        risk = jnp.mean(jnp.sum(err * err, axis=1))
        if not (l1 or contractive):
            return risk
        penalty = 0.0
        if l1:
            penalty = penalty + l1 * jnp.mean(jnp.sum(jnp.abs(code), axis=1))
        if contractive:
            norms = jnp.sum(params["B"] ** 2, axis=1)
            penalty = penalty + contractive * jnp.mean(jnp.sum(act.derivative(z, jnp) ** 2 * norms, axis=1))
        return risk + penalty, risk

    return loss


def _jnp():
    import jax.numpy as jnp

    return jnp
