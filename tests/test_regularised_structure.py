"""Verify-theorem tests of the minimiser's structure under weight decay, L1 and contractive penalties (issue 13;
theory/regularised.md, "The minimiser's structure under the penalties").

Each closed form of :mod:`twolayer.theory.regularised` is checked against an independent source: direct
minimisation with scipy, the exact kernels, or twolayer's own population gradient descent.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize

from twolayer.simulations import train
from twolayer.theory import code_moments, population_risk
from twolayer.theory.regularised import (
    denoising_lower_bound,
    linear_weight_decay_minimum,
    linear_weight_decay_tradeoff,
    orthogonal_frame_minimum,
    relu_simplex_minimum,
    sign_ridge_minimum,
)

SLOW = pytest.mark.slow


def _direct_linear_minimum(lam, n, gamma, c, tau2, starts=2):
    """min over (A, B) of [tr S - 2 tr(AB S) + tr(AB (S + tau^2 I) B^T A^T) + gamma |A|^2 + (gamma + c) |B|^2] / d,
    S = diag(lam / mean lam), by L-BFGS from random starts; returns (value, A, B) of the best."""
    d = lam.size
    S = np.diag(lam / lam.mean())
    St = S + tau2 * np.eye(d)

    def f(x):
        A, B = x[: d * n].reshape(d, n), x[d * n:].reshape(n, d)
        W = A @ B
        value = np.trace(S) - 2 * np.trace(W @ S) + np.trace(W @ St @ W.T) + gamma * np.sum(A * A) \
            + (gamma + c) * np.sum(B * B)
        G = -2 * S + 2 * W @ St
        return value, np.concatenate([(G @ B.T + 2 * gamma * A).ravel(), (A.T @ G + 2 * (gamma + c) * B).ravel()])

    rng = np.random.default_rng(0)
    best = min((scipy.optimize.minimize(f, rng.standard_normal(2 * d * n), jac=True, method="L-BFGS-B",
                                        options={"maxiter": 20000, "ftol": 1e-15, "gtol": 1e-11})
                for _ in range(starts)), key=lambda o: o.fun)
    x = best.x
    return best.fun / d, x[: d * n].reshape(d, n), x[d * n:].reshape(n, d)


@pytest.mark.parametrize("gamma, c, tau2", [pytest.param(0.2, 0.0, 0.0, marks=SLOW), pytest.param(0.6, 0.0, 0.0, marks=SLOW),
                                            (0.2, 1.5, 0.0), (0.3, 0.5, 0.7)])
def test_linear_weight_decay_minimum_against_direct_minimisation(gamma, c, tau2):
    """Statement (Kunin et al. 2019 for c = tau = 0; the reparametrisation for c > 0; tau > 0 derived): the minimum
    of d R + gamma(|A|^2 + |B|^2) + c |B|^2 keeps the top n modes with lambda_k > gamma_eff = sqrt(gamma(gamma + c)),
    p_k = (lambda_k - gamma_eff)/(lambda_k + tau^2), |a_k|/|b_k| = sqrt((gamma + c)/gamma). Direct L-BFGS over
    (A, B), d = 7, n = 3 (the rank binds: 5 to 7 modes have lambda > gamma_eff)."""
    lam = np.array([3.0, 2.2, 1.7, 1.1, 0.8, 0.5, 0.2])
    th = linear_weight_decay_minimum(lam, 3 / 7, gamma, contractive=c, noise=tau2)
    value, A, B = _direct_linear_minimum(lam, 3, gamma, c, tau2)
    assert value == pytest.approx(th["objective"], abs=1e-10)
    assert np.linalg.svd(A @ B, compute_uv=False)[:3] == pytest.approx(th["products"], abs=1e-6)
    assert np.linalg.svd(A, compute_uv=False) == pytest.approx(th["decoder_norms"], abs=1e-6)
    assert np.linalg.svd(B, compute_uv=False) == pytest.approx(th["encoder_norms"], abs=1e-6)
    assert np.abs(gamma * A.T @ A - (gamma + c) * B @ B.T).max() < 1e-6  # the imbalance at every critical point
    lam_std = lam / lam.mean()
    W = A @ B
    assert th["risk"] * 7 == pytest.approx(np.trace(np.diag(lam_std) @ (np.eye(7) - W) @ (np.eye(7) - W).T)
                                           + tau2 * np.sum(W * W), abs=1e-6)


def test_linear_weight_decay_minimum_is_what_train_minimises():
    """Statement: the closed form uses the normalisation ``train`` trains (d R + gamma(|A|^2 + |B|^2) + c |B|^2 on
    the source divided by its mean eigenvalue): population GD (untied, float64) on powerlaw:1 reaches the
    penalised minimum, the products and the imbalance sqrt((gamma + c)/gamma)."""
    from twolayer.spectra import eigenvalues

    lam = eigenvalues("powerlaw:1", 12)
    res = train(12, 3, activation="linear", parametrization="untied", spectrum=lam, weight_decay=0.2, contractive=0.6,
                steps=4000, lr=0.05, dtype="float64")
    th = linear_weight_decay_minimum(lam, 0.25, 0.2, contractive=0.6)
    B, A = res.B * np.sqrt(lam.mean()), res.A / np.sqrt(lam.mean())  # as trained, on the standardised source
    objective = res.metrics["final_risk"] + (0.2 * np.sum(A**2) + 0.8 * np.sum(B**2)) / 12
    assert objective == pytest.approx(th["objective"], abs=1e-9)
    assert res.metrics["final_risk"] == pytest.approx(th["risk"], abs=1e-8)
    assert np.linalg.svd(A, compute_uv=False) / np.linalg.svd(B, compute_uv=False) == pytest.approx(2.0, rel=1e-6)


def test_linear_tradeoff_slope_is_the_penalty():
    """Statement (envelope theorem on the closed form): along gamma the trade-off (t = |AB|_*, d R) has slope
    d(dR)/dt = -2 gamma_eff; it ends at PCA (gamma -> 0) and at R = 1 once gamma_eff >= lambda_1."""
    lam = np.array([4.0, 2.0, 1.0, 0.5, 0.25, 0.25])
    gammas = np.array([0.3, 0.3 + 1e-6])
    curve = linear_weight_decay_tradeoff(lam, 0.5, gammas, contractive=0.4)
    slope = 6 * np.diff(curve["risk"])[0] / np.diff(curve["nuclear_norm"])[0]
    geff = np.sqrt(0.3 * 0.7 + 1e-6 * 0.7)
    assert slope == pytest.approx(-2 * geff, rel=1e-5)
    ends = linear_weight_decay_tradeoff(lam, 0.5, [0.0, 10.0])
    lam_std = lam / lam.mean()
    assert ends["risk"][0] == pytest.approx(lam_std[3:].sum() / 6, abs=1e-15)
    assert ends["risk"][1] == 1.0 and ends["kept"][1] == 0


@pytest.mark.parametrize("gamma, tau2", [(0.3, 0.0), (1.5, 0.4)])
def test_sign_ridge_minimum_at_orthonormal_rows(gamma, tau2):
    """Statement (exact at every d): with orthonormal rows on N(0, I) the sign kernel is M = I, C = sqrt(2/pi) B^T
    / sqrt(1 + tau^2), so the ridge decoder A = C (M + gamma I)^{-1} gives objective/d = 1 - (2r/pi)/((1 + tau^2)
    (1 + gamma)) and R = 1 - (2r/pi)(1 + 2 gamma)/((1 + tau^2)(1 + gamma)^2) (exact kernels, d = 10, n = 4)."""
    d, n = 10, 4
    B = np.linalg.qr(np.random.default_rng(3).standard_normal((d, d)))[0][:n] * 2.5  # the scale does not matter
    from twolayer.activations import get_activation

    C, M, trace = code_moments(B, None, get_activation("sign"), np, tau2)
    A = C @ np.linalg.inv(M + gamma * np.eye(n))
    risk = population_risk(B, A, activation="sign", noise=tau2)
    th = sign_ridge_minimum(n / d, gamma, noise=tau2)
    assert risk + gamma * np.sum(A * A) / d == pytest.approx(th["objective"], abs=1e-12)
    assert risk == pytest.approx(th["risk"], abs=1e-12)
    assert np.sum(A * A) / d == pytest.approx(th["decoder_norm2"], abs=1e-12)


@SLOW
def test_gradient_descent_finds_the_orthonormal_sign_frame_with_decoder_weight_decay():
    """Statement (measured; the closed form assumes orthonormal rows stay optimal for gamma > 0): Adam on the profile
    objective d - tr(C (M + gamma I)^{-1} C^T) over row-normalised B from a Gaussian start (d = 16, r = 1, gamma =
    0.5) ends at sign_ridge_minimum and at frame singular values 1 (measured at d = 64, r in {0.25, 0.5, 1}: 1e-16)."""
    import jax
    import jax.numpy as jnp
    import optax

    from twolayer.theory.risk import optimal_decoder_risk_jax

    d = n = 16
    with jax.enable_x64(True):
        def f(B):
            return optimal_decoder_risk_jax(B / jnp.linalg.norm(B, axis=1, keepdims=True), activation="sign",
                                            jitter=0.5)

        tx = optax.adam(optax.cosine_decay_schedule(0.02, 600))
        grad = jax.grad(f)

        def step(carry, _):
            B, state = carry
            updates, state = tx.update(grad(B), state, B)
            return (optax.apply_updates(B, updates), state), None

        B0 = jnp.asarray(np.random.default_rng(1).standard_normal((n, d)) / np.sqrt(d))
        (B, _), _ = jax.lax.scan(step, (B0, tx.init(B0)), None, length=600)
        value = float(f(B))
        U = np.asarray(B / jnp.linalg.norm(B, axis=1, keepdims=True))
    assert value == pytest.approx(sign_ridge_minimum(1.0, 0.5)["objective"], abs=1e-8)
    assert np.linalg.svd(U, compute_uv=False) == pytest.approx(1.0, abs=1e-4)


def test_orthogonal_frame_reproduces_the_linear_and_sign_closed_forms():
    """Statement: the equal-norm orthogonal-frame reduction is exact for linear codes (row norm^2 = sqrt(gamma/(gamma
    + c)) - gamma, the isotropic case of linear_weight_decay_minimum) and gives the sign ridge value (u -> 0)."""
    for gamma, c, tau2 in ((0.25, 0.0, 0.0), (0.1, 2.0, 0.0), (0.3, 0.5, 0.8), (1.2, 0.0, 0.0)):
        frame = orthogonal_frame_minimum("linear", 0.5, weight_decay=gamma, contractive=c, noise=tau2)
        closed = linear_weight_decay_minimum(np.ones(8), 0.5, gamma, contractive=c, noise=tau2)
        assert frame["objective"] == pytest.approx(closed["objective"], abs=1e-10)
        assert frame["risk"] == pytest.approx(closed["risk"], abs=1e-7)
        assert frame["row_norm"] == pytest.approx(closed["encoder_norms"][0], abs=1e-6)
    sign = orthogonal_frame_minimum("sign", 0.75, weight_decay=0.4, noise=0.3)
    closed = sign_ridge_minimum(0.75, 0.4, noise=0.3)
    assert (sign["objective"], sign["risk"]) == pytest.approx((closed["objective"], closed["risk"]), abs=1e-12)
    assert sign["row_norm"] == 0.0


@pytest.mark.parametrize("activation, d, penalty", [
    ("erf", 16, {"weight_decay": 0.01, "l1": 0.3}),
    pytest.param("erf", 64, {"weight_decay": 0.01, "contractive": 1.0}, marks=SLOW),
    pytest.param("erf", 64, {"weight_decay": 0.3}, marks=SLOW),
    pytest.param("tanh", 16, {"weight_decay": 0.01, "contractive": 0.3}, marks=SLOW),
])
def test_orthogonal_frame_minimum_matches_gradient_descent(activation, d, penalty):
    """Statement (derived within the family of orthogonal equal-norm encoders; that GD stays in it is measured):
    Adam on the exact penalised objective (untied, r = 1/2, 2000 steps) ends on orthogonal rows of the predicted
    norm, at the predicted objective and risk (measured at d = 64: gaps 1e-16 to 1e-9)."""
    from twolayer.theory.regularised import code_penalties

    res = train(d, d // 2, activation=activation, parametrization="untied", steps=2000, optimizer="adam", lr=0.01,
                schedule="cosine", dtype="float64", **penalty)
    th = orthogonal_frame_minimum(activation, 0.5, **penalty)
    pen = code_penalties(res.B, activation=activation)
    objective = res.metrics["final_risk"] + (penalty["weight_decay"] * (np.sum(res.A**2) + np.sum(res.B**2))
                                             + penalty.get("l1", 0) * pen["l1"]
                                             + penalty.get("contractive", 0) * pen["contractive"]) / d
    assert objective == pytest.approx(th["objective"], abs=1e-6)
    assert res.metrics["final_risk"] == pytest.approx(th["risk"], abs=1e-4)
    assert np.linalg.svd(res.B, compute_uv=False) == pytest.approx(th["row_norm"], rel=1e-3)


def _simplex(d, n, s, seed=0):
    """n rows of norm s in R^d with pairwise cosines -1/(n - 1) (a regular simplex, randomly rotated)."""
    E = np.eye(n) - 1.0 / n
    E = E / np.linalg.norm(E, axis=1, keepdims=True)
    Q = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))[0][:n]
    return s * E @ Q


@pytest.mark.parametrize("penalty, tau2", [({"weight_decay": 0.05, "l1": 0.2}, 0.0),
                                           ({"weight_decay": 0.02, "contractive": 0.5}, 0.6)])
def test_relu_simplex_minimum_against_exact_kernels(penalty, tau2):
    """Statement (exact within the family): on a simplex frame of norm s the relu kernels give the profile objective
    d - tr(C (M + gamma I)^{-1} C^T) + gamma |B|^2 + penalties of relu_simplex_minimum (exact arc-cosine kernel and
    exact Gaussian penalties, d = 12, n = 6); its minimiser over s is the function's row norm."""
    from twolayer.activations import get_activation
    from twolayer.theory.regularised import code_penalties

    d, n, gamma = 12, 6, penalty["weight_decay"]
    th = relu_simplex_minimum(d, n, noise=tau2, **penalty)

    def objective(s):
        B = _simplex(d, n, s)
        C, M, trace = code_moments(B, None, get_activation("relu"), np, tau2)
        A = C @ np.linalg.inv(M + gamma * np.eye(n))
        pen = code_penalties(B, activation="relu", noise=tau2)
        total = d * population_risk(B, A, activation="relu", noise=tau2) + gamma * (np.sum(A * A) + np.sum(B * B))
        return total + penalty.get("l1", 0) * pen["l1"] + penalty.get("contractive", 0) * pen["contractive"], A, B

    value, A, B = objective(th["row_norm"])
    assert value / d == pytest.approx(th["objective"], abs=1e-12)
    assert population_risk(B, A, activation="relu", noise=tau2) == pytest.approx(th["risk"], abs=1e-12)
    assert min(objective(th["row_norm"] * f)[0] for f in (0.99, 1.01)) > value


