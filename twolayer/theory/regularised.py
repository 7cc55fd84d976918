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

**erf and tanh (proved; an infimum, not a minimum).** The linear (Wiener) value above is a lower bound for
every code (:func:`denoising_lower_bound`) and, since sigma(c z)/c -> sigma'(0) z as c -> 0, the infimum for
erf and tanh; it is not attained (gradient descent creeps toward B -> 0), and :func:`denoising_min_risk`
returns it.

Not derived: relu with a non-isotropic spectrum (its mean term).

**Penalised minimisers (theory/regularised.md, "The minimiser's structure under the penalties").**
:func:`linear_weight_decay_minimum` and :func:`linear_weight_decay_tradeoff` (linear code, weight decay and the
contractive penalty: p_k = (lambda_k - gamma_eff)_+ / (lambda_k + tau^2), gamma_eff = sqrt(gamma (gamma + c));
proved for tau = 0), :func:`sign_ridge_minimum` (sign, decoder weight decay; orthonormal rows, their optimality
measured), :func:`orthogonal_frame_minimum` (erf, tanh: exact within orthogonal equal-norm frames, where gradient
descent lands) and :func:`relu_simplex_minimum` (relu: exact within simplex frames, where gradient descent lands).
"""

from __future__ import annotations

import numpy as np

from .._validation import as_nonnegative, as_rate, as_rates, as_spectrum
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
    activation : {"sign", "relu", "linear", "erf", "tanh"}, optional
        The code (default sign). For erf and tanh the value is the infimum (the linear value; not attained).
    spectrum : array_like, optional
        Eigenvalues of Sigma (d of them; sign and linear; None: isotropic).

    Returns
    -------
    float or ndarray
        The minimal risk at each rate.

    Raises
    ------
    ValueError
        An invalid rate, noise or spectrum; relu with a spectrum (not derived); another activation.

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
    if act.name in ("erf", "tanh"):  # the infimum, not attained: the linear value, approached as B -> 0
        return denoising_lower_bound(rate, noise, spectrum=spectrum)
    if act.name != "linear":
        raise ValueError(f"the denoising minimum is derived for sign, relu and linear codes on the isotropic "
                         f"source, for sign and linear codes with a spectrum, and (as an infimum) for erf and "
                         f"tanh; got {act.name!r}{' with a spectrum' if spectrum is not None else ''}")
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

    Sign code with weight decay: the risk does not see the scale of B, so the encoder's part of the
    penalty drives B -> 0 with no minimiser; the effective step lr / ||b||^2 then grows until gradient
    descent stalls, oscillates or diverges (measured: d = 64, r = 0.5, gamma = 0.1, lr 0.3: 4.5 % above
    the infimum after 4000 steps; gamma = 1: diverged at step 292; theory/regularised.md). Only the
    decoder's part acts: its infimum is :func:`sign_ridge_minimum`.
    """
    act = get_activation(activation)
    if act.name == "sign" and weight_decay and parametrization != "optimal-decoder":
        return ("weight decay on a sign code has no minimiser: the risk does not see the scale of B, so the "
                "penalty shrinks B toward 0 and the effective step grows until training stalls or diverges; "
                "only the decoder's part acts (its infimum: theory.regularised.sign_ridge_minimum)")
    if not (l1 or contractive) or weight_decay or act.name == "sign":
        return None
    if act.homogeneous and parametrization != "optimal-decoder":
        how = f"{act.name} is homogeneous: B -> cB with A -> A/c leaves x_hat unchanged and drives the penalty to 0"
    else:
        how = (f"as B -> 0 the {act.name} code becomes linear, so the penalty vanishes while the risk tends to the "
               "linear code's")
    return (f"an encoder-only penalty is degenerate here: {how}, and the run drifts that way; add weight_decay "
            "(it penalises both layers)")


# ----------------------------------------------------------------------------- weight decay: the minimiser's structure
def _standardised_spectrum(spectrum) -> np.ndarray:
    """Eigenvalues divided by their mean, sorted decreasing (the source ``train`` sees: tr Sigma = d)."""
    lam = np.sort(as_spectrum(spectrum))[::-1]
    return lam / lam.mean()


