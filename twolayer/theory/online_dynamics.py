r"""Online-SGD order-parameter ODEs of the two-layer autoencoder at fixed code size n.

Setting (theory/online.md). x ~ N(0, Sigma), Sigma = diag(sigma) grouped in m *blocks*: block a
has ``dims[a]`` coordinates of eigenvalue ``sigma[a]`` (a spike is a block of size 1, a bulk or
a density is one block per distinct eigenvalue / quadrature node). The network is

    x_hat = sum_k v_k g(w_k . x),   k = 1..n,     (W = B in R^{n x d}, V = A^T in R^{n x d})

with g(u) = erf(u / sqrt 2) ("erf") or g(u) = u ("linear"); tied weights mean V = W.
Online SGD: one fresh sample per step, loss l = (1/2)||x - x_hat||^2, step eta / d on every
weight; time t = steps / d. The risk is R = E||x - x_hat||^2 / tr Sigma (the project's
normalisation).

**Order parameters (per block a).** Q^a = W_a W_a^T, R^a = V_a W_a^T, T^a = V_a V_a^T (n x n;
W_a the columns of block a; tied: R^a = T^a = Q^a). They enter through Q = sum_a sigma_a Q^a
(covariance of the pre-activations lambda = W x), R = sum_a sigma_a R^a (R_kl = v_k Sigma w_l),
T = sum_a T^a and Omega = sum_a sigma_a T^a (covariance of nu = V x).

**Risk (proved, every d).** By Stein's lemma E[(v_k.x) g(lambda_k)] = R_kk phi_k, so

    tr Sigma * R = tr Sigma - 2 sum_k R_kk phi_k + sum_kl T_kl K_kl,
    phi_k = E g'(lambda_k) = sqrt(2/pi) / sqrt(1 + Q_kk),
    K_kl = E g(lambda_k) g(lambda_l) = (2/pi) arcsin(Q_kl / sqrt((1 + Q_kk)(1 + Q_ll)))
    (linear: phi = 1, K = Q).

**First-order drift = population gradient flow (proved).** With e_k = (x - x_hat).v_k,
grad_{w_k} L = -E[e_k g'_k x] = -Sigma [phi_k v_k + a_k w_k - sum_l T_kl J_kl w_l] and
grad_{v_k} L = -phi_k Sigma w_k + sum_l K_kl v_l, where J_kl = E g'_k g'_l
= (2/pi)/sqrt((1+Q_kk)(1+Q_ll) - Q_kl^2), a_k = R_kk c_k - sum_l T_kl H_lk,
c_k = E g'''(lambda_k) = -sqrt(2/pi)(1+Q_kk)^{-3/2}, H_lk = E g_l g''_k
= -(2/pi) Q_kl / ((1+Q_kk) sqrt((1+Q_kk)(1+Q_ll) - Q_kl^2)) (linear: J = 1, c = H = 0).
With M = diag(a) - T o J (o: elementwise), dW_a/dt = eta sigma_a (Phi V_a + M W_a),
dV_a/dt = eta (sigma_a Phi W_a - K V_a), hence (untied)

    dQ^a/dt = eta sigma_a (Phi R^a + M Q^a) + (.)^T
    dR^a/dt = eta (sigma_a Phi Q^a - K R^a) + eta sigma_a (T^a Phi + R^a M^T)
    dT^a/dt = eta (sigma_a Phi R^aT - K T^a) + (.)^T

and (tied, V = W: the gradient is the sum of both) dQ^a/dt = eta (sigma_a (2 Phi + M) - K) Q^a + (.)^T.

**Second-order (Ito) terms (derived; large blocks).** One step moves W_a by (eta/d)(e o g') x_a^T and
V_a by (eta/d) g (x - x_hat)_a^T; their products, summed over the d steps of a unit of time, add

    dQ^a += eta^2 sigma_a (d_a/d) P,  dR^a += eta^2 sigma_a (d_a/d) X,  dT^a += eta^2 sigma_a (d_a/d) K
    (tied: dQ^a += eta^2 sigma_a (d_a/d) (P + X + X^T + K)),

P = E[(e o g')(e o g')^T], X_kl = E[g_k e_l g'_l], using ||x_a||^2 ~ ||(x - x_hat)_a||^2 ~ sigma_a d_a
(exact as d_a -> inf; a block of size 1 is off by O(1) relative, but its term is O(eta^2/d)).
P and X are evaluated by a fixed Gaussian sample (common random numbers, so the right-hand side
is a smooth deterministic function): status *numerical*. These terms are O(1) in the classical
Saad-Solla regime (Sigma = I, tr Sigma = d) and O(eta^2/d) in the spiked regime.

**Regime where the ODE is the d -> inf limit of SGD.** Order parameters O(1), n and m fixed, and
either (spiked, Refinetti-Goldt) tr Sigma = O(1) — a few O(1) eigenvalues (spikes) plus a bulk
of O(1/d) eigenvalues; in the project's standardised units (mean eigenvalue 1) this is the
spectrum divided by d — where the fluctuations are O(eta/sqrt d) and every eta^2 term O(eta^2/d);
or (classical) Sigma = I where the eta^2 terms are O(1) and kept. Breaks: n or the number of
blocks growing with d; eta tr Sigma / d not small (SGD diverges: the Ito terms grow like eta^2);
the large-block approximation of the Ito terms for small blocks at eta tr Sigma / sqrt(d) not small.
"""

