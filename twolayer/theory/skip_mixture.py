r"""The denoising skip-connection autoencoder on a Gaussian mixture with means (clusters).

Network x_hat = b x~ + A sigma(B x~), input x~ = x + tau eps (eps ~ N(0, I), ``noise`` = tau^2,
absolute), target x, source x ~ sum_k w_k N(mu_k, Sigma_k): the setting of Cui & Zdeborová,
"High-dimensional asymptotics of denoising autoencoders" (NeurIPS 2023, arXiv:2305.11041),
with an untied (A, B) and the sign or the linear code. theory/skip_mixture.md has the derivations.

**Moments (proved: Gaussian integrals within each component).** Within component k, x ~
N(mu, S), x~ ~ N(mu, S + tau^2 I) and z = B x~ ~ N(B mu, K~), K~ = B (S + tau^2 I) B^T, jointly
Gaussian. With s = sigma(z),

    C~ = E[x~ s^T]  (sign: :func:`.gaussian_mixture.sign_moments_with_mean` at the noisy covariance)
    M  = E[s s^T]   (the same call: 4 Phi_2(a_i, a_j; rho_ij) - 2 Phi(a_i) - 2 Phi(a_j) + 1)
    C  = E[x s^T] = C~ - tau^2 B^T diag(E sigma'(z_i)),    E sign'(z_i) = 2 phi(a_i) / s_i,

the last by Stein's lemma on eps alone (E[tau eps_j sigma(z_i)] = tau^2 B_ij E sigma'(z_i)),
a_i = (B mu)_i / s_i, s_i^2 = K~_ii. Linear code: C = (S + mu mu^T) B^T, C~ = C + tau^2 B^T,
M = B (S + tau^2 I + mu mu^T) B^T. Mixture moments are the w_k-averages;
T = E[x . x~] = E||x||^2 = sum_k w_k (tr S_k + |mu_k|^2), E||x~||^2 = T + tau^2 d.

**Risk (proved).** R(b, A, B) = E||x - x_hat||^2 / T with numerator

    T - 2 b T + b^2 (T + tau^2 d) - 2 tr(A^T C) + 2 b tr(A^T C~) + tr(A M A^T).

**Optimal (b, A) for a fixed B (proved: the normal equations of a convex quadratic).**

    A*(b) = (C - b C~) M^+,
    b*    = (T - tr(C M^+ C~^T)) / (T + tau^2 d - tr(C~ M^+ C~^T)),
    R*    = (T - b* T - tr(A*^T C)) / T.

**Large d, bounded n (derived).** With E_c = T - tr(C M^+ C^T) (the numerator of the code-only
denoising risk R_c(B), no skip), D = C~ - C, x = tr(C M^+ D^T), y = tr(D M^+ D^T):
b* = (E_c - x) / (E_c + tau^2 d - 2x - y) exactly, and x, y = O(n) while tau^2 d grows, so

    b* = E_c / (E_c + tau^2 d) + O(n / d)     (:func:`large_d_skip_weight`):

the skip is the Wiener gain of what the code leaves. With ||mu_k||^2 = O(1) the code explains
O(n) of T = O(d), so b* -> T / (T + tau^2 d) (:func:`rescaling_skip_weight`, the skip-only net);
with ||mu_k||^2 of order d and the code reading the cluster, E_c -> sum_k w_k tr S_k, and
b* -> tr S / (tr S + tau^2 d), the within-cluster gain. Breaks when M is near-singular (x, y
unbounded) and for n proportional to d (x, y = O(d)): there only the exact b* holds.

**Linear code, equal isotropic components S_k = sigma^2 I (proved).** If span{mu_k} lies in the
row space of B and that is not all of R^d, b* = sigma^2 / (sigma^2 + tau^2) and the network is
the linear MMSE (Wiener) estimator Sigma_x (Sigma_x + tau^2 I)^{-1}: on the orthogonal complement
of the row space only b acts, and the Wiener filter is sigma^2 / (sigma^2 + tau^2) there.

**Bayes (proved).** E[x | x~] = sum_k p(k | x~) (mu_k + S_k (S_k + tau^2 I)^{-1} (x~ - mu_k)),
p(k | x~) ∝ w_k N(x~; mu_k, S_k + tau^2 I) (:func:`posterior_mean`); for two clusters ±mu, S =
sigma^2 I, w = 1/2 it is c x~ + (1 - c) mu tanh(mu . x~ / (sigma^2 + tau^2)), c = sigma^2 /
(sigma^2 + tau^2): a skip connection plus one tanh unit (:func:`two_cluster_bayes_risk`).
"""