def linear_weight_decay_minimum(spectrum, rate, weight_decay, *, contractive=0.0, noise=0.0) -> dict:
    r"""Minimiser of the linear autoencoder's penalised objective, as ``train`` builds it (theory/regularised.md).

    The objective, on the standardised source (lambda_k divided by their mean, so tr Sigma = d) with input
    x~ = x + tau eps, is

        d R + gamma (||A||_F^2 + ||B||_F^2) + c ||B||_F^2

    (``weight_decay`` = gamma, ``contractive`` = c: for a linear code E||d(Bx~)/dx~||_F^2 = ||B||_F^2, so the
    contractive penalty is encoder-only weight decay). With gamma_eff = sqrt(gamma (gamma + c)) the minimiser is,
    up to a rotation O of the code (A -> A O^T, B -> O B),

        A = U_n diag(a_k),  B = diag(b_k) U_n^T,  p_k = a_k b_k = (lambda_k - gamma_eff)_+ / (lambda_k + tau^2),
        a_k^2 = p_k sqrt((gamma + c) / gamma),   b_k^2 = p_k sqrt(gamma / (gamma + c)),

    (U_n: the top n eigenvectors; the mode is kept only if lambda_k > gamma_eff), so
    ||a_k|| / ||b_k|| = sqrt((gamma + c) / gamma) (gamma A^T A = (gamma + c) B B^T holds at *every* critical point)
    and the penalties cost 2 gamma_eff ||AB||_* = 2 gamma_eff sum p_k. Per kept mode the objective is
    lambda_k - (lambda_k - gamma_eff)^2 / (lambda_k + tau^2), per dropped mode lambda_k.

    Status: tau = 0, c = 0: proved (Kunin, Bloom, Goeva and Seed, ICML 2019: the regularised LAE's minimum is
    the PCA directions with p_k = 1 - gamma/lambda_k). c > 0: proved by the reparametrisation A = kappa A~,
    B = B~/kappa, kappa^2 = sqrt((gamma + c)/gamma), which maps the problem exactly onto weight decay gamma_eff on
    both layers. tau > 0: the rank-unconstrained problem min_W tr(Sigma) - 2 tr(W Sigma) + tr(W Sigma~ W^T) +
    2 gamma_eff ||W||_* is strictly convex and invariant under W -> D W D for sign diagonals D (Sigma diagonal),
    so its unique minimiser is diagonal: proved when n >= #{lambda_k > gamma_eff}; with a binding rank
    constraint, keeping the top n modes (the per-mode gain (lambda - gamma_eff)^2/(lambda + tau^2) increases
    with lambda) is derived, not proved (checked by gradient descent). Degenerate eigenvalues: the modes inside
    an eigenspace are any basis of it. gamma = 0 with c > 0 is refused (the infimum, the PCA/Wiener value, is
    approached as B -> 0, A -> infinity and not attained).

    Parameters
    ----------
    spectrum : array_like
        Eigenvalues of Sigma (d of them; np.ones(d) for the isotropic source); standardised to mean 1.
    rate : float
        r = n/d > 0 (n = round(r d)).
    weight_decay : float
        gamma >= 0 on both layers.
    contractive : float, optional
        c >= 0, the contractive penalty (encoder-only weight decay for a linear code; default 0).
    noise : float, optional
        tau^2 >= 0, relative to the mean eigenvalue (default 0).

    Returns
    -------
    dict
        ``products`` p_k, ``decoder_norms`` a_k, ``encoder_norms`` b_k (length n, decreasing lambda; zeros for
        dropped modes), ``kept`` (number of modes with p_k > 0), ``effective_weight_decay`` gamma_eff,
        ``objective`` (the penalised minimum over d: R + penalties / d), ``risk`` (the objective's risk R at the
        minimiser, the denoising risk when tau > 0), ``clean_risk`` (the same network on clean inputs),
        ``penalty`` (gamma (||A||^2 + ||B||^2) + c ||B||^2 = 2 gamma_eff sum p_k, not divided by d).

    Examples
    --------
    >>> out = linear_weight_decay_minimum(np.ones(4), 0.5, 0.25)  # p = 3/4 on two modes
    >>> out["products"].tolist(), round(out["objective"], 6), round(out["risk"], 6)
    ([0.75, 0.75], 0.71875, 0.53125)
    """
    lam = _standardised_spectrum(spectrum)
    d = lam.size
    n = int(np.clip(np.rint(as_rate(rate) * d), 0, d))
    gamma = as_nonnegative(weight_decay, "weight_decay")
    c = as_nonnegative(contractive, "contractive")
    tau2 = _as_noise(noise)
    if c and not gamma:
        raise ValueError("contractive > 0 with weight_decay = 0 has no minimiser: B -> 0 with A -> infinity drives the "
                         "encoder penalty to 0 (the infimum is the unpenalised value); add weight_decay")
    geff = np.sqrt(gamma * (gamma + c))
    top = lam[:n]
    p = np.maximum(top - geff, 0.0) / (top + tau2)
    ratio = np.sqrt((gamma + c) / gamma) if gamma else 1.0  # ||a_k|| / ||b_k||
    a, b = np.sqrt(p * ratio), np.sqrt(p / ratio)
    err = top - 2 * top * p + (top + tau2) * p**2  # per kept mode: lambda (1 - p)^2 + tau^2 p^2
    tail = lam[n:].sum()
    penalty = 2 * geff * p.sum()
    return {"products": p, "decoder_norms": a, "encoder_norms": b, "kept": int(np.count_nonzero(p)),
            "effective_weight_decay": float(geff), "objective": float((err.sum() + tail + penalty) / d),
            "risk": float((err.sum() + tail) / d), "clean_risk": float((np.sum(top * (1 - p) ** 2) + tail) / d),
            "penalty": float(penalty)}