from __future__ import annotations

import math

import numpy as np

ACTIVATIONS = ("erf", "linear")
_S2P = math.sqrt(2.0 / math.pi)
#: Gaussian sample size of the second-order (Ito) expectations (common random numbers).
N_ITO = 5_000


def _check_activation(activation):
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")


def act(u, activation):
    """g(u): erf(u / sqrt 2) or u."""
    _check_activation(activation)
    if activation == "linear":
        return u
    from scipy.special import erf

    return erf(u / math.sqrt(2.0))


def act_prime(u, activation):
    """g'(u): sqrt(2/pi) exp(-u^2/2) or 1."""
    _check_activation(activation)
    if activation == "linear":
        return np.ones_like(u)
    return _S2P * np.exp(-0.5 * u * u)


def gaussian_moments(Q, activation):
    """Closed-form Gaussian integrals for lambda ~ N(0, Q) (proved; Stein + Williams' kernel).

    Returns a dict with ``phi`` (n,) = E g'(lambda_k), ``c`` (n,) = E g'''(lambda_k),
    ``K`` = E g_k g_l, ``J`` = E g'_k g'_l, ``H`` with H[l, k] = E g(lambda_l) g''(lambda_k).
    erf(./sqrt 2): phi = sqrt(2/pi)/sqrt(1+q_k), c = -sqrt(2/pi)(1+q_k)^{-3/2},
    K = (2/pi) arcsin(Q_kl/sqrt((1+q_k)(1+q_l))), J = (2/pi)/sqrt((1+q_k)(1+q_l) - Q_kl^2),
    H[l,k] = -(2/pi) Q_kl / ((1+q_k) sqrt((1+q_k)(1+q_l) - Q_kl^2)), q_k = Q_kk.
    Linear: phi = 1, c = 0, K = Q, J = 1, H = 0.
    """
    Q = np.asarray(Q, dtype=np.float64)
    n = Q.shape[0]
    if activation == "linear":
        return {"phi": np.ones(n), "c": np.zeros(n), "K": Q.copy(), "J": np.ones((n, n)), "H": np.zeros((n, n))}
    _check_activation(activation)
    q1 = 1.0 + np.diag(Q)
    AB = np.outer(q1, q1)
    det = np.maximum(AB - Q * Q, 1e-300)
    K = (2.0 / math.pi) * np.arcsin(np.clip(Q / np.sqrt(AB), -1.0, 1.0))
    J = (2.0 / math.pi) / np.sqrt(det)
    # H[l, k]: the k index is the one carrying g''; Q symmetric so Q[l, k] = Q_kl
    H = -(2.0 / math.pi) * Q / (q1[None, :] * np.sqrt(det))
    return {"phi": _S2P / np.sqrt(q1), "c": -_S2P * q1 ** -1.5, "K": K, "J": J, "H": H}


def _aggregate(Q, R, T, sigma):
    s = np.asarray(sigma, dtype=np.float64)[:, None, None]
    return (s * Q).sum(0), (s * R).sum(0), T.sum(0), (s * T).sum(0)