from __future__ import annotations

import numpy as np

from .gaussian_mixture import _BVN_NODES, sign_moments_with_mean
from .risk import _solve_psd


def _check_mixture(B, covariances, weights, means):
    B = np.asarray(B, dtype=np.float64)
    if B.ndim != 2 or not np.all(np.isfinite(B)):
        raise ValueError(f"B: expected a finite n x d array, got shape {B.shape}")
    d = B.shape[1]
    covariances = [np.asarray(c, dtype=np.float64) for c in covariances]
    weights = np.asarray(weights, dtype=np.float64)
    if any(c.shape != (d, d) for c in covariances):
        raise ValueError(f"covariances: d x d (d = {d}) expected, got {[c.shape for c in covariances]}")
    if weights.shape != (len(covariances),) or np.any(weights < 0) or not np.isclose(weights.sum(), 1.0):
        raise ValueError("weights: one non-negative weight per covariance, summing to 1")
    means = [np.zeros(d)] * len(covariances) if means is None else [np.asarray(m, dtype=np.float64) for m in means]
    if len(means) != len(covariances) or any(m.shape != (d,) for m in means):
        raise ValueError(f"means: one length-{d} vector per covariance expected")
    return B, covariances, weights, means


def _activation_name(activation):
    name = getattr(activation, "name", activation)
    if name not in ("sign", "linear"):
        raise ValueError(f"activation: the mixture with means is exact for the sign or the linear code, not {name!r}")
    return name


def skip_mixture_moments(B, covariances, weights, means=None, *, activation="sign", noise=0.0, xp=np,
                         nodes: int = _BVN_NODES):
    """(C, C~, M, T, T~) of the module docstring: E[x s^T], E[x~ s^T], E[s s^T], E[x . x~], E||x~||^2 (proved).

    ``xp = numpy`` validates its inputs and returns float64; ``xp = jax.numpy`` (no checks; call
    under ``jax.enable_x64``) is differentiable in B while no two rows of B are parallel.

    >>> import numpy as np
    >>> C, Ct, M, T, Tt = skip_mixture_moments(np.eye(1, 2), [np.eye(2)] * 2, [0.5, 0.5],
    ...                                        [np.zeros(2), np.zeros(2)], noise=1.0)
    >>> np.round(C[:, 0] * np.sqrt(np.pi), 6).tolist(), float(M[0, 0]), float(T), float(Tt)  # sqrt(2/pi)/sqrt(2)
    ([1.0, 0.0], 1.0, 2.0, 4.0)
    """
    name = _activation_name(activation)
    if xp is np:
        B, covariances, weights, means = _check_mixture(B, covariances, weights, means)
        noise = float(noise)
        if not noise >= 0.0:
            raise ValueError(f"noise: expected tau^2 >= 0, got {noise!r}")
    elif means is None:
        means = [xp.zeros(B.shape[1])] * len(covariances)
    d = B.shape[1]
    eye = xp.eye(d)
    C = Ct = M = 0.0
    T = 0.0
    for w, S, mu in zip(weights, covariances, means):
        second = S + xp.outer(mu, mu)
        if name == "linear":
            Ck = second @ B.T
            Ctk = Ck + noise * B.T
            Mk = B @ (second + noise * eye) @ B.T
        else:
            Ctk, Mk, _ = sign_moments_with_mean(B, mu, S + noise * eye, xp, nodes)
            s = xp.sqrt(xp.maximum(xp.sum((B @ S) * B, axis=1) + noise * xp.sum(B * B, axis=1), 1e-300))
            a = (B @ mu) / s
            slope = 2.0 * xp.exp(-0.5 * a * a) / (np.sqrt(2.0 * np.pi) * s)  # E sign'(z_i) = 2 p_{z_i}(0)
            Ck = Ctk - noise * B.T * slope[None, :]
        C, Ct, M = C + w * Ck, Ct + w * Ctk, M + w * Mk
        T = T + w * xp.trace(second)
    return C, Ct, M, T, T + noise * d


