r"""Minimal risks of regularised autoencoders: the denoising autoencoder (input x + tau eps, target x).

``noise`` = tau^2 is relative to the mean eigenvalue v = tr(Sigma)/d of the source (the unit of
``twolayer train --noise``); in the source's own units the noise variance is tau^2 v.

**Homogeneous codes (sign, relu, linear), isotropic (proved, given the noiseless minimum).** For
Sigma = I, K~ = (1 + tau^2) K; a code of degree k (sign 0, relu and linear 1) scales M by
(1 + tau^2)^k and C by (1 + tau^2)^{(k-1)/2}, so tr(C M^{-1} C^T) shrinks by 1 + tau^2 and for *every* B,
R_tau(B) = 1 - (1 - R_0(B)) / (1 + tau^2) (:mod:`twolayer.theory.risk`). The minimiser is the
noiseless one and

    min R_tau = 1 - (1 - min R_0(r)) / (1 + tau^2),

with the status of min R_0 (:func:`twolayer.theory.min_risk`): the theorem for sign (exact at every d
for r <= 1), PCA for linear, the derived approximation for relu.

**Linear, any spectrum (proved: reduced-rank regression).** Minimising E||x - W x~||^2 over W of
rank <= n, with Cov(x, x~) = Sigma and Cov(x~) = Sigma + tau^2 v I, keeps the top n eigenvalues of
Sigma (Sigma + tau^2 v I)^{-1} Sigma = lambda^2 / (lambda + tau^2 v), increasing in lambda (Wiener
shrinkage per mode):

    min R_tau = (tr Sigma - sum_{k <= n} lambda_k^2 / (lambda_k + tau^2 v)) / tr Sigma.

**Sign, any spectrum (derived: linearised arcsin, as the noiseless allocation).** With U the rows of
B normalised in the metric of Sigma~ = Sigma + tau^2 v I, M ~ (2/pi)(U U^T + c I) and
C = sqrt(2/pi) Sigma Sigma~^{-1/2} U^T, so the explained part is tr(D U^T (U U^T + c I)^{-1} U) with the
diagonal D = lambda^2 / (lambda + tau^2 v): the noiseless allocation problem with the spectrum D. Hence

    min R_tau = 1 - tr(D) (1 - min R_0(r; spectrum D)) / tr Sigma

(isotropic: 1 - (2r/pi) / (1 + tau^2) again). It inherits the allocation's accuracy (optimistic with a
dominant eigenvalue: theory/limits.md, theory/spiked.md).

Not derived: relu with a non-isotropic spectrum (its mean term), erf and tanh (not homogeneous:
the noise changes the shape of the code).
"""

from __future__ import annotations

import numpy as np

from .._validation import as_rates, as_spectrum
from ..activations import get_activation
from .limits import _maybe_scalar, min_risk
from .risk import _as_noise


def denoising_min_risk(rate, noise, *, activation="sign", spectrum=None):
    r"""Minimal risk E||x - x_hat||^2 / E||x||^2 of the denoising autoencoder (module docstring).

    Parameters
    ----------
    rate : float or array_like
        r = n/d > 0.
    noise : float
        tau^2 >= 0, relative to the mean eigenvalue of the source.
    activation : {"sign", "relu", "linear"}, optional
        The code (default sign).
    spectrum : array_like, optional
        Eigenvalues of Sigma (d of them; sign and linear; None: isotropic).

    Returns
    -------
    float or ndarray
        The minimal risk at each rate.

    Raises
    ------
    ValueError
        An invalid rate, noise or spectrum; relu with a spectrum, erf, tanh (not derived).

    Examples
    --------
    >>> round(float(denoising_min_risk(1.0, 1.0)), 6)  # sign: 1 - (2/pi) / 2
    0.68169
    >>> round(float(denoising_min_risk(0.5, 1.0, activation="linear")), 6)  # 1 - r / (1 + tau^2)
    0.75
    """
    noise = _as_noise(noise)
    act = get_activation(activation)
    rates = as_rates(rate)
    if spectrum is None and act.homogeneous:  # sign, relu, linear: the noiseless minimum, shrunk
        best = np.asarray(min_risk(rates, activation=act), dtype=np.float64)
        return _maybe_scalar(1.0 - (1.0 - best) / (1.0 + noise), rate)
    if act.name == "sign" and spectrum is not None:  # the allocation with the signal-to-input weights D
        lam = as_spectrum(spectrum)
        weights = lam**2 / (lam + noise * lam.mean())
        best = np.asarray(min_risk(rates, spectrum=weights), dtype=np.float64)
        return _maybe_scalar(1.0 - weights.sum() * (1.0 - best) / lam.sum(), rate)
    if act.name != "linear":
        raise ValueError(f"the denoising minimum is derived for homogeneous codes (sign, relu, linear) on the "
                         f"isotropic source, and for sign and linear codes with a spectrum; got {act.name!r}"
                         f"{' with a spectrum' if spectrum is not None else ''}")
    lam = np.sort(as_spectrum(spectrum))[::-1]
    v = lam.mean()
    gain = np.concatenate([[0.0], np.cumsum(lam**2 / (lam + noise * v))])
    n = np.clip(np.rint(rates * lam.size).astype(int), 0, lam.size)
    return _maybe_scalar((lam.sum() - gain[n]) / lam.sum(), rate)