def order_params(W, V, sigma, dims):
    """Per-block order parameters from weights (W, V: n x d; V = None for tied).

    Blocks are contiguous: block a is the next ``dims[a]`` coordinates. Returns a dict with
    ``Q``, ``R``, ``T`` of shape (m, n, n): Q^a = W_a W_a^T, R^a = V_a W_a^T, T^a = V_a V_a^T.
    """
    W = np.asarray(W, dtype=np.float64)
    V = W if V is None else np.asarray(V, dtype=np.float64)
    edges = np.concatenate([[0], np.cumsum(dims)])
    if edges[-1] != W.shape[1] or len(sigma) != len(dims):
        raise ValueError("dims must sum to d and match sigma")
    Qs, Rs, Ts = [], [], []
    for a in range(len(dims)):
        Wa, Va = W[:, edges[a]:edges[a + 1]], V[:, edges[a]:edges[a + 1]]
        Qs.append(Wa @ Wa.T)
        Rs.append(Va @ Wa.T)
        Ts.append(Va @ Va.T)
    return {"Q": np.array(Qs), "R": np.array(Rs), "T": np.array(Ts)}


def online_risk(params, sigma, dims, activation):
    """Exact population risk E||x - x_hat||^2 / tr Sigma from the order parameters (proved).

    tr Sigma R = tr Sigma - 2 sum_k R_kk phi_k + sum_kl T_kl K_kl with Q = sum_a sigma_a Q^a,
    R = sum_a sigma_a R^a, T = sum_a T^a (see the module docstring). Exact at every d for any
    weights; ``params`` may carry a leading time axis (shape (t, m, n, n)).
    """
    Qb, Rb, Tb = (np.asarray(params[k], dtype=np.float64) for k in ("Q", "R", "T"))
    if Qb.ndim == 4:
        return np.array([online_risk({"Q": q, "R": r, "T": t}, sigma, dims, activation)
                         for q, r, t in zip(Qb, Rb, Tb)])
    trS = float(np.dot(sigma, dims))
    Q, R, T, _ = _aggregate(Qb, Rb, Tb, sigma)
    mom = gaussian_moments(Q, activation)
    return (trS - 2.0 * np.dot(np.diag(R), mom["phi"]) + np.sum(T * mom["K"])) / trS


def block_explained(params, sigma, dims, activation):
    """Fraction of each block's variance reconstructed, 1 - E||x_a - x_hat_a||^2 / (sigma_a d_a).

    E||x_a - x_hat_a||^2 = sigma_a d_a - 2 sigma_a sum_k R^a_kk phi_k + sum_kl T^a_kl K_kl (proved).
    Shape (..., m). Summing sigma_a d_a (1 - explained) over blocks gives back tr Sigma R.
    """
    Qb, Rb, Tb = (np.asarray(params[k], dtype=np.float64) for k in ("Q", "R", "T"))
    if Qb.ndim == 4:
        return np.array([block_explained({"Q": q, "R": r, "T": t}, sigma, dims, activation)
                         for q, r, t in zip(Qb, Rb, Tb)])
    sig = np.asarray(sigma, dtype=np.float64)
    Q, _, _, _ = _aggregate(Qb, Rb, Tb, sigma)
    mom = gaussian_moments(Q, activation)
    var = sig * np.asarray(dims, dtype=np.float64)
    err = var - 2.0 * sig * np.einsum("akk,k->a", Rb, mom["phi"]) + np.einsum("akl,kl->a", Tb, mom["K"])
    return 1.0 - err / var


def _ito_expectations(Q, R, Omega, T, activation, z):
    """P = E[(e o g')(e o g')^T], X_kl = E[g_k e_l g'_l] over (lambda, nu) ~ N(0, [[Q, R^T], [R, Omega]]).

    Evaluated on the fixed standard-normal sample ``z`` (N x 2n) through the symmetric square root
    of the joint covariance (numerical, common random numbers).
    """
    n = Q.shape[0]
    C = np.block([[Q, R.T], [R, Omega]])
    C = 0.5 * (C + C.T)
    s, U = np.linalg.eigh(C)
    root = (U * np.sqrt(np.clip(s, 0.0, None))) @ U.T
    y = z @ root
    lam, nu = y[:, :n], y[:, n:]
    g, gp = act(lam, activation), act_prime(lam, activation)
    e = nu - g @ T.T
    eg = e * gp
    N = z.shape[0]
    return eg.T @ eg / N, g.T @ eg / N