def linear_weight_decay_tradeoff(spectrum, rate, weight_decays, *, contractive=0.0, noise=0.0) -> dict:
    r"""The penalty-risk trade-off of the linear autoencoder along a sweep of gamma (closed form, proved as
    :func:`linear_weight_decay_minimum`).

    Along gamma the minimiser traces the Pareto front of (t, R) with t = ||AB||_* = sum_k p_k the nuclear norm of
    the product (the weight-decay cost is 2 gamma_eff t at the minimiser): for tau = 0,

        R(gamma) = (sum_{k <= m} gamma_eff^2 / lambda_k + sum_{k > m} lambda_k) / d,
        t(gamma) = sum_{k <= m} (1 - gamma_eff / lambda_k),           m = #{k <= n: lambda_k > gamma_eff},

    a convex, decreasing curve with slope dR/dt = -2 gamma_eff / d (the Lagrange multiplier): the penalty buys
    risk at the exchange rate it charges. It ends at t = m at gamma = 0 (PCA) and at t = 0, R = 1 for
    gamma_eff >= lambda_1.

    Parameters
    ----------
    spectrum, rate, contractive, noise
        As :func:`linear_weight_decay_minimum`.
    weight_decays : array_like
        The sweep of gamma > 0 (or >= 0 when contractive = 0).

    Returns
    -------
    dict
        Arrays over the sweep: ``weight_decay``, ``risk``, ``nuclear_norm`` (t), ``penalty`` (over d),
        ``objective``, ``kept``.
    """
    rows = [linear_weight_decay_minimum(spectrum, rate, g, contractive=contractive, noise=noise)
            for g in np.atleast_1d(np.asarray(weight_decays, dtype=np.float64))]
    d = as_spectrum(spectrum).size
    return {"weight_decay": np.atleast_1d(np.asarray(weight_decays, dtype=np.float64)),
            "risk": np.array([o["risk"] for o in rows]),
            "nuclear_norm": np.array([o["products"].sum() for o in rows]),
            "penalty": np.array([o["penalty"] / d for o in rows]),
            "objective": np.array([o["objective"] for o in rows]), "kept": np.array([o["kept"] for o in rows])}