def skip_mixture_risk(b, A, B, covariances, weights, means=None, *, activation="sign", noise=0.0) -> float:
    """Exact R(b, A, B) = E||x - b x~ - A sigma(B x~)||^2 / E||x||^2 under the mixture (proved, float64).

    ``b = 0`` is the network without the skip connection, ``A = 0`` the skip connection alone
    (R = 1 - 2b + b^2 (1 + tau^2 d / T)).

    >>> import numpy as np
    >>> d, t2 = 4, 1.0                                   # one N(0, I): b = 1/(1 + tau^2), A = 0
    >>> round(skip_mixture_risk(0.5, np.zeros((d, 1)), np.eye(1, d), [np.eye(d)], [1.0], noise=t2), 12)
    0.5
    """
    C, Ct, M, T, Tt = skip_mixture_moments(B, covariances, weights, means, activation=activation, noise=noise)
    A = np.asarray(A, dtype=np.float64)
    if A.shape != C.shape:
        raise ValueError(f"A: expected shape {C.shape}, got {A.shape}")
    b = float(b)
    value = T - 2 * b * T + b * b * Tt - 2 * np.sum(A * C) + 2 * b * np.sum(A * Ct) + np.sum((A @ M) * A)
    return float(value / T)


def skip_mixture_risk_jax(b, A, B, covariances, weights, means, *, activation="sign", noise=0.0,
                          nodes: int = _BVN_NODES):
    """:func:`skip_mixture_risk` in JAX (no checks; differentiable in b, A and B; use float64)."""
    import jax.numpy as jnp

    C, Ct, M, T, Tt = skip_mixture_moments(B, covariances, weights, means, activation=activation, noise=noise,
                                           xp=jnp, nodes=nodes)
    value = T - 2 * b * T + b * b * Tt - 2 * jnp.sum(A * C) + 2 * b * jnp.sum(A * Ct) + jnp.sum((A @ M) * A)
    return value / T


def optimal_skip_decoder(B, covariances, weights, means=None, *, activation="sign", noise=0.0):
    """The (b*, A*, R*) minimising the exact risk for a fixed encoder B (proved: normal equations).

        A*(b) = (C - b C~) M^+,   b* = (T - tr(C M^+ C~^T)) / (T + tau^2 d - tr(C~ M^+ C~^T)),
        R* = (T - b* T - tr(A*^T C)) / T.

    Returns
    -------
    (float, ndarray, float)
        b*, the d x n decoder A*, and the normalised risk R*.

    >>> import numpy as np
    >>> b, A, R = optimal_skip_decoder(np.eye(2, 6), [np.eye(6)], [1.0], noise=1.0)  # Gaussian: the code is useless
    >>> round(b, 12), round(float(abs(A).max()), 12), round(R, 12)
    (0.5, 0.0, 0.5)
    """
    C, Ct, M, T, Tt = skip_mixture_moments(B, covariances, weights, means, activation=activation, noise=noise)
    P, Pt = _solve_psd(M, C.T), _solve_psd(M, Ct.T)  # M^+ C^T, M^+ C~^T
    b = float((T - np.sum(C.T * Pt)) / (Tt - np.sum(Ct.T * Pt)))
    A = (P - b * Pt).T
    return b, A, float((T - b * T - np.sum(A * C)) / T)


def code_only_risk(B, covariances, weights, means=None, *, activation="sign", noise=0.0) -> float:
    """R_c(B) = 1 - tr(C M^+ C^T) / T: the denoising risk of the code with its best decoder, no skip (proved)."""
    C, _, M, T, _ = skip_mixture_moments(B, covariances, weights, means, activation=activation, noise=noise)
    return float(1.0 - np.sum(C.T * _solve_psd(M, C.T)) / T)


def rescaling_skip_weight(covariances, weights, means=None, *, noise=0.0, d=None) -> float:
    """b = T / (T + tau^2 d): the best skip weight with no code (proved), and the large-d limit of b*
    for a bounded code when ||mu_k||^2 = O(1) (derived; module docstring). Its risk is 1 - b."""
    covariances = [np.asarray(c, dtype=np.float64) for c in covariances]
    d = covariances[0].shape[0] if d is None else d
    means = [np.zeros(d)] * len(covariances) if means is None else means
    T = sum(float(w) * (np.trace(S) + float(np.dot(m, m))) for w, S, m in zip(weights, covariances, means))
    return T / (T + float(noise) * d)