def _ito_sample(n, n_ito, seed):
    return np.random.default_rng(seed).standard_normal((n_ito, 2 * n))


def _generators(params, sigma, dims, activation, tied, eta, second_order, z):
    """Per-block linear generators L_a and Ito terms S_a of the joint weights Z_a = [W_a; V_a].

    First order dZ_a/dt = L_a Z_a with (untied) L_a = eta [[sigma_a M, sigma_a Phi], [sigma_a Phi, -K]],
    (tied, Z_a = W_a) L_a = eta (sigma_a (2 Phi + M) - K); the joint Gram G_a = Z_a Z_a^T then obeys
    dG_a/dt = L_a G_a + G_a L_a^T + S_a, S_a = eta^2 sigma_a (d_a/d) [[P, X^T], [X, K]]
    (tied: eta^2 sigma_a (d_a/d) (P + X + X^T + K)); S_a = 0 without ``second_order``.
    """
    _check_activation(activation)
    sig = np.asarray(sigma, dtype=np.float64)
    dims = np.asarray(dims, dtype=np.float64)
    d = dims.sum()
    Qb = np.asarray(params["Q"], dtype=np.float64)
    if tied:
        Rb = Tb = Qb
    else:
        Rb, Tb = (np.asarray(params[k], dtype=np.float64) for k in ("R", "T"))
    Q, R, T, Omega = _aggregate(Qb, Rb, Tb, sig)
    mom = gaussian_moments(Q, activation)
    phi, K = mom["phi"], mom["K"]
    a = np.diag(R) * mom["c"] - np.einsum("kl,lk->k", T, mom["H"])
    M = np.diag(a) - T * mom["J"]
    Phi = np.diag(phi)
    s3 = sig[:, None, None]
    if tied:
        L = eta * (s3 * (2.0 * Phi + M)[None] - K[None])
    else:
        top = np.concatenate([s3 * M[None], s3 * Phi[None]], axis=2)
        bot = np.concatenate([s3 * Phi[None], np.broadcast_to(-K, (len(sig),) + K.shape)], axis=2)
        L = eta * np.concatenate([top, bot], axis=1)
    S = None
    if second_order:
        if z is None:
            z = _ito_sample(Q.shape[0], N_ITO, 0)
        P, X = _ito_expectations(Q, R, Omega, T, activation, z)
        J2 = (P + X + X.T + K) if tied else np.block([[P, X.T], [X, K]])
        S = (eta**2 * sig * dims / d)[:, None, None] * J2[None]
    return L, S


def _joint(params, tied):
    if tied:
        return np.asarray(params["Q"], dtype=np.float64)
    Q, R, T = (np.asarray(params[k], dtype=np.float64) for k in ("Q", "R", "T"))
    return np.concatenate([np.concatenate([Q, np.swapaxes(R, 1, 2)], 2), np.concatenate([R, T], 2)], 1)


def _split(G, n, tied):
    if tied:
        return {"Q": G, "R": G, "T": G}
    return {"Q": G[..., :n, :n], "R": G[..., n:, :n], "T": G[..., n:, n:]}


def online_rhs(params, sigma, dims, activation, tied, eta, second_order=True, z=None):
    """Time derivatives of the per-block order parameters (t = steps / d, SGD step eta / d).

    First order: the population gradient flow (proved, module docstring): with the joint Gram
    G_a = [[Q^a, R^aT], [R^a, T^a]], dG_a/dt = L_a G_a + G_a L_a^T (see :func:`_generators`).
    ``second_order`` adds the Ito terms eta^2 sigma_a (d_a / d) (P, X, K) (derived for large
    blocks; numerical expectations on the sample ``z``). Returns a dict like ``params``.
    """
    L, S = _generators(params, sigma, dims, activation, tied, eta, second_order, z)
    G = _joint(params, tied)
    dG = L @ G
    dG = dG + np.swapaxes(dG, 1, 2)
    if S is not None:
        dG = dG + S
    return _split(dG, np.asarray(params["Q"]).shape[-1], tied)