def sign_ridge_minimum(rate, weight_decay, *, noise=0.0) -> dict:
    r"""Sign code with weight decay on the decoder, isotropic source, r <= 1 (theory/regularised.md).

    For a fixed encoder the penalised objective d R + gamma ||A||_F^2 is minimised by the ridge decoder
    A = C (M + gamma I)^{-1}, leaving d - tr(C (M + gamma I)^{-1} C^T). With orthonormal rows on N(0, I) the
    sign kernel is exactly M = I and C = sqrt(2/pi) B^T / sqrt(1 + tau^2), so

        objective / d = 1 - (2r/pi) / ((1 + tau^2)(1 + gamma)),
        R            = 1 - (2r/pi)(1 + 2 gamma) / ((1 + tau^2)(1 + gamma)^2),
        ||A||^2 / d  = (2r/pi) / ((1 + tau^2)(1 + gamma)^2).

    Status: exact for orthonormal rows at every d; that orthonormal rows stay the minimiser for gamma > 0 is
    *measured* (population gradient descent on the profile objective with row-normalised B, d = 64, r in
    {0.25, 0.5, 1}: it ends on the value to 2e-16 and at frame singular values 1 to 6 digits;
    benchmarks/regularised.py).
    Weight decay on B as well (what ``--weight-decay`` does) adds gamma ||B||^2, whose infimum 0 is not attained
    (R does not see B's scale): this value is then an infimum.

    Parameters
    ----------
    rate : float
        r = n/d in (0, 1].
    weight_decay : float
        gamma >= 0 on the decoder.
    noise : float, optional
        tau^2 >= 0 (default 0).

    Returns
    -------
    dict
        ``objective`` (over d), ``risk``, ``decoder_norm2`` (||A||^2 / d).

    Examples
    --------
    >>> round(sign_ridge_minimum(0.5, 0.0)["risk"], 6)  # 1 - 2r/pi
    0.68169
    """
    r = as_rate(rate)
    if r > 1:
        raise ValueError(f"sign_ridge_minimum is derived for r <= 1 (orthonormal rows), got rate {r!r}")
    gamma = as_nonnegative(weight_decay, "weight_decay")
    q = (2 * r / np.pi) / (1 + _as_noise(noise))
    return {"objective": float(1 - q / (1 + gamma)), "risk": float(1 - q * (1 + 2 * gamma) / (1 + gamma) ** 2),
            "decoder_norm2": float(q / (1 + gamma) ** 2)}


ODD_CODES = ("linear", "sign", "erf", "tanh")