def test_relu_simplex_tends_to_the_linearised_value():
    """Statement: without penalties a_n = 1/2 - kappa(-1/(n - 1)) -> (pi - 1)/(2 pi), so the simplex value tends to
    relu's linearised 1 - r/(1 + c*), c* = 1 - 2/pi, from above (d = 128, r = 1/2: 0.6375 against 0.6333)."""
    from twolayer.theory import min_risk

    values = [relu_simplex_minimum(2 * n, n)["risk"] for n in (64, 1024, 2**20)]
    assert values[0] == pytest.approx(0.63746, abs=1e-5)
    assert values[0] > values[1] > values[2] > min_risk(0.5, activation="relu")
    assert values[2] == pytest.approx(min_risk(0.5, activation="relu"), abs=1e-6)


@pytest.mark.parametrize("penalty", [{"weight_decay": 0.01, "l1": 0.3},
                                     pytest.param({"weight_decay": 0.1}, marks=SLOW),
                                     pytest.param({"weight_decay": 0.01, "contractive": 1.0}, marks=SLOW)])
def test_gradient_descent_ends_on_the_relu_simplex(penalty):
    """Statement (measured: that the minimiser is a simplex frame): Adam on the exact penalised relu objective (untied,
    d = 16, n = 8, 2000 steps) ends on equal-norm rows with cosines -1/(n - 1), at relu_simplex_minimum's objective
    (measured at d = 64: 1e-16)."""
    from twolayer.theory.regularised import code_penalties

    res = train(16, 8, activation="relu", parametrization="untied", steps=2000, optimizer="adam", lr=0.01,
                schedule="cosine", dtype="float64", **penalty)
    th = relu_simplex_minimum(16, 8, **penalty)
    pen = code_penalties(res.B, activation="relu")
    objective = res.metrics["final_risk"] + (penalty["weight_decay"] * (np.sum(res.A**2) + np.sum(res.B**2))
                                             + penalty.get("l1", 0) * pen["l1"]
                                             + penalty.get("contractive", 0) * pen["contractive"]) / 16
    U = res.B / np.linalg.norm(res.B, axis=1, keepdims=True)
    assert objective == pytest.approx(th["objective"], abs=1e-6)
    assert (U @ U.T)[~np.eye(8, dtype=bool)] == pytest.approx(-1 / 7, abs=1e-3)