def _factor(G, r):
    """A (size x r) factor F with F F^T = G for a PSD G of rank <= r (top-r eigenpairs)."""
    s, U = np.linalg.eigh(0.5 * (G + G.T))
    s, U = s[::-1][:r], U[:, ::-1][:, :r]
    return U * np.sqrt(np.clip(s, 0.0, None))


def online_curve(params0, sigma, dims, activation, tied, eta, times, second_order=True,
                 n_ito=N_ITO, ito_seed=0, rtol=1e-8, atol=1e-11, factors0=None):
    """Integrate the ODEs from ``params0`` and return the curve at ``times`` (t = steps / d).

    State: a block with d_a >= 2n coordinates (n tied) is carried by its joint Gram matrix G_a;
    a smaller block (a spike) by a factor Z_a (size x d_a) with G_a = Z_a Z_a^T, which evolves as
    dZ_a/dt = L_a Z_a. The Gram equation alone is unstable off the rank-d_a set (a rank-1 Gram
    matrix perturbed by rounding behaves as a block of more coordinates, which the network would
    learn: measured, the risk blew up at t ~ 4.5 on the spiked test spectrum), the factor is not.
    Small blocks get no Ito term (it is O(eta^2 / d) there). ``factors0`` (optional list, one
    entry per block, None or the block's joint weights [W_a; V_a]) overrides the factor taken
    from ``params0`` (the same up to a rotation within the block, which changes nothing).
    Lock-step use: pass the simulated network's own initial order parameters
    (:func:`order_params` of its W0, V0). scipy ``solve_ivp`` (DOP853, dense output).
    Returns dict(times, risk, params (Q, R, T with a leading time axis), explained (per block)).
    """
    from scipy.integrate import solve_ivp

    times = np.asarray(times, dtype=np.float64)
    dims_i = [int(x) for x in dims]
    m = len(sigma)
    n = np.asarray(params0["Q"]).shape[-1]
    size = n if tied else 2 * n
    G0 = _joint(params0, tied)
    small = [da < size for da in dims_i]
    shapes, offs, parts = [], [0], []
    for a in range(m):
        if small[a]:
            F = _factor(G0[a], dims_i[a]) if factors0 is None or factors0[a] is None else np.asarray(factors0[a])
            parts.append(F.ravel())
            shapes.append((size, dims_i[a]))
        else:
            parts.append(G0[a].ravel())
            shapes.append((size, size))
        offs.append(offs[-1] + size * shapes[-1][1])
    y0 = np.concatenate(parts)
    z = _ito_sample(n, n_ito, ito_seed) if second_order else None

    def grams(y):
        G = np.empty((m, size, size))
        for a in range(m):
            X = y[offs[a]:offs[a + 1]].reshape(shapes[a])
            G[a] = X @ X.T if small[a] else X
        return G

    def f(_t, y):
        G = grams(y)
        L, S = _generators(_split(G, n, tied), sigma, dims, activation, tied, eta, second_order, z)
        out = np.empty_like(y)
        for a in range(m):
            X = y[offs[a]:offs[a + 1]].reshape(shapes[a])
            if small[a]:
                out[offs[a]:offs[a + 1]] = (L[a] @ X).ravel()
            else:
                dG = L[a] @ X
                dG = dG + dG.T
                if S is not None:
                    dG = dG + S[a]
                out[offs[a]:offs[a + 1]] = dG.ravel()
        return out

    sol = solve_ivp(f, (float(times[0]), float(times[-1])), y0, method="DOP853", t_eval=times,
                    rtol=rtol, atol=atol)
    if not sol.success:
        raise RuntimeError(f"ODE integration failed: {sol.message}")
    G = np.array([grams(y) for y in sol.y.T])
    params = _split(G, n, tied)
    return {"times": times, "risk": online_risk(params, sigma, dims, activation), "params": params,
            "explained": block_explained(params, sigma, dims, activation)}


def block_factors(W, V, dims):
    """The joint block weights [W_a; V_a] (tied: W_a) of every block, for ``online_curve(factors0=...)``."""
    edges = np.concatenate([[0], np.cumsum(dims)])
    Z = np.asarray(W) if V is None else np.concatenate([np.asarray(W), np.asarray(V)], axis=0)
    return [Z[:, edges[a]:edges[a + 1]].astype(np.float64) for a in range(len(dims))]