def orthogonal_frame_minimum(activation, rate, *, weight_decay=0.0, l1=0.0, contractive=0.0, noise=0.0) -> dict:
    r"""The penalised objective minimised over orthogonal encoders with equal row norms, isotropic source.

    For an odd code (linear, sign, erf, tanh) on N(0, I), orthogonal rows b_i give independent, centred codes,
    so M = diag(m2(u_i)) with u_i^2 = ||b_i||^2 (1 + tau^2) the pre-activation variance, and
    ||C e_i||^2 = g1(u_i)^2 / (1 + tau^2), g1(u) = E[g sigma(u g)], m2(u) = E sigma(u g)^2. With the ridge
    decoder the objective separates over neurons, each minimising (weight decay gamma, l1 lambda_1,
    contractive lambda_c)

        phi(u) = - g1(u)^2 / ((1 + tau^2)(m2(u) + gamma)) + (gamma + lambda_c E sigma'(u g)^2) u^2 / (1 + tau^2)
                 + lambda_1 E|sigma(u g)|,

    and objective / d = 1 + r min_u phi(u), R = 1 - r q (2/(m2 + gamma) - m2/(m2 + gamma)^2) with
    q = g1^2 / (1 + tau^2), at the optimal u.

    Status: exact within the family (orthogonal rows, r <= 1); that the minimiser is in the family is an
    assumption, *derived* for linear (it then reproduces :func:`linear_weight_decay_minimum`: u^2 =
    sqrt(gamma/(gamma + c)) - gamma) and for sign with decoder weight decay (:func:`sign_ridge_minimum`,
    reached as u -> 0), *measured* for erf and tanh (benchmarks/regularised.py). Where it breaks: r > 1 (no
    orthogonal frame; refused); relu (not odd: orthogonal rows leave correlated codes, and pairs (b, -b) win;
    refused); spectra (not built). Without any penalty on B (gamma = lambda_1 = lambda_c = 0) erf and tanh
    have no minimiser: the infimum is the linear code's (u -> 0); the value returned is then that limit.

    Parameters
    ----------
    activation : {"linear", "sign", "erf", "tanh"}
    rate : float
        r = n/d in (0, 1].
    weight_decay, l1, contractive, noise : float, optional
        gamma, lambda_1, lambda_c, tau^2 >= 0 (default 0). Sign takes weight decay only (L1 and contractive
        are refused for sign codes); its weight decay on B then drives u -> 0 at no cost in risk.

    Returns
    -------
    dict
        ``row_norm`` (||b_i||), ``objective`` (over d), ``risk``, ``decoder_norm2`` (||A||^2 / d), ``l1_penalty``
        and ``contractive_penalty`` (exact Gaussian values, over d).

    Examples
    --------
    >>> out = orthogonal_frame_minimum("linear", 0.5, weight_decay=0.25)
    >>> round(out["row_norm"] ** 2, 6), round(out["objective"], 6)  # p = 3/4, balanced: b^2 = p
    (0.75, 0.71875)
    """
    import scipy.optimize

    act = get_activation(activation)
    if act.name not in ODD_CODES:
        raise ValueError(f"orthogonal_frame_minimum is built for odd codes {ODD_CODES}, got {act.name!r} (relu: "
                         "orthogonal rows leave correlated codes and pairs (b, -b) do better)")
    r = as_rate(rate)
    if r > 1:
        raise ValueError(f"orthogonal_frame_minimum needs r <= 1 (orthogonal rows), got rate {r!r}")
    gamma, lam1, lamc = (as_nonnegative(v, k) for v, k in ((weight_decay, "weight_decay"), (l1, "l1"),
                                                          (contractive, "contractive")))
    tau2 = _as_noise(noise)
    if act.name == "sign" and (lam1 or lamc):
        raise ValueError("l1 and contractive are meaningless on a sign code (|sign| = 1, sign' = 0 a.e.)")

    def parts(u):
        u = np.atleast_1d(np.asarray(u, dtype=np.float64))
        q = act.gauss_moment(u) ** 2 / (1 + tau2)
        m2 = act.second_moment(u)
        pen_l1 = act.abs_moment(u) if lam1 else np.zeros_like(u)
        pen_c = act.derivative_moment(u) * u**2 / (1 + tau2) if lamc else np.zeros_like(u)
        return q, m2, pen_l1, pen_c

    def phi(log_u):
        u = np.exp(log_u)
        q, m2, pen_l1, pen_c = parts(u)
        return -q / (m2 + gamma) + gamma * u**2 / (1 + tau2) + lam1 * pen_l1 + lamc * pen_c

    # the limit u -> 0: sign keeps its (scale-free) code; erf/tanh/linear become linear codes, switched off by
    # weight decay (phi -> 0) or, without it, tending to the linear code's value -1/(1 + tau^2)
    if act.name == "sign":
        limit = parts(1.0)
    elif gamma:
        limit = (np.zeros(1), np.ones(1), np.zeros(1), np.zeros(1))
    else:
        limit = (np.array([1.0 / (1 + tau2)]), np.ones(1), np.zeros(1), np.zeros(1))
    phi0 = float(-limit[0][0] / (limit[1][0] + gamma))
    grid = np.linspace(np.log(1e-4), np.log(50.0), 400)
    values = phi(grid)
    i = int(np.argmin(values))
    u = 0.0
    q, m2, pen_l1, pen_c = limit
    if values[i] < phi0 - 1e-12 * max(1.0, abs(phi0)):
        lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
        best = scipy.optimize.minimize_scalar(lambda t: float(phi(t)[0]), bounds=(lo, hi), method="bounded",
                                              options={"xatol": 1e-12})
        if best.fun < phi0 - 1e-12 * max(1.0, abs(phi0)):
            u = float(np.exp(best.x))
            q, m2, pen_l1, pen_c = parts(u)
    q, m2, pen_l1, pen_c = (float(np.ravel(v)[0]) for v in (q, m2, pen_l1, pen_c))
    s2 = u**2 / (1 + tau2)  # ||b_i||^2
    a2 = q / (m2 + gamma) ** 2 if (u or gamma or act.name == "sign") else np.inf  # the linear limit: A ~ 1/u
    explained = q / (m2 + gamma)
    objective = 1 - r * explained + r * (gamma * s2 + lam1 * pen_l1 + lamc * pen_c)
    return {"row_norm": float(np.sqrt(s2)), "objective": float(objective),
            "risk": float(1 - r * q * (2 / (m2 + gamma) - m2 / (m2 + gamma) ** 2)),
            "decoder_norm2": float(r * a2), "l1_penalty": float(r * np.ravel(act.abs_moment(u))[0]),
            "contractive_penalty": (None if act.name == "sign" else float(r * np.ravel(act.derivative_moment(u))[0] * s2))}


