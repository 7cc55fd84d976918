r"""Sign Gaussian optimum for a spectrum with one dominant eigenvalue: exact arcsin on the spike.

Status: *derived under an approximation* (first order in the bulk correlations, one spike),
validated numerically against converged minimisations of the exact population risk
(theory/spiked.md, ``benchmarks/spiked.py``). It is not a bound in either direction.

Encoder as the source sees it (unit rows W of B Sigma^{1/2}; sign ignores the row norms),
spike e_1 = the top eigenvector, sigma_1 its eigenvalue, the other directions the *bulk*:

    w_i = sqrt(rho) e_1 + sqrt(1 - rho) v_i,   |v_i| = 1,  v_i in the bulk,  sum_i v_i = 0,

every one of the n neurons carrying the same share rho of the spike, the bulk parts forming a
frame with frame operator V^T V = diag(m) along the bulk eigenvectors (sum m = n, at most n - 1
directions since V^T 1 = 0). Then W W^T = rho 1 1^T + (1 - rho) Q, Q = V V^T, and the exact
kernel is arcsin(rho + (1 - rho) q_ij) off the diagonal, pi/2 on it. Keeping arcsin exact in
the spike and expanding to first order in the (small) bulk overlaps q_ij,

    arcsin(W W^T) ~ arcsin(rho) 1 1^T + e I + h (1 - rho) V V^T,
    h = (1 - rho^2)^{-1/2},   e = pi/2 - arcsin(rho) - sqrt((1 - rho)/(1 + rho)),

and, because V^T 1 = 0 (spike and bulk do not interfere), the risk splits:

    R(rho, m) = [ sigma_1 (1 - n rho / (e + n arcsin rho))
                  + (1 - 1/h) sum_bulk sigma_j + (1/h) sum_bulk sigma_j c_b / (m_j + c_b) ] / tr Sigma,
    c_b = e / (h (1 - rho)).

The bulk term is the linearised allocation problem of :mod:`.limits` with the constant c_b in
place of c = pi/2 - 1 (water-filling, budget n, at most n - 1 active directions); the spike
term is exact (the arcsin kernel of n neurons sharing one direction). The prediction is the
minimum over rho in (0, 1) (a scalar search on a grid of logit(rho), refined).

Checks: rho = 0 gives h = 1, e = c, c_b = c: the linearised formula without the spike
direction. An isotropic spectrum is recovered at rho = 1/n (the orthonormal frame seen from
the direction of the sum of its rows: q_ij = -1/(n - 1), off-diagonal W W^T = 0), up to the
O(n^-3) error of the first-order expansion (on the optimistic side): 1 - 2r/pi for r <= 1
within 1e-6 relative for n >= 8 (1e-4 at n = 2).
Where it breaks: the first-order bulk expansion needs small bulk overlaps; a bulk that itself
has strong leading directions (a second spike, or power laws k^-alpha with alpha >= 1.5, where
the linearised allocation puts several neurons' worth of frame weight on a few directions) is
treated as linearised and the prediction is then optimistic (a few % on the measured raw image
patches and power laws; theory/spiked.md has the table). For r > 1 and a flat spectrum the
forced spike structure is slightly pessimistic (1e-4 relative at r = 2).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.optimize

from .._validation import as_rate, as_spectrum
from .limits import min_risk

#: grid of logit(rho) for the scalar search (then refined by a bounded Brent search).
_LOGIT_GRID = np.linspace(-16.0, 16.0, 641)


def _kernel_constants(rho):
    """(a, h, e, c_b) of the module docstring for share(s) rho in (0, 1)."""
    rho = np.asarray(rho, dtype=np.float64)
    a = np.arcsin(rho)
    t = np.sqrt((1.0 - rho) / (1.0 + rho))  # h (1 - rho)
    h = 1.0 / np.sqrt((1.0 - rho) * (1.0 + rho))
    e = np.maximum(math.pi / 2.0 - a - t, 0.0)
    cb = np.where(t > 0, e / np.maximum(t, 1e-300), 1.0)
    return a, h, e, cb


def _bulk_waterfill(sigma_b: np.ndarray, n: float, cb: np.ndarray, pmax: int):
    """min over m of sum_j sigma_j cb / (m_j + cb), sum m = n, <= pmax active (one value per cb).

    sigma_b sorted descending. Returns (value, p) per entry of cb; p = 0 means no bulk direction.
    Same O(d) scan as :func:`.limits._allocation_scan`: with the top p active, the value is
    F(p) = cb S_p^2 / (n + p cb) + tail_p, admissible when m_p >= 0.
    """
    total = float(sigma_b.sum())
    cb = np.atleast_1d(cb).reshape(-1, 1)
    if pmax < 1 or sigma_b.size == 0:
        return np.full(cb.shape[0], total), np.zeros(cb.shape[0], dtype=int)
    sb = sigma_b[: min(pmax, sigma_b.size)]
    p = np.arange(1, sb.size + 1, dtype=np.float64)
    S = np.cumsum(np.sqrt(sb))
    tail = np.clip(total - np.cumsum(sb), 0.0, None)
    denom = n + p * cb
    F = cb * S**2 / denom + tail
    admissible = denom * np.sqrt(sb) >= cb * S * (1.0 - 1e-12)
    F = np.where(admissible, F, np.inf)
    best = np.argmin(F, axis=1)
    return F[np.arange(cb.shape[0]), best], best + 1


def _risk_of_rho(rho, sigma: np.ndarray, n: float):
    """Unnormalised model risk R(rho) tr Sigma (optimal bulk allocation) for share(s) rho."""
    rho = np.atleast_1d(np.asarray(rho, dtype=np.float64))
    a, h, e, cb = _kernel_constants(rho)
    s1, sb = sigma[0], sigma[1:]
    spike = s1 * (1.0 - n * rho / (e + n * a))
    pmax = max(0, math.floor(n + 1e-9) - 1)
    F, p = _bulk_waterfill(sb, n, cb, pmax)
    bulk = (1.0 - 1.0 / h) * sb.sum() + F / h
    return spike + bulk, p


def _check_spikes(spikes) -> int:
    if spikes is None:
        return 1
    if isinstance(spikes, bool) or not isinstance(spikes, (int, np.integer)) or spikes not in (0, 1):
        raise ValueError(
            f"spikes must be 0 (the linearised allocation, min_risk) or 1 (the top eigenvalue treated "
            f"exactly) or None (= 1); got {spikes!r}. Several exact spikes are not implemented."
        )
    return int(spikes)


def spiked_structure(rate, spectrum, *, spikes=None) -> dict:
    r"""The optimal structure of the one-spike model and its predicted risk.

    Minimises R(rho, m) of the module docstring over the spike share rho in (0, 1) and the bulk
    allocation m (water-filling with the constant c_b(rho)). The structure needs n >= 2 neurons;
    for n = r d < 2 the risk is the time-sharing chord through n = 0 (risk 1), n = 1 (exact: one
    neuron on the top eigenvector, 1 - (2/pi) sigma_1 / tr Sigma) and the model at n = 2.

    Parameters
    ----------
    rate : float
        Rate r = n/d (d = ``len(spectrum)``), finite and > 0.
    spectrum : array_like
        Eigenvalues sigma_j of the source covariance (finite, >= 0, positive sum; any order).
    spikes : {None, 0, 1}, optional
        1 (default, also None): the top eigenvalue is the spike; 0: no spike, the linearised
        allocation of :func:`.limits.min_risk`.

    Returns
    -------
    dict
        ``risk`` (float, normalised), ``spikes``, ``n`` (= r d), ``rho`` (share of the spike in
        every neuron's unit row, sum_i rho = n rho is the spike's frame weight), ``spike_weight``
        (n rho), ``spike_risk`` (sigma_1's unexplained fraction), ``bulk_constant`` (c_b),
        ``bulk_rank`` (n - 1 cap), ``bulk_active`` (number of bulk directions with m > 0),
        ``bulk_allocation`` (m along the bulk eigenvalues, descending order; sums to n) and
        ``h`` (the first-order bulk factor). With ``spikes=0`` only ``risk``, ``spikes`` and ``n``.

    Raises
    ------
    ValueError
        If ``rate`` is not finite and > 0, ``spectrum`` is invalid or ``spikes`` is not 0, 1 or None.

    Examples
    --------
    >>> st = spiked_structure(0.5, [1.0] * 64)  # isotropic: rho = 1/n, back to 1 - 2r/pi
    >>> round(st["risk"], 6), round(st["rho"] * 32, 3)
    (0.68169, 1.0)
    """
    k = _check_spikes(spikes)
    r = as_rate(rate)
    sigma = np.sort(as_spectrum(spectrum))[::-1]
    d = sigma.size
    n = r * d
    if k == 0 or d == 1:
        return {"risk": float(min_risk(r, spectrum=sigma)), "spikes": 0, "n": n}
    n_eff = max(n, 2.0)  # the structure needs n >= 2 (unit bulk parts summing to 0)
    rho_grid = 1.0 / (1.0 + np.exp(-_LOGIT_GRID))
    values, _ = _risk_of_rho(rho_grid, sigma, n_eff)
    i = int(np.argmin(values))
    lo, hi = _LOGIT_GRID[max(i - 1, 0)], _LOGIT_GRID[min(i + 1, _LOGIT_GRID.size - 1)]
    res = scipy.optimize.minimize_scalar(
        lambda t: float(_risk_of_rho(1.0 / (1.0 + math.exp(-t)), sigma, n_eff)[0][0]),
        bounds=(lo, hi), method="bounded", options={"xatol": 1e-10},
    )
    t_best = res.x if res.fun <= values[i] else _LOGIT_GRID[i]
    rho = 1.0 / (1.0 + math.exp(-t_best))
    value, p = _risk_of_rho(rho, sigma, n_eff)
    total = sigma.sum()
    risk = float(value[0] / total)
    a, h, e, cb = (float(x) for x in _kernel_constants(rho))
    p = int(p[0])
    m = np.zeros(d - 1)
    if p:
        root = np.sqrt(sigma[1 : p + 1])
        m[:p] = np.clip((n_eff + p * cb) * root / root.sum() - cb, 0.0, None)
    if n < 2.0:  # time-sharing chords through n = 0 (risk 1) and the exact one-neuron optimum
        one = 1.0 - (2.0 / math.pi) * sigma[0] / total  # sign(e_1 . x): explains (2/pi) sigma_1
        risk = 1.0 - n * (1.0 - one) if n < 1.0 else one + (n - 1.0) * (risk - one)
    return {
        "risk": float(risk), "spikes": 1, "n": n, "rho": rho, "spike_weight": n_eff * rho,
        "spike_risk": float(1.0 - n_eff * rho / (e + n_eff * a)), "bulk_constant": cb,
        "bulk_rank": max(0, math.floor(n_eff + 1e-9) - 1), "bulk_active": p, "bulk_allocation": m, "h": h,
    }


def spiked_min_risk(rate, spectrum, *, spikes=None) -> float:
    r"""Predicted minimal sign risk with the top eigenvalue's arcsin kernel kept exact.

    R = min over rho in (0, 1) of

        [ sigma_1 (1 - n rho / (e + n arcsin rho)) + (1 - 1/h) S_bulk
          + (1/h) min_{sum m = n, <= n-1 active} sum_bulk sigma_j c_b / (m_j + c_b) ] / tr Sigma,

    h = (1 - rho^2)^{-1/2}, e = pi/2 - arcsin rho - sqrt((1 - rho)/(1 + rho)), c_b = e / (h (1 - rho)),
    n = r d, S_bulk = sum of the eigenvalues but the top one. Derived under a first-order
    expansion in the bulk correlations (module docstring; status: derived, validated
    numerically, optimistic when the bulk has strong leading directions). See
    :func:`spiked_structure` for the minimising structure.

    Parameters
    ----------
    rate : float
        Rate r = n/d (d = ``len(spectrum)``), finite and > 0.
    spectrum : array_like
        Eigenvalues of the source covariance (finite, >= 0, positive sum; any order).
    spikes : {None, 0, 1}, optional
        1 (default, also None): the top eigenvalue is treated exactly; 0: the linearised
        allocation (:func:`.limits.min_risk`).

    Returns
    -------
    float
        The predicted normalised risk.

    Raises
    ------
    ValueError
        If ``rate`` is not finite and > 0, ``spectrum`` is invalid or ``spikes`` is not 0, 1 or None.

    Examples
    --------
    >>> round(spiked_min_risk(1 / 64, [256.0] + [1.0] * 63), 6)  # n = 1: 1 - (2/pi) 256/319 (exact)
    0.489108
    """
    return spiked_structure(rate, spectrum, spikes=spikes)["risk"]


__all__ = ["spiked_min_risk", "spiked_structure"]
