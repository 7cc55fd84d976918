r"""Sign-flip orbit encoders: the exact sign risk of a group-structured encoder, block-diagonal in Walsh characters.

Status: the risk formula is *exact* (proved below: a block-diagonalisation, checked against
:func:`.risk.population_risk` in the tests); its minimum over the family is the exact risk of an
explicit encoder, hence an **achievable upper bound** on the sign Gaussian optimum. The minimum
is found numerically (non-convex; L-BFGS from several random starts), so what is returned is an
upper bound on the family's minimum too. Validated against converged multi-start minimisations of
the exact population risk on raw image-patch spectra and power laws (theory/spiked.md): within
0.43 % of them in all 20 cells at the default ``orbits=8`` and within 0.8 % in 7 held-out cells
(larger d, steeper power laws, two spikes); the error grows with n: at n = d = 1024 (k^-2, r = 1)
the default is at least 1.55 % above the optimum, 32 orbits at least 0.86 % (theory/orbits.md).

Family. n = P 2^k neurons indexed by (g, p): g in the group Z_2^k, p = 1 ... P (the *orbits*).
In whitened coordinates (unit rows; the sign code ignores row norms) and the source's eigenbasis
(sigma descending), with the Walsh characters chi_s(g) = (-1)^{s.g}:

    u_{g,p} = sum_s chi_s(g) sum_l A_{s,p,l} e_{j(s,l)},   sum_{s,l} A_{s,p,l}^2 = 1,

each character s carrying P eigen-directions j(s, l) (disjoint; a permutation ``perm`` of the
characters with perm[0] = 0, character perm[c] gets directions c, c + 2^k, c + 2 2^k, ..., so the
trivial character, shared by every neuron, carries e_1). Acting with h flips the signs of the
directions of every character with chi(h) = -1: the ``+-`` pairs of the measured optima are the
k = 1 case. Overlaps depend on (g, h) only through g + h,

    u_{g,p} . u_{h,q} = f_{pq}(g + h),     f(t) = sum_s chi_s(t) A_s A_s^T     (P x P),

so the kernel arcsin(u . u') (pi/2 on the diagonal) is a group convolution with P x P blocks
F(t) = arcsin f(t) (elementwise, F_pp(0) = pi/2), and the characters diagonalise it: its
eigen-blocks are Lambda_s = sum_t chi_s(t) F(t). The column of U for direction j(s, l) is
chi_s (x) A_s[:, l], so (optimal linear decoder; population_risk's tr(C M^{-1} C^T) with the
2/pi factors cancelled)

    R = 1 - 2^k sum_s tr(Lambda_s^{-1} A_s diag(sigma_{j(s, .)}) A_s^T) / tr Sigma.

One evaluation costs two Walsh-Hadamard transforms of 2^k P x P blocks and 2^k P x P solves,
against n x n x d products for the exact risk of a general encoder. P = n (k = 0) is the exact
problem restricted to the top n eigen-directions; P = 1 is a single orbit (all neurons alike).

Orbit count: k is the largest integer with 2^k dividing n and n / 2^k >= ``orbits``; so for odd n
(or n < 2 ``orbits``) the family is the restricted exact problem, with n^2 parameters.
Where it breaks: nothing in the formula (exact); the minimisation is non-convex and its result
depends on the starts (spread across 4 starts measured at <= 0.25 % on the spectra above); a larger
``orbits`` gives a larger family (a lower bound from the same starts is not guaranteed).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg
import scipy.optimize

from .._validation import as_rate, as_size, as_spectrum


def orbit_shape(n: int, orbits: int = 8) -> tuple[int, int]:
    """(P, k) with n = P 2^k: the largest k with 2^k | n and n / 2^k >= ``orbits`` (k = 0 if none).

    Examples
    --------
    >>> orbit_shape(128), orbit_shape(26), orbit_shape(13), orbit_shape(6)
    ((8, 4), (13, 1), (13, 0), (6, 0))
    """
    n = as_size(n, "n")
    orbits = as_size(orbits, "orbits")
    k = 0
    while n % 2 ** (k + 1) == 0 and n // 2 ** (k + 1) >= orbits:
        k += 1
    return n // 2**k, k


def _assigned_variances(sigma: np.ndarray, P: int, k: int, perm: np.ndarray) -> np.ndarray:
    """S[s, l] = sigma_{j(s, l)}: character perm[c] gets directions c + l 2^k (0 past d).

    Eigenvalues below 1e-12 of the largest count as 0 (rounding noise of a covariance with zero
    directions, such as never-varying pixels): no weight goes there.
    """
    N = 2**k
    sigma = np.where(sigma > 1e-12 * np.max(sigma), sigma, 0.0)
    S = np.zeros((N, P))
    for c in range(N):
        j = c + N * np.arange(P)
        S[perm[c]] = np.where(j < sigma.size, sigma[np.minimum(j, sigma.size - 1)], 0.0)
    return S


def _normalised(A, S, xp):
    """Amplitudes zeroed on slots without variance (S = 0), then each orbit p scaled to unit norm over (s, l).

    A slot of zero variance is not a direction of the source: weight there would act as
    independent dither noise in the whitened coordinates, not as a function of x.
    """
    A = A * (S > 0)[:, None, :]
    norm = xp.sqrt(xp.sum(A * A, axis=(0, 2)))
    return A / norm[None, :, None]


def _explained(A, S, H, xp, solve):
    """2^k sum_s tr(Lambda_s^{-1} A_s diag(S_s) A_s^T) for row-normalised amplitudes A (N x P x P)."""
    P = A.shape[1]
    eye = xp.eye(P)
    G = xp.einsum("spl,sql->spq", A, A)
    f = xp.einsum("ts,spq->tpq", H, G)  # f(t) = sum_s chi_s(t) A_s A_s^T
    F = xp.arcsin(xp.clip(f, -1.0 + 1e-13, 1.0 - 1e-13))
    diag0 = F[0] * (1.0 - eye) + (math.pi / 2.0) * eye  # F_pp(0) = arcsin(1) exactly
    F = xp.concatenate([diag0[None], F[1:]], axis=0)
    Lam = xp.einsum("ts,tpq->spq", H, F)
    T = xp.einsum("spl,sl,sql->spq", A, S, A)
    return H.shape[0] * xp.sum(xp.trace(solve(Lam, T), axis1=1, axis2=2))


def orbit_risk(amplitudes, assigned_variances, trace=None) -> float:
    r"""Exact normalised risk of the orbit encoder with amplitudes A (2^k x P x P), float64 NumPy.

    R = 1 - 2^k sum_s tr(Lambda_s^{-1} A_s diag(S_s) A_s^T) / tr Sigma (module docstring), with
    ``assigned_variances`` S[s, l] = sigma of the direction character s carries in slot l. Slots with
    S = 0 (no such direction, or a zero eigenvalue) get no weight, then the rows A[:, p, :] are
    normalised here.

    Parameters
    ----------
    amplitudes : array_like
        2^k x P x P array, not all zero in any orbit p.
    assigned_variances : array_like
        2^k x P array of eigenvalues (>= 0).
    trace : float, optional
        tr Sigma, every eigenvalue including those no character carries (default: the sum of
        ``assigned_variances``, right when every direction is assigned).

    Returns
    -------
    float
        The exact normalised risk of the encoder.
    """
    A = np.asarray(amplitudes, dtype=np.float64)
    S = np.asarray(assigned_variances, dtype=np.float64)
    N = A.shape[0]
    if A.ndim != 3 or A.shape[1] != A.shape[2] or S.shape != A.shape[:2] or N & (N - 1):
        raise ValueError(f"amplitudes must be 2^k x P x P and assigned_variances 2^k x P; got {A.shape} and {S.shape}")
    H = scipy.linalg.hadamard(N).astype(np.float64)
    E = _explained(_normalised(A, S, np), S, H, np, lambda L, T: np.linalg.solve(L, T))
    return float(1.0 - E / (S.sum() if trace is None else float(trace)))


def orbit_encoder(amplitudes, perm, spectrum) -> np.ndarray:
    """Whitened unit rows U (n x d, n = 2^k P; row g P + p is neuron (g, p)) in the eigenbasis of ``spectrum``.

    ``spectrum`` sorted descending (d = its length); ``perm`` the character order (perm[0] = 0).
    B = U diag(spectrum)^(-1/2) in that basis is an encoder with this sign code.
    """
    sigma = np.asarray(spectrum, dtype=np.float64)
    A = np.asarray(amplitudes, dtype=np.float64)
    N, P, _ = A.shape
    A = _normalised(A, _assigned_variances(sigma, P, int(math.log2(N)), perm), np)
    H = scipy.linalg.hadamard(N).astype(np.float64)
    U = np.zeros((N, P, sigma.size))
    for c in range(N):
        s = perm[c]
        for slot in range(P):
            j = c + N * slot
            if j < sigma.size:
                U[:, :, j] += H[:, s][:, None] * A[s, :, slot][None, :]
    return U.reshape(N * P, sigma.size)


def _minimise(S: np.ndarray, P: int, k: int, x0: np.ndarray, maxiter: int, total: float):
    import jax
    import jax.numpy as jnp

    N = 2**k
    with jax.enable_x64(True):
        H = jnp.asarray(scipy.linalg.hadamard(N), dtype=jnp.float64)
        Sj = jnp.asarray(S)

        def solve(L, T):
            eye = jnp.eye(L.shape[-1])
            return jnp.linalg.solve(L + 1e-13 * eye, T)

        def risk(x):
            A = _normalised(x.reshape(N, P, P), Sj, jnp)
            return 1.0 - _explained(A, Sj, H, jnp, solve) / total

        value_and_grad = jax.jit(jax.value_and_grad(risk))

        def fun(x):
            value, grad = value_and_grad(jnp.asarray(x))
            value = float(value)
            if not math.isfinite(value):
                return math.inf, np.zeros_like(x)
            return value, np.asarray(grad, dtype=np.float64)

        return scipy.optimize.minimize(fun, x0, jac=True, method="L-BFGS-B",
                                       options={"maxiter": maxiter, "maxfun": 2 * maxiter, "ftol": 1e-15,
                                                "gtol": 1e-12, "maxcor": 30})


def orbit_structure(rate, spectrum, *, orbits: int = 8, starts: int = 4, seed: int = 0,
                    maxiter: int = 4000) -> dict:
    r"""The best orbit encoder found for n = round(r d) sign neurons and its exact risk.

    Minimises :func:`orbit_risk` over the amplitudes (L-BFGS-B, float64 JAX gradients) from
    ``starts`` random starts; start t draws its own character permutation (trivial character
    first) and Gaussian amplitudes scaled by sigma^(1/4) of their directions (frame weights
    ~ sqrt(sigma)), from ``numpy.random.default_rng(seed)``. Same seed, same result.

    Parameters
    ----------
    rate : float
        Rate r = n/d (d = ``len(spectrum)``), finite and > 0; n = round(r d) >= 1.
    spectrum : array_like
        Eigenvalues of the source covariance (finite, >= 0, positive sum; any order).
    orbits : int, optional
        The smallest orbit count P wanted (default 8; :func:`orbit_shape`). 1 is a single orbit.
    starts : int, optional
        Random starts (default 4).
    seed : int, optional
        Seed of the starts (default 0).
    maxiter : int, optional
        L-BFGS-B iterations per start (default 4000).

    Returns
    -------
    dict
        ``risk`` (the exact normalised risk of the best encoder, :func:`orbit_risk`), ``n``, ``P``,
        ``k``, ``amplitudes`` (2^k x P x P, rows normalised), ``perm`` (character order),
        ``encoder`` (whitened unit rows, n x d, in the basis of the eigenvalues sorted descending),
        ``start_risks`` (the final risk of every start) and ``converged`` (of the best start).

    Raises
    ------
    ValueError
        If ``rate`` or ``spectrum`` is invalid, round(r d) < 1, or ``orbits``, ``starts`` or
        ``maxiter`` is not a positive integer.

    Examples
    --------
    >>> st = orbit_structure(0.5, [1.0] * 16)  # isotropic: an orthonormal frame, 1 - 2r/pi = 0.681690
    >>> round(st["risk"], 6), (st["P"], st["k"])
    (0.68169, (8, 0))
    """
    r = as_rate(rate)
    sigma = np.sort(as_spectrum(spectrum))[::-1]
    d = sigma.size
    n = int(round(r * d))
    if n < 1:
        raise ValueError(f"rate * d = {r * d:g} rounds to 0 neurons; the orbit family needs n = round(r d) >= 1")
    starts = as_size(starts, "starts")
    maxiter = as_size(maxiter, "maxiter")
    P, k = orbit_shape(n, orbits)
    N = 2**k
    rng = np.random.default_rng(seed)
    best, risks = None, []
    for _ in range(starts):
        perm = np.concatenate([[0], 1 + rng.permutation(N - 1)]).astype(int)
        S = _assigned_variances(sigma, P, k, perm)
        # amplitudes ~ sigma^(1/4): frame weights ~ sqrt(sigma), as the water-filling at large m and the
        # measured optima (m_j ~ sigma_j^0.4-0.47) have; sqrt(sigma) amplitudes start steep spectra with
        # nearly parallel rows (theory/orbits.md: +8.3 % instead of +0.7 % on k^-3, r = 1)
        x0 = (((S + 1e-3 * sigma[0]) ** 0.25)[:, None, :] * rng.standard_normal((N, P, P))).ravel()
        res = _minimise(S, P, k, x0, maxiter, float(sigma.sum()))
        A = res.x.reshape(N, P, P)
        value = orbit_risk(A, S, sigma.sum()) if np.all(np.isfinite(A)) else math.inf
        risks.append(value)
        if best is None or value < best[0]:
            best = (value, A, perm, S, bool(res.success))
    value, A, perm, S, converged = best
    if not math.isfinite(value):
        raise FloatingPointError("every start of the orbit minimisation ended at a non-finite risk")
    A = _normalised(A, S, np)
    return {"risk": float(value), "n": n, "P": P, "k": k, "amplitudes": A, "perm": perm,
            "encoder": orbit_encoder(A, perm, sigma), "start_risks": risks, "converged": converged}


def orbit_min_risk(rate, spectrum, *, orbits: int = 8, starts: int = 4, seed: int = 0) -> float:
    r"""Exact sign risk of the best orbit encoder found: an achievable upper bound on the Gaussian optimum.

    min over the orbit family (module docstring) of

        R = 1 - 2^k sum_s tr(Lambda_s^{-1} A_s diag(sigma_{j(s, .)}) A_s^T) / tr Sigma,
        Lambda_s = sum_t chi_s(t) arcsin(f(t)),   f(t) = sum_s chi_s(t) A_s A_s^T,

    found by L-BFGS from ``starts`` random starts. See :func:`orbit_structure` for the
    parameters and the encoder.

    Examples
    --------
    >>> round(orbit_min_risk(1 / 64, [256.0] + [1.0] * 63), 6)  # n = 1: sign(e_1 . x), 1 - (2/pi) 256/319
    0.489108
    """
    return orbit_structure(rate, spectrum, orbits=orbits, starts=starts, seed=seed)["risk"]


__all__ = ["orbit_encoder", "orbit_min_risk", "orbit_risk", "orbit_shape", "orbit_structure"]
