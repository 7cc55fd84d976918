r"""Bayes decoding of a 1-bit code y = sign(B x): GLM-VAMP's state evolution and the Bayes benchmark.

The source x has i.i.d. coordinates of a law L (unit variance, :mod:`.priors`); the encoder B
(n x d, rows normalised to unit norm: sign(Bx) does not see row norms) enters only through the
eigenvalues of B^T B, given as atoms ``(lam_k, w_k)`` with sum_k w_k = 1 (a fraction w_k of the d
eigenvalues equals lam_k) and sum_k w_k lam_k = r = n/d. The Gaussian-optimal encoder
(:func:`twolayer.theory.minimizer`: orthonormal rows for r <= 1, a unit-norm tight frame for
r > 1) has ``frame_spectrum(r)``: lam = 1 on a fraction r (r <= 1, else lam = r on all of it).

GLM-VAMP (Schniter, Rangan and Fletcher 2016, arXiv:1612.01186; ML-VAMP of Fletcher, Rangan
and Schniter 2018) passes Gaussian messages between three stages: the prior (x given a
Gaussian observation of x), the linear map z = B x, and the channel y = sign(z). With the true
law and encoder known (the Bayes-matched case), its state evolution tracks one precision per
message, and every stage obeys "outgoing precision = 1 / (posterior error) - incoming precision":

* prior:   E_x = mmse_L(1 / g_x^-)                                g_x^+ = 1/E_x - g_x^-
* linear:  E_z = (1/r) sum_k w_k lam_k / (g_x^+ + g_z^- lam_k)     g_z^+ = 1/E_z - g_z^-
* channel: E_c = sign_channel_mmse(1 / g_z^+)                      g_z^- = 1/E_c - g_z^+
* linear:  E_l = sum_k w_k / (g_x^+ + g_z^- lam_k)                 g_x^- = 1/E_l - g_x^+

from g_x^- = g_z^- = 0 (nothing known). ``risk[t]`` = E_x at the start of pass t is the
predicted normalised error E||x - x_hat_t||^2 / E||x||^2 of the algorithm's estimate after t
passes (risk[0] = 1: x_hat = 0). Status: the state evolution of VAMP is proved for
right-orthogonally invariant B and Lipschitz denoisers in the large-system limit (Rangan,
Schniter and Fletcher 2019; ML-VAMP: Pandit et al. 2020); this module is its Bayes-matched
specialisation to the sign channel (derived), checked against the algorithm at d = 4096 in
``tests/test_amp.py``. Its fixed point is the **Bayes benchmark** for that encoder: the MMSE
predicted by the replica formula for orthogonally invariant GLMs when the replica potential has
one minimum (conjectured in general; proved for i.i.d. Gaussian B, Barbier et al. 2019); where it
has several, VAMP from an uninformed start stops at the first one and the benchmark is that of
the algorithm, not of an unbounded decoder.

Two checks in closed form: pass 1 gives the linear decoder followed by the scalar denoiser,
risk[1] = mmse_L(R_G / (1 - R_G)) with R_G = ``min_risk(r)``; for the Gaussian law at r <= 1
the fixed point is 1 - 2r/pi (B^T sign(Bx) is already the posterior mean).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import interpolate, special

from .priors import Law

#: the smallest precision the recursion uses (a message with less is "nothing known").
_TINY = 1e-300
#: a risk below this is exact recovery (possible for discrete laws): the recursion stops there.
_EXACT = 1e-14
#: Gauss-Hermite nodes (probabilists') and Gauss-Legendre nodes of the channel quadrature.
_HERMITE = np.polynomial.hermite_e.hermegauss(120)
_LEGENDRE = np.polynomial.legendre.leggauss(160)
#: range and density of the mmse table (log10 sigma^2), see :func:`_mmse_table`.
_TABLE_LOG10 = (-6.0, 6.0, 24)


def frame_spectrum(rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalue atoms of B^T B for the Gaussian-optimal encoder with unit rows, in the limit.

    Orthonormal rows (r <= 1): B^T B is a projection of rank n, eigenvalue 1 on a fraction r and 0
    on the rest. A unit-norm tight frame (r > 1): B^T B = r I.

    Parameters
    ----------
    rate : float
        r = n/d > 0.

    Returns
    -------
    (lam, w) : (ndarray, ndarray)
        Atoms and their weights (sum w = 1, sum w lam = r).

    Examples
    --------
    >>> [a.tolist() for a in frame_spectrum(0.25)], [a.tolist() for a in frame_spectrum(2.0)]
    ([[1.0, 0.0], [0.25, 0.75]], [[2.0], [1.0]])
    """
    r = float(rate)
    if not (math.isfinite(r) and r > 0):
        raise ValueError(f"rate: expected a finite number > 0, got {rate!r}")
    if r <= 1:
        return np.array([1.0, 0.0]), np.array([r, 1.0 - r])
    return np.array([r]), np.array([1.0])