def init_weights(n, d, scale, tied, seed, spike_scale=0.0, n_spikes=0):
    """W0, V0 with i.i.d. N(0, scale^2 / d) entries (rows of norm ~ scale); V0 = None if tied.

    ``spike_scale`` > 0 redraws the first ``n_spikes`` coordinates (the spikes of
    :func:`spiked_blocks`) as N(0, spike_scale^2): an O(1) initial overlap, well above the
    O(sqrt(eta / d)) SGD noise, so that the escape from the unstable start is deterministic.
    """
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((n, d)) * (scale / math.sqrt(d))
    V = None if tied else rng.standard_normal((n, d)) * (scale / math.sqrt(d))
    if spike_scale > 0 and n_spikes > 0:
        W[:, :n_spikes] = rng.standard_normal((n, n_spikes)) * spike_scale
        if V is not None:
            V[:, :n_spikes] = rng.standard_normal((n, n_spikes)) * spike_scale
    return W, V


def simulate_online(W0, V0, sigma, dims, activation, eta, steps, record_every, seed):
    """Online SGD (one fresh x ~ N(0, diag) per step, step eta / d), recording order parameters.

    JAX ``lax.scan`` over chunks of ``record_every`` steps in float64 (``jax.enable_x64`` as a
    context manager); the samples are z ~ numpy.random.default_rng(seed), x = sqrt(sigma) z.
    ``V0 = None``: tied weights. Returns dict(times = steps / d at the records (from 0), params,
    risk (exact population risk of the simulated weights), W, V (final)).
    """
    import jax
    import jax.numpy as jnp
    from jax.scipy.special import erf as jerf

    _check_activation(activation)
    tied = V0 is None
    W0 = np.asarray(W0, dtype=np.float64)
    n, d = W0.shape
    diag = np.repeat(np.asarray(sigma, dtype=np.float64), dims)
    sq = np.sqrt(diag)
    lr = eta / d
    rng = np.random.default_rng(seed)

    def g(u):
        return u if activation == "linear" else jerf(u / math.sqrt(2.0))

    def gp(u):
        return jnp.ones_like(u) if activation == "linear" else _S2P * jnp.exp(-0.5 * u * u)

    def step(carry, z):
        W, V = carry
        x = z * sq_j
        lam = W @ x
        gl = g(lam)
        Vd = W if tied else V
        r = x - Vd.T @ gl
        e = Vd @ r
        egp = e * gp(lam)
        dW = lr * jnp.outer(egp, x)
        if tied:
            return (W + dW + lr * jnp.outer(gl, r), V), None
        return (W + dW, V + lr * jnp.outer(gl, r)), None

    n_rec = steps // record_every
    recs = [order_params(W0, V0, sigma, dims)]
    with jax.enable_x64(True):
        sq_j = jnp.asarray(sq)
        chunk = jax.jit(lambda W, V, Z: jax.lax.scan(step, (W, V), Z)[0])
        W = jnp.asarray(W0)
        V = jnp.asarray(W0 if tied else V0)
        for _ in range(n_rec):
            Z = rng.standard_normal((record_every, d))
            W, V = chunk(W, V, jnp.asarray(Z))
            Wn = np.asarray(W)
            recs.append(order_params(Wn, None if tied else np.asarray(V), sigma, dims))
        Wn, Vn = np.asarray(W), (None if tied else np.asarray(V))
    params = {k: np.array([r[k] for r in recs]) for k in ("Q", "R", "T")}
    times = np.arange(n_rec + 1) * record_every / d
    return {"times": times, "params": params, "risk": online_risk(params, sigma, dims, activation),
            "explained": block_explained(params, sigma, dims, activation), "W": Wn, "V": Vn}


def agreement(sim, ode):
    """Largest gaps between a simulated and a predicted curve on the same times.

    Returns risk_abs = max |R_sim - R_ode|, risk_rel = max |R_sim - R_ode| / R_ode,
    explained_rel = max |R_sim - R_ode| / max(1 - R_ode) (relative to the variance the network
    explains at most: the honest scale when R stays near 1), and for each of Q, R, T the largest
    entrywise gap of the aggregated matrices (sum_a sigma_a X^a; T: sum_a T^a) divided by their
    largest magnitude on the predicted curve.
    """
    out = {}
    rs, ro = np.asarray(sim["risk"]), np.asarray(ode["risk"])
    gap = np.abs(rs - ro)
    out["risk_abs"] = float(gap.max())
    out["risk_rel"] = float((gap / np.abs(ro)).max())
    out["explained_rel"] = float(gap.max() / max(float((1.0 - ro).max()), 1e-300))
    return out