def denoising_lower_bound(rate, noise, *, spectrum=None):
    r"""A lower bound on the denoising risk of *every* code with n neurons and a linear decoder: the linear
    (reduced-rank Wiener) value

        (tr Sigma - sum_{k <= n} lambda_k^2 / (lambda_k + tau^2 v)) / tr Sigma.

    Proved: x_hat = A sigma(B x~) lies in the n-dimensional range of A, with projector P; then
    E||x - x_hat||^2 >= tr(P_perp Sigma) + E||P x - E[P x | x~]||^2 = tr(P_perp Sigma) + tr(P (Sigma - Sigma
    Sigma~^{-1} Sigma) P), minimised over P of rank n by the top n modes. For erf and tanh (sigma(0) = 0,
    sigma'(0) != 0) it is also the *infimum*: sigma(c z)/c -> sigma'(0) z as c -> 0, so B = c B_lin,
    A = A_lin / (c sigma'(0)) tends to the linear minimiser; it is not attained at finite B (gradient descent
    creeps toward B -> 0). Not the infimum for sign (scale-free) or relu (pairs (b, -b) give a linear code of n/2
    directions only).

    Parameters
    ----------
    rate : float or array_like
        r = n/d > 0.
    noise : float
        tau^2 >= 0, relative to the mean eigenvalue.
    spectrum : array_like, optional
        Eigenvalues of Sigma (None: isotropic, 1 - r/(1 + tau^2) for r <= 1).

    Returns
    -------
    float or ndarray

    Examples
    --------
    >>> round(float(denoising_lower_bound(0.5, 1.0)), 6)
    0.75
    """
    if spectrum is None:
        r = as_rates(rate)
        return _maybe_scalar(1.0 - np.minimum(r, 1.0) / (1.0 + _as_noise(noise)), rate)
    return denoising_min_risk(rate, noise, activation="linear", spectrum=spectrum)


def relu_kernel_correlation(rho):
    """kappa(rho) = E[relu(g1) relu(g2)] for unit Gaussians of correlation rho (the first-order arc-cosine kernel):
    (sqrt(1 - rho^2) + rho (pi - arccos rho)) / (2 pi)."""
    rho = np.asarray(rho, dtype=np.float64)
    return (np.sqrt(1 - rho**2) + rho * (np.pi - np.arccos(rho))) / (2 * np.pi)