def large_d_skip_weight(B, covariances, weights, means=None, *, activation="sign", noise=0.0) -> float:
    """b_inf(B) = E_c / (E_c + tau^2 d), E_c = T R_c(B): b* up to O(n / d) for a bounded code (derived)."""
    C, _, M, T, Tt = skip_mixture_moments(B, covariances, weights, means, activation=activation, noise=noise)
    E_c = T - float(np.sum(C.T * _solve_psd(M, C.T)))
    return E_c / (E_c + (Tt - T))


def isotropic_linear_skip_weight(sigma2: float, noise: float) -> float:
    """b* = sigma^2 / (sigma^2 + tau^2) for the linear code when S_k = sigma^2 I for every k and
    span{mu_k} ⊆ rowspace(B) ≠ R^d (proved; module docstring); the network is then the Wiener filter."""
    return float(sigma2) / (float(sigma2) + float(noise))


def linear_mmse_risk(covariances, weights, means=None, *, noise=0.0) -> float:
    """Risk of the best linear estimator W x~, W = Sigma_x (Sigma_x + tau^2 I)^{-1} (proved):
    tau^2 tr(Sigma_x (Sigma_x + tau^2 I)^{-1}) / T, with Sigma_x = E[x x^T]."""
    covariances = [np.asarray(c, dtype=np.float64) for c in covariances]
    d = covariances[0].shape[0]
    means = [np.zeros(d)] * len(covariances) if means is None else means
    second = sum(float(w) * (S + np.outer(m, m)) for w, S, m in zip(weights, covariances, means))
    lam = np.linalg.eigvalsh(second)
    return float(np.sum(noise * lam / (lam + noise)) / np.sum(lam))


# ----------------------------------------------------------------------------- Bayes and samples
def _sampler(covariances, weights, means):
    """draw(N, noise, rng) -> (X, X~, labels), with each component's square root computed once."""
    covariances = [np.asarray(c, dtype=np.float64) for c in covariances]
    d = covariances[0].shape[0]
    means = [np.zeros(d)] * len(covariances) if means is None else [np.asarray(m, dtype=np.float64) for m in means]
    roots = []
    for S in covariances:
        lam, V = np.linalg.eigh(S)
        roots.append(V * np.sqrt(np.maximum(lam, 0.0)))  # S = R R^T
    weights = np.asarray(weights, dtype=np.float64)

    def draw(N, noise, rng):
        labels = rng.choice(len(roots), size=int(N), p=weights)
        X = np.empty((int(N), d))
        for k, (R, mu) in enumerate(zip(roots, means)):
            rows = labels == k
            X[rows] = rng.standard_normal((int(rows.sum()), d)) @ R.T + mu
        return X, X + np.sqrt(float(noise)) * rng.standard_normal(X.shape), labels

    return draw


def sample_mixture(N: int, covariances, weights, means=None, *, noise=0.0, rng=None):
    """N draws (x, x~) from the mixture and the noise; returns (X, X~, component labels)."""
    return _sampler(covariances, weights, means)(N, noise, np.random.default_rng(rng))


def posterior_mean(Xt, covariances, weights, means=None, *, noise=0.0):
    """E[x | x~] for each row of ``Xt`` (the Bayes-optimal denoiser; proved, module docstring)."""
    Xt = np.asarray(Xt, dtype=np.float64)
    d = Xt.shape[1]
    means = [np.zeros(d)] * len(covariances) if means is None else means
    logp, estimates = [], []
    for w, S, mu in zip(weights, covariances, means):
        S = np.asarray(S, dtype=np.float64)
        lam, V = np.linalg.eigh(S + float(noise) * np.eye(d))
        Z = ((Xt - mu) @ V) / np.sqrt(lam)
        logp.append(np.log(float(w)) - 0.5 * np.sum(np.log(lam)) - 0.5 * np.sum(Z * Z, axis=1))
        estimates.append(mu + ((Xt - mu) @ V / lam) @ V.T @ S)  # S (S + tau^2 I)^{-1} (x~ - mu), S symmetric
    logp = np.array(logp)
    p = np.exp(logp - logp.max(axis=0))
    p /= p.sum(axis=0)
    return sum(pk[:, None] * est for pk, est in zip(p, estimates))