def agreement_params(sim, ode, sigma):
    """Order-parameter gaps (see :func:`agreement`), aggregated over blocks."""
    sig = np.asarray(sigma, dtype=np.float64)[None, :, None, None]
    out = {}
    for k in ("Q", "R", "T"):
        ws = 1.0 if k == "T" else sig
        a = (ws * sim["params"][k]).sum(1)
        b = (ws * ode["params"][k]).sum(1)
        out[f"{k}_rel"] = float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))
    return out


def lockstep(sigma, dims, n, activation, tied, eta, t_max, record_every, init_scale, seed,
             second_order=True, spike_scale=0.0, n_spikes=0):
    """Simulate online SGD at d = sum(dims) and integrate the ODE from its own start.

    Returns dict(sim, ode, agreement (risk and order parameters), sim_seconds, ode_seconds).
    """
    import time

    d = int(np.sum(dims))
    W0, V0 = init_weights(n, d, init_scale, tied, seed, spike_scale, n_spikes)
    steps = int(round(t_max * d))
    t0 = time.perf_counter()
    sim = simulate_online(W0, V0, sigma, dims, activation, eta, steps, record_every, seed + 1)
    t1 = time.perf_counter()
    ode = online_curve(order_params(W0, V0, sigma, dims), sigma, dims, activation, tied, eta,
                       sim["times"], second_order=second_order, factors0=block_factors(W0, V0, dims))
    t2 = time.perf_counter()
    agr = agreement(sim, ode)
    agr.update(agreement_params(sim, ode, sigma))
    return {"sim": sim, "ode": ode, "agreement": agr, "sim_seconds": t1 - t0, "ode_seconds": t2 - t1}


def pca_risk(sigma, dims, n):
    """1 - (sum of the top-n eigenvalues) / tr Sigma (the linear autoencoder's minimum; proved)."""
    eig = np.sort(np.repeat(np.asarray(sigma, dtype=np.float64), dims))[::-1]
    return float(1.0 - eig[:n].sum() / eig.sum())


def tied_erf_spike_risk(s):
    """Smallest E(x - w g(w x))^2 / s for x ~ N(0, s), g = erf(./sqrt 2): one tied erf neuron on one spike.

    With y = w^2 (E[x g(w x)] = s w sqrt(2/pi) / sqrt(1 + s y), E g^2 = (2/pi) arcsin(s y / (1 + s y))):
    1 - 2 sqrt(2/pi) y / sqrt(1 + s y) + (2/pi) (y / s) arcsin(s y / (1 + s y)), minimised over
    y > 0 (bounded scalar search). Returns (value, y at the minimum).
    Proved formula; the minimum is numerical. Tends to 0 as s -> 0 (the linear regime) and is
    strictly positive for s > 0: a tied sigmoidal neuron cannot reach the PCA value.
    """
    from scipy.optimize import minimize_scalar

    def f(logy):
        y = math.exp(logy)
        return (1.0 - 2.0 * _S2P * y / math.sqrt(1.0 + s * y)
                + (2.0 / math.pi) * (y / s) * math.asin(s * y / (1.0 + s * y)))

    res = minimize_scalar(f, bounds=(-12.0, 8.0), method="bounded", options={"xatol": 1e-10})
    return float(res.fun), float(math.exp(res.x))


def spiked_blocks(d, spikes, bulk=1.0):
    """Spiked spectrum in the ODE's units: spikes (O(1)) on single coordinates plus a bulk.

    The bulk has d - len(spikes) coordinates of eigenvalue bulk / d (total bulk variance ~ bulk).
    In the project's standardised units this is (d spikes, bulk) divided by d.
    Returns (sigma, dims) for the blocks.
    """
    spikes = [float(s) for s in spikes]
    sigma = np.array(spikes + [bulk / d])
    dims = np.array([1] * len(spikes) + [d - len(spikes)])
    return sigma, dims