# ----------------------------------------------------------------------------- penalties
def code_penalties(B, *, activation="relu", cov=None, noise=0.0, xp=np) -> dict:
    r"""Exact Gaussian values of the code penalties of encoder B (z = B x~, x~ = x + tau eps):

        l1          = E sum_i |sigma(z_i)|         = sum_i E|sigma(s_i g)|
        contractive = E ||d sigma(B x~)/dx~||_F^2   = sum_i E[sigma'(s_i g)^2] ||b_i||^2,

    s_i^2 = b_i^T (Sigma + tau^2 I) b_i (proved: each z_i is N(0, s_i^2); the one-dimensional moments are
    :meth:`twolayer.activations.Activation.abs_moment` and ``derivative_moment``, closed forms for linear,
    relu and erf, quadrature for tanh).

    Parameters
    ----------
    B : array
        n x d encoder (NumPy, or JAX with ``xp=jax.numpy``; no checks then).
    activation : str or Activation, optional
        The code (default relu).
    cov : array, optional
        d x d covariance (None: I).
    noise : float, optional
        Input-noise variance tau^2 in the source's units (default 0).
    xp : module, optional
        Array namespace (default numpy).

    Returns
    -------
    dict
        ``{"l1": ..., "contractive": ...}``; ``contractive`` is None for sign (sigma' = 0 almost everywhere).

    Examples
    --------
    >>> vals = code_penalties(np.eye(2, 4), activation="relu")  # s_i = 1: 2 / sqrt(2 pi), 2 x 1/2
    >>> round(float(vals["l1"]), 6), float(vals["contractive"])
    (0.797885, 1.0)
    """
    act = get_activation(activation)
    norms = xp.sum(B * B, axis=1)
    var = (norms if cov is None else xp.sum((B @ cov) * B, axis=1)) + noise * norms
    s = xp.sqrt(var)
    l1 = xp.sum(act.abs_moment(s, xp))
    if act.name == "sign":
        return {"l1": l1, "contractive": None}
    return {"l1": l1, "contractive": xp.sum(act.derivative_moment(s, xp) * norms)}


def penalty_warning(activation, parametrization: str, weight_decay: float, l1: float, contractive: float):
    """The rescaling degeneracy of an encoder-only penalty, as a sentence (None when there is none).

    Positively homogeneous activations (relu, linear): B -> cB with A -> A/c (untied; alpha -> alpha / c^2
    for tied A = alpha B^T) leaves x_hat unchanged and scales the L1 penalty by c and the contractive
    penalty by c^2 (through ||b_i||^2), so their infimum 0 costs nothing in risk. Smooth activations (erf,
    tanh): as c -> 0 the code becomes linear, sigma(c z) / c -> sigma'(0) z, so the penalties vanish while
    the risk tends to the linear code's (measured: erf, l1 = 0.1, d = 32, r = 0.5: the rows shrink to norm
    0.045 after 8000 Adam steps and the samples and exact runs stop 1.2 % apart, both still moving).
    Weight decay on both layers removes the degeneracy (with it they agree to 2e-6).
    """
    act = get_activation(activation)
    if not (l1 or contractive) or weight_decay or act.name == "sign":
        return None
    if act.homogeneous and parametrization != "optimal-decoder":
        how = f"{act.name} is homogeneous: B -> cB with A -> A/c leaves x_hat unchanged and drives the penalty to 0"
    else:
        how = (f"as B -> 0 the {act.name} code becomes linear, so the penalty vanishes while the risk tends to the "
               "linear code's")
    return (f"an encoder-only penalty is degenerate here: {how}, and the run drifts that way; add weight_decay "
            "(it penalises both layers)")