def bayes_risk_monte_carlo(covariances, weights, means=None, *, noise=0.0, samples: int = 200_000, rng=0,
                           chunk: int = 50_000):
    """(risk, standard error) of E[x | x~] by Monte Carlo, normalised by the exact T (measured)."""
    rng = np.random.default_rng(rng)
    _, _, _, T, _ = skip_mixture_moments(np.eye(1, np.asarray(covariances[0]).shape[0]), covariances, weights, means,
                                         activation="linear", noise=noise)
    errors = []
    draw = _sampler(covariances, weights, means)
    for start in range(0, int(samples), int(chunk)):
        X, Xt, _ = draw(min(chunk, samples - start), noise, rng)
        errors.append(np.sum((X - posterior_mean(Xt, covariances, weights, means, noise=noise)) ** 2, axis=1) / T)
    errors = np.concatenate(errors)
    return float(errors.mean()), float(errors.std() / np.sqrt(errors.size))


def two_cluster_bayes_risk(d: int, mean_norm2: float, sigma2: float, noise: float, nodes: int = 200) -> float:
    """Exact Bayes risk for x ~ (N(mu, sigma^2 I) + N(-mu, sigma^2 I)) / 2, ||mu||^2 = ``mean_norm2`` (proved).

    (d - 1) directions are Gaussian (error sigma^2 tau^2 / v each, v = sigma^2 + tau^2); along mu,
    y ~ N(m, v) by symmetry and mmse_1 = m^2 + sigma^2 - E[(c y + (1 - c) m tanh(m y / v))^2]
    (Gauss-Hermite with ``nodes`` nodes). Normalised by T = d sigma^2 + m^2.
    """
    m, v = np.sqrt(float(mean_norm2)), float(sigma2) + float(noise)
    c = float(sigma2) / v
    g, wg = np.polynomial.hermite_e.hermegauss(int(nodes))
    y = m + np.sqrt(v) * g
    estimate = c * y + (1.0 - c) * m * np.tanh(m * y / v)
    mmse1 = m * m + sigma2 - float(np.sum(wg * estimate**2) / np.sqrt(2.0 * np.pi))
    return ((d - 1) * sigma2 * noise / v + mmse1) / (d * sigma2 + m * m)


def two_clusters(d: int, mean_norm2: float, sigma2: float = 1.0, direction=None):
    """(covariances, weights, means) of (N(mu, sigma^2 I) + N(-mu, sigma^2 I)) / 2, ||mu||^2 = ``mean_norm2``
    (mu along ``direction``, default e_1): zero mean overall."""
    u = np.eye(d)[0] if direction is None else np.asarray(direction, dtype=np.float64) / np.linalg.norm(direction)
    mu = np.sqrt(float(mean_norm2)) * u
    return [float(sigma2) * np.eye(d)] * 2, np.array([0.5, 0.5]), [mu, -mu]


# ----------------------------------------------------------------------------- gradient descent (measured)
def fit_population(B0, covariances, weights, means, *, activation="sign", noise=0.0, steps: int = 2000,
                   lr: float = 0.01, skip: bool = True, nodes: int = 16, seed: int = 0):
    """Adam (cosine-decayed ``lr``) on the exact risk over (b, A, B) from (b, A) = (0, small), B = ``B0``.

    The rows of B are normalised inside the objective (the sign code is scale-free; for the linear
    code A absorbs the scale), and the returned B is that normalised encoder. ``skip=False``
    holds b at 0 (the code alone). Returns (b, A, B, risk) with the risk re-evaluated in float64
    by :func:`skip_mixture_risk` (full orthant rule). Status: measured.
    """
    import jax
    import jax.numpy as jnp
    import optax

    B0 = np.asarray(B0, dtype=np.float64)
    n, d = B0.shape
    with jax.enable_x64(True):
        covs = [jnp.asarray(c, dtype=jnp.float64) for c in covariances]
        mus = [jnp.asarray(m, dtype=jnp.float64) for m in (means if means is not None else [np.zeros(d)] * len(covs))]
        ws = [float(w) for w in weights]
        rng = np.random.default_rng(seed)
        params = {"b": jnp.zeros(()), "A": jnp.asarray(rng.standard_normal((d, n)) * 1e-3 / np.sqrt(n)),
                  "B": jnp.asarray(B0)}

        def loss(p):
            B = p["B"] / jnp.linalg.norm(p["B"], axis=1, keepdims=True)
            b = p["b"] if skip else 0.0
            return skip_mixture_risk_jax(b, p["A"], B, covs, ws, mus, activation=activation, noise=noise,
                                         nodes=nodes)

        opt = optax.adam(optax.cosine_decay_schedule(lr, steps))

        @jax.jit
        def descend(p):
            def step(_, carry):
                p, s = carry
                updates, s = opt.update(jax.grad(loss)(p), s, p)
                return optax.apply_updates(p, updates), s

            return jax.lax.fori_loop(0, int(steps), step, (p, opt.init(p)))[0]

        params = descend(params)
        b = float(params["b"]) if skip else 0.0
        A = np.asarray(params["A"], dtype=np.float64)
        B = np.asarray(params["B"], dtype=np.float64)
    B = B / np.linalg.norm(B, axis=1, keepdims=True)
    return b, A, B, skip_mixture_risk(b, A, B, covariances, weights, means, activation=activation, noise=noise)