@pytest.mark.parametrize("activation", ["erf", "tanh", "relu", "sign"])
def test_denoising_lower_bound_holds_for_every_code(activation):
    """Statement (proved: x_hat lies in the n-dimensional range of A): every code with n neurons and its optimal
    decoder has denoising risk >= the reduced-rank Wiener value; for erf and tanh, B = c Q (orthonormal Q) tends to
    it as c -> 0 (the infimum), with a gap O(c^4) (the cubic term of the code costs its square)."""
    rng = np.random.default_rng(4)
    lam = np.array([3.0, 2.0, 1.5, 1.0, 0.6, 0.4, 0.3, 0.2])
    for rate, tau2 in ((0.25, 0.5), (0.5, 1.0)):
        n = int(rate * 8)
        bound = denoising_lower_bound(rate, tau2, spectrum=lam)
        for _ in range(5):
            B = rng.standard_normal((n, 8)) * rng.uniform(0.1, 3)
            assert population_risk(B, activation=activation, cov=np.diag(lam), noise=tau2 * lam.mean()) >= bound - 1e-12
    if activation in ("erf", "tanh"):
        Q = np.linalg.qr(rng.standard_normal((16, 16)))[0][:8]
        gaps = [population_risk(c * Q, activation=activation, noise=1.0) - denoising_lower_bound(0.5, 1.0)
                for c in (0.1, 0.05)]
        assert 0 < gaps[1] < gaps[0] < 0.01 and gaps[0] / gaps[1] == pytest.approx(16, rel=0.1)


def test_refusals():
    with pytest.raises(ValueError, match="no minimiser"):
        linear_weight_decay_minimum(np.ones(4), 0.5, 0.0, contractive=0.1)
    with pytest.raises(ValueError, match="r <= 1"):
        sign_ridge_minimum(1.5, 0.1)
    with pytest.raises(ValueError, match="odd codes"):
        orthogonal_frame_minimum("relu", 0.5, weight_decay=0.1)
    with pytest.raises(ValueError, match="meaningless"):
        orthogonal_frame_minimum("sign", 0.5, l1=0.1)