def encoder_spectrum(B) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalue atoms of B^T B for a finite encoder, rows first normalised to unit norm.

    Parameters
    ----------
    B : array_like
        The n x d encoder (no zero rows).

    Returns
    -------
    (lam, w) : (ndarray, ndarray)
        The d eigenvalues of B^T B (unit rows), each with weight 1/d.

    Examples
    --------
    >>> lam, w = encoder_spectrum(np.eye(2, 3) * 5.0)
    >>> np.round(lam, 12).tolist(), w.tolist()
    ([1.0, 1.0, 0.0], [0.3333333333333333, 0.3333333333333333, 0.3333333333333333])
    """
    B = np.asarray(B, dtype=np.float64)
    norms = np.linalg.norm(B, axis=1)
    if B.ndim != 2 or not np.all(norms > 0):
        raise ValueError("B: expected an n x d matrix without zero rows")
    s = np.linalg.svd(B / norms[:, None], compute_uv=False)
    d = B.shape[1]
    lam = np.zeros(d)
    lam[: s.size] = s**2
    return lam, np.full(d, 1.0 / d)


def sign_channel_mmse(tau):
    r"""E Var(z | y, p) for z = p + sqrt(tau) e, p ~ N(0, 1 - tau), e ~ N(0, 1), y = sign(z).

    Given p, z | (y = +1) is N(p, tau) truncated to z > 0, with variance tau (1 - u l - l^2),
    u = p / sqrt(tau), l = phi(u) / Phi(u); averaging over y and p (symmetric),

        E_c(tau) = 2 tau E_xi[Phi(u) - u phi(u) - phi(u)^2 / Phi(u)],  u = s xi,  s^2 = (1 - tau) / tau,

    by Gauss-Hermite quadrature in xi (s <= 2) or Gauss-Legendre in u on [-12, 0] and [0, 12]
    (s > 2; the integrand minus the step 1{u > 0} decays like phi(u), and the step integrates to 1/2). Proved (a Gaussian
    integral); the quadrature is checked against adaptive quadrature and Monte Carlo.
    E_c(1) = 1 - 2/pi (nothing known about z but its sign).

    Parameters
    ----------
    tau : float or array_like
        The prior variance of z given p, in (0, 1].

    Returns
    -------
    float or ndarray
        The mean posterior variance of z, in (0, tau (1 - 2/pi)].

    Examples
    --------
    >>> round(float(sign_channel_mmse(1.0)), 12) == round(1 - 2 / math.pi, 12)
    True
    """
    t = np.clip(np.asarray(tau, dtype=np.float64), 1e-300, 1.0)
    s = np.sqrt((1.0 - t) / t)
    flat = s.ravel()
    out = np.empty(flat.shape)
    small = flat <= 2.0
    if np.any(small):
        xi, wh = _HERMITE
        out[small] = _truncated_variance_mass(flat[small, None] * xi) @ wh / math.sqrt(2 * math.pi)
    if np.any(~small):
        nodes, wl = _LEGENDRE
        sb = flat[~small, None]
        neg, pos = 6.0 * (nodes - 1.0), 6.0 * (nodes + 1.0)  # [-12, 0] and [0, 12]
        density = lambda u: np.exp(-0.5 * (u / sb) ** 2) / (sb * math.sqrt(2 * math.pi))
        below = (_truncated_variance_mass(neg) * density(neg)) @ wl * 6.0
        above = ((_truncated_variance_mass(pos) - 1.0) * density(pos)) @ wl * 6.0
        out[~small] = below + above + 0.5  # + int_0^inf density (f = 1 beyond 12, to 1e-30)
    result = 2.0 * t * out.reshape(t.shape)
    return float(result) if np.ndim(tau) == 0 else result


def _truncated_variance_mass(u):
    """Phi(u) (1 - u l - l^2), l = phi(u) / Phi(u): the mass times the variance of a truncated N(u, 1)."""
    log_phi = -0.5 * u * u - 0.5 * math.log(2 * math.pi)
    lam = np.exp(log_phi - special.log_ndtr(u))
    var = np.clip(1.0 - u * lam - lam * lam, 0.0, 1.0)
    return special.ndtr(u) * var


@lru_cache(maxsize=32)
def _mmse_table(law: Law):
    """A cubic spline of mmse_L against log10 sigma^2 on [1e-6, 1e6] (24 nodes per decade).

    Checked against :meth:`Law.mmse` between the nodes in ``tests/test_amp.py`` (errors up to 3e-7
    measured, sparse laws near sigma^2 = 1); outside the table's range :meth:`Law.mmse` is called directly.
    """
    lo, hi, per = _TABLE_LOG10
    grid = np.linspace(lo, hi, int((hi - lo) * per) + 1)
    values = np.array([law.mmse(10.0**g) for g in grid])
    return interpolate.CubicSpline(grid, values)


def prior_mmse(law: Law, s2, *, table: bool = True):
    """mmse_L(sigma^2) for an array of noise variances: exact for the Gaussian law, else the table.

    With ``table=False`` every value is :meth:`Law.mmse` (adaptive quadrature, about 10 ms each):
    cheaper than building the table (about 3 s per law) for a few problems.

    Parameters
    ----------
    law : Law
        The coordinate law.
    s2 : array_like
        Noise variances sigma^2 >= 0 (inf: nothing observed, mmse 1).

    Returns
    -------
    ndarray
        mmse_L(sigma^2), in [0, 1].
    """
    s2 = np.asarray(s2, dtype=np.float64)
    if law.name == "gaussian":
        return np.where(np.isinf(s2), 1.0, s2 / (1.0 + np.where(np.isinf(s2), 0.0, s2)))
    if not table:
        return np.array([1.0 if np.isinf(v) else law.mmse(float(v)) for v in s2.ravel()]).reshape(s2.shape)
    lo, hi, _ = _TABLE_LOG10
    with np.errstate(divide="ignore"):
        g = np.log10(s2)
    inside = (g >= lo) & (g <= hi)
    out = np.where(inside, _mmse_table(law)(np.clip(g, lo, hi)), 0.0)
    for i in zip(*np.nonzero(~inside)):
        out[i] = 1.0 if np.isinf(s2[i]) else law.mmse(float(s2[i]))
    return np.clip(out, 0.0, 1.0)


@dataclass(frozen=True)
class StateEvolution:
    """The state evolution of GLM-VAMP for y = sign(Bx) (module docstring).

    Parameters
    ----------
    risk : ndarray
        Predicted normalised error of the estimate after t passes, t = 0 .. T (risk[0] = 1).
    linear_risk : ndarray
        The linear stage's error E_l per pass (t = 1 .. T, index t - 1): the error of the Gaussian
        (LMMSE) estimate of x that the prior stage denoises.
    precisions : ndarray
        Per pass (t = 1 .. T), the four message precisions (g_x^+, g_z^+, g_z^-, g_x^-).
    converged : bool
        Whether |risk[t] - risk[t - 1]| fell below the tolerance.
    """

    risk: np.ndarray
    linear_risk: np.ndarray
    precisions: np.ndarray
    converged: bool

    @property
    def fixed_point(self) -> float:
        """The last risk: the Bayes benchmark when ``converged``."""
        return float(self.risk[-1])


#: ``bayes_risk`` for more rates than this uses the mmse table (built once per law); fewer, direct quadrature.
TABLE_FROM = 16


def _passes(law, lam, w, rate, passes, tol):
    """The recursion of the module docstring for arrays of problems (lam, w: (M, K); rate: (M,))."""
    table = rate.size > TABLE_FROM
    gx_minus = np.zeros(rate.shape)
    gz_minus = np.zeros(rate.shape)
    ex = np.ones(rate.shape)
    risks, linear, precisions = [ex], [], []
    done = np.zeros(rate.shape, dtype=bool)
    for _ in range(passes):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # exact recovery: frozen below
            gx_plus = np.maximum(1.0 / ex - gx_minus, _TINY)
            ez = np.sum(w * lam / (gx_plus[:, None] + gz_minus[:, None] * lam), axis=1) / rate
            gz_plus = np.maximum(1.0 / ez - gz_minus, _TINY)
            ec = sign_channel_mmse(np.nan_to_num(np.minimum(1.0 / gz_plus, 1.0), nan=1.0))
            gz_minus = np.maximum(1.0 / ec - gz_plus, 0.0)
            el = np.sum(w / (gx_plus[:, None] + gz_minus[:, None] * lam), axis=1)
            gx_minus = np.nan_to_num(np.maximum(1.0 / el - gx_plus, 0.0), nan=np.inf)
            ex = prior_mmse(law, np.where(gx_minus > 0, 1.0 / np.maximum(gx_minus, _TINY), np.inf), table=table)
        linear.append(el)
        precisions.append(np.stack([gx_plus, gz_plus, gz_minus, gx_minus], axis=-1))
        risks.append(np.where(done, risks[-1], ex))
        done |= (np.abs(risks[-1] - risks[-2]) < tol) | (risks[-1] < _EXACT)
        if np.all(done):
            break
    return np.array(risks), np.array(linear), np.array(precisions), done


def _check_law(law, passes):
    if not isinstance(law, Law):
        raise ValueError(f"law: expected a twolayer.theory.priors.Law, got {law!r}")
    if isinstance(passes, bool) or not isinstance(passes, int) or passes < 1:
        raise ValueError(f"passes: expected an integer >= 1, got {passes!r}")


def state_evolution(law: Law, rate: float, *, spectrum=None, passes: int = 200,
                    tol: float = 1e-12) -> StateEvolution:
    """GLM-VAMP's Bayes-matched state evolution for y = sign(Bx), x i.i.d. of ``law``.

    See the module docstring for the recursion and its status.

    Parameters
    ----------
    law : Law
        The coordinate law.
    rate : float
        r = n/d > 0.
    spectrum : (ndarray, ndarray), optional
        Eigenvalue atoms (lam, w) of B^T B with unit rows (:func:`encoder_spectrum` for a finite
        encoder); default :func:`frame_spectrum` (the Gaussian-optimal encoder).
    passes : int
        The most passes (default 200).
    tol : float
        Stop when the risk changes by less than this in a pass (default 1e-12).

    Returns
    -------
    StateEvolution
        ``risk[t]`` for t = 0 .. T, and the precisions.

    References
    ----------
    .. [1] P. Schniter, S. Rangan and A. K. Fletcher, "Vector approximate message passing for the
       generalized linear model", Asilomar 2016, arXiv:1612.01186.
    .. [2] S. Rangan, P. Schniter and A. K. Fletcher, "Vector approximate message passing",
       IEEE Trans. Inf. Theory 65 (2019), arXiv:1610.03082.

    Examples
    --------
    >>> se = state_evolution(Law("gaussian"), 0.5)
    >>> round(se.fixed_point, 10) == round(1 - 1 / math.pi, 10)     # 1 - 2r/pi: linear is Bayes
    True
    """
    _check_law(law, passes)
    lam, w = frame_spectrum(rate) if spectrum is None else (np.asarray(spectrum[0], float),
                                                            np.asarray(spectrum[1], float))
    r = float(np.sum(lam * w)) if spectrum is not None else float(rate)
    if spectrum is not None and not (lam.shape == w.shape and np.all(lam >= 0) and abs(w.sum() - 1) < 1e-9):
        raise ValueError("spectrum: expected atoms (lam, w) with lam >= 0 and weights summing to 1")
    risks, linear, precisions, done = _passes(law, lam[None, :], w[None, :], np.array([r]), passes, tol)
    return StateEvolution(risks[:, 0], linear[:, 0], precisions[:, 0, :], bool(done[0]))


def bayes_risk(law: Law, rates, *, passes: int = 200, tol: float = 1e-12):
    """The Bayes benchmark for the Gaussian-optimal encoder at each rate: the state evolution's fixed point.

    Vectorised over rates: for more than ``TABLE_FROM`` rates the prior's mmse comes from a table
    built once per law (about 2-3 s; values within 3e-7), else from direct quadrature.

    Parameters
    ----------
    law : Law
        The coordinate law.
    rates : float or array_like
        Rates r = n/d > 0.
    passes, tol
        As in :func:`state_evolution`.

    Returns
    -------
    float or ndarray
        The fixed-point risk per rate (the shape of ``rates``).

    Examples
    --------
    >>> round(float(bayes_risk(Law("gaussian"), 0.25)), 10) == round(1 - 0.5 / math.pi, 10)
    True
    """
    _check_law(law, passes)
    r = np.atleast_1d(np.asarray(rates, dtype=np.float64))
    for value in r:
        frame_spectrum(value)  # validates
    lam = np.where(r[:, None] <= 1, [[1.0, 0.0]], np.stack([r, np.zeros_like(r)], axis=1))
    w = np.where(r[:, None] <= 1, np.stack([r, 1 - r], axis=1), [[1.0, 0.0]])
    risks, _, _, _ = _passes(law, lam, w, r, passes, tol)
    out = risks[-1]
    return float(out[0]) if np.ndim(rates) == 0 else out.reshape(np.shape(rates))