#: (start, end) of the Gaussian smoothing width of sign in :func:`fit_samples` (relative to the pre-activation scale;
#: the construction of twolayer/simulations/estimators.py: sign -> erf(z / (sqrt 2 tau s)), annealed geometrically).
SIGN_SMOOTHING = (0.5, 0.01)


def fit_samples(B0, covariances, weights, means, *, activation="sign", noise=0.0, steps: int = 3000,
                batch: int = 1024, lr: float = 0.01, refit_steps: int = 2000, seed: int = 0):
    """Adam on minibatches of fresh draws (x, x~) over (b, A, B), then (b, A) alone for the exact code.

    Phase 1 (``steps``): for sign, the smoothed code erf(z_i / (sqrt 2 t s_i)), s_i the batch r.m.s. of
    z_i, t annealed from 0.5 to 0.01 (sign' = 0 a.e. gives no gradient in B; twolayer/simulations/
    estimators.py); the linear code as it is. Phase 2 (``refit_steps``; 0 skips it): B frozen, the
    exact code, Adam on (b, A) with a cosine-decayed rate, so that b is the trained skip weight of
    the exact network. Returns (b after phase 1, b, A, B). Status: measured.
    """
    import jax
    import jax.numpy as jnp
    import optax

    B0 = np.asarray(B0, dtype=np.float64)
    n, d = B0.shape
    rng = np.random.default_rng(seed)
    sign = _activation_name(activation) == "sign"
    (start, end) = SIGN_SMOOTHING
    with jax.enable_x64(True):
        params = {"b": jnp.zeros(()), "A": jnp.asarray(rng.standard_normal((d, n)) * 1e-3 / np.sqrt(n)),
                  "B": jnp.asarray(B0)}

        def code(B, Xt, width):
            Z = Xt @ (B / jnp.linalg.norm(B, axis=1, keepdims=True)).T
            if not sign:
                return Z
            if width is None:
                return jnp.sign(Z)
            scale = jnp.sqrt(jnp.mean(Z * Z, axis=0) + 1e-30)
            return jax.scipy.special.erf(Z / (np.sqrt(2.0) * width * scale))

        def loss(p, X, Xt, width):
            out = p["b"] * Xt + code(p["B"], Xt, width) @ p["A"].T
            return jnp.mean(jnp.sum((X - out) ** 2, axis=1)) / d

        draw = _sampler(covariances, weights, means)

        def run(params, phase_steps, frozen_B, width_of):
            opt = optax.adam(optax.cosine_decay_schedule(lr, phase_steps))
            state = opt.init(params)

            @jax.jit
            def step(p, s, X, Xt, width):
                g = jax.grad(loss)(p, X, Xt, width)
                if frozen_B:
                    g = {**g, "B": jnp.zeros_like(g["B"])}
                updates, s = opt.update(g, s, p)
                return optax.apply_updates(p, updates), s

            for t in range(int(phase_steps)):
                X, Xt, _ = draw(batch, noise, rng)
                params, state = step(params, state, jnp.asarray(X), jnp.asarray(Xt), width_of(t, phase_steps))
            return params

        def anneal(t, T):
            return jnp.asarray(start * (end / start) ** (t / max(T - 1, 1))) if sign else None

        params = run(params, steps, False, anneal)
        b_phase1 = float(params["b"])
        if refit_steps:
            params = run(params, refit_steps, True, lambda t, T: None)
        B = np.asarray(params["B"], dtype=np.float64)
        return b_phase1, float(params["b"]), np.asarray(params["A"], dtype=np.float64), \
            B / np.linalg.norm(B, axis=1, keepdims=True)