def relu_simplex_minimum(d, n, *, weight_decay=0.0, l1=0.0, contractive=0.0, noise=0.0) -> dict:
    r"""The penalised objective of a relu code minimised over *simplex frames*, isotropic source (r <= 1).

    Gradient descent with weight decay ends on rows b_i of equal norm s with pairwise cosines -1/(n - 1) (a regular
    simplex: sum_i b_i = 0, rank n - 1; measured, benchmarks/regularised.py). On that family, with
    rho = -1/(n - 1), a_n = 1/2 - kappa(rho) (:func:`relu_kernel_correlation`), K = B B^T has the eigenvalue
    s^2 n/(n - 1) on the n - 1 directions orthogonal to 1 and 0 on 1; C = B^T / 2 (E[z relu z] / Var z = 1/2) and
    M = (1 + tau^2) s^2 ((1/2 - kappa) I + kappa 1 1^T), so with the ridge decoder A = C (M + gamma I)^{-1}

        objective / d = 1 + (n/d) min_s [ -(s^2/4) / ((1 + tau^2) s^2 a_n + gamma) + (gamma + c/2) s^2
                                          + lambda_1 s sqrt(1 + tau^2) / sqrt(2 pi) ]

    (E|relu(u g)| = u/sqrt(2 pi), E relu'(u g)^2 = 1/2). Without penalties on B (gamma = lambda_1 = c = 0) the scale
    is free and the value is 1 - (n/d)/(4 (1 + tau^2) a_n), which tends to relu's linearised value 1 - r/(1 + c*)
    (c* = 1 - 2/pi; :func:`twolayer.theory.min_risk`) as n -> infinity, since a_n = (pi - 1)/(2 pi) + 1/(4(n - 1))
    + O(n^-2): the finite-n simplex explains the measured excess of relu gradient descent over that value
    (d = 128, r = 1/2: 0.6375 against 0.6333).

    Status: exact within the family; that the minimiser is a simplex frame is measured (d = 64, r = 1/2, weight
    decay, L1 and contractive penalties: the cosines equal -1/(n - 1) and the objective matches to 1e-16).
    Where it breaks: r > 1 (n - 1 > d: no simplex; refused), spectra (not built), weight_decay = 0 with a code
    penalty (degenerate: the penalty vanishes as s -> 0; the value returned is then the unpenalised one).

    Parameters
    ----------
    d, n : int
        Input dimension and neurons (2 <= n <= d + 1).
    weight_decay, l1, contractive, noise : float, optional
        gamma, lambda_1, c, tau^2 >= 0 (default 0).

    Returns
    -------
    dict
        ``row_norm`` s (nan where the scale is free), ``objective`` (over d), ``risk`` (the objective's risk),
        ``l1_penalty`` and ``contractive_penalty`` (over d), ``cosine`` (-1/(n - 1)).

    Examples
    --------
    >>> round(relu_simplex_minimum(64, 32)["risk"], 4)  # finite n: above 1 - r/(2 - 2/pi) = 0.6333
    0.6417
    """
    import scipy.optimize

    d, n = int(d), int(n)
    if not 2 <= n <= d + 1:
        raise ValueError(f"relu_simplex_minimum needs 2 <= n <= d + 1 (a simplex of n rows in d dimensions), got "
                         f"d = {d}, n = {n}")
    gamma, lam1, c = (as_nonnegative(v, k) for v, k in ((weight_decay, "weight_decay"), (l1, "l1"),
                                                       (contractive, "contractive")))
    tau2 = _as_noise(noise)
    rho = -1.0 / (n - 1)
    a_n = 0.5 - float(relu_kernel_correlation(rho))

    def phi(s):
        return -(s * s / 4) / ((1 + tau2) * s * s * a_n + gamma) + (gamma + c / 2) * s * s \
            + lam1 * s * np.sqrt((1 + tau2) / (2 * np.pi))

    if not gamma:  # scale-free (or degenerate toward s -> 0): the unpenalised value
        s, value, mu_over_s2 = float("nan"), -1.0 / (4 * (1 + tau2) * a_n), (1 + tau2) * a_n
        explained_risk = 1 / (4 * mu_over_s2)  # 2 q/mu - q/mu with q = s^2/4, mu = (1 + tau^2) a_n s^2
    else:
        grid = np.exp(np.linspace(np.log(1e-4), np.log(50.0), 400))
        i = int(np.argmin(phi(grid)))
        if phi(grid[i]) >= 0:  # every neuron off
            s = 0.0
        else:
            lo, hi = np.log(grid[max(i - 1, 0)]), np.log(grid[min(i + 1, grid.size - 1)])
            s = float(np.exp(scipy.optimize.minimize_scalar(lambda t: phi(np.exp(t)), bounds=(lo, hi),
                                                             method="bounded", options={"xatol": 1e-13}).x))
        value = min(phi(s), 0.0) if s else 0.0
        mu, q = (1 + tau2) * s * s * a_n, s * s / 4
        explained_risk = (2 * q / (mu + gamma) - q * mu / (mu + gamma) ** 2) if s else 0.0
    r = n / d
    s_pen = 0.0 if not np.isfinite(s) else s
    return {"row_norm": s, "objective": float(1 + r * value), "risk": float(1 - r * explained_risk),
            "l1_penalty": float(r * s_pen * np.sqrt((1 + tau2) / (2 * np.pi))),
            "contractive_penalty": float(r * s_pen**2 / 2), "cosine": rho}
