"""The denoising skip-connection autoencoder on a Gaussian mixture with means (twolayer/theory/skip_mixture.py).

Independent sources: Monte Carlo draws of (x, x~), a direct numerical minimisation, the Gaussian
skip risk of twolayer/theory/risk.py, the two-cluster Bayes denoiser, and gradient descent.
Statements are those of theory/skip_mixture.md.
"""

import numpy as np
import pytest
from scipy.optimize import minimize

from twolayer.theory import population_risk
from twolayer.theory.skip_mixture import (
    bayes_risk_monte_carlo,
    code_only_risk,
    fit_population,
    fit_samples,
    isotropic_linear_skip_weight,
    large_d_skip_weight,
    linear_mmse_risk,
    optimal_skip_decoder,
    rescaling_skip_weight,
    sample_mixture,
    skip_mixture_moments,
    skip_mixture_risk,
    two_cluster_bayes_risk,
    two_clusters,
)

SLOW = pytest.mark.slow


def _three_clusters(d, rng):
    """Three components with different covariances and means, zero mean overall."""
    def cov():
        L = rng.standard_normal((d, d)) / np.sqrt(d)
        return L @ L.T + 0.2 * np.eye(d)

    w = np.array([0.3, 0.5, 0.2])
    m1, m2 = rng.standard_normal(d), 0.8 * rng.standard_normal(d)
    return [cov(), cov(), np.diag(rng.uniform(0.2, 1.0, d))], w, [m1, m2, -(w[0] * m1 + w[1] * m2) / w[2]]


@pytest.fixture(scope="module")
def mixture_draws():
    rng = np.random.default_rng(0)
    d, n, tau2 = 5, 3, 0.4
    covs, w, means = _three_clusters(d, rng)
    B = rng.standard_normal((n, d))
    A = rng.standard_normal((d, n)) / 2
    X, Xt, _ = sample_mixture(1_000_000, covs, w, means, noise=tau2, rng=1)
    return covs, w, means, B, A, tau2, X, Xt


def _check_means(F, G, exact, sd=4.0):
    """Sample means of the products F_i G_j (rows are draws) against ``exact`` within ``sd`` standard errors."""
    N = F.shape[0]
    mean = F.T @ G / N
    se = np.sqrt(np.maximum((F * F).T @ (G * G) / N - mean**2, 0.0) / N)
    exactly = se < 1e-12  # e.g. sign(z)^2 = 1
    assert np.all(np.abs(mean - exact)[~exactly] < sd * se[~exactly]), np.max(np.abs(mean - exact) / np.maximum(se, 1e-300))
    np.testing.assert_allclose(mean[exactly], np.asarray(exact)[exactly], atol=1e-9)


@pytest.mark.parametrize("activation", ["sign", "linear"])
def test_moments_and_risk_against_monte_carlo(mixture_draws, activation):
    """Statement (proved; theory/skip_mixture.md, "Moments" and "Risk"): under a mixture with means and input noise,
    C = E[x s^T] = C~ - tau^2 B^T diag(E sigma'(z)), C~ = E[x~ s^T], M = E[s s^T], E[x . x~] = T, E||x~||^2 = T + tau^2 d,
    and R(b, A, B) = (T - 2bT + b^2 T~ - 2 tr A^T C + 2b tr A^T C~ + tr A M A^T) / T (10^6 draws, 4 standard errors)."""
    covs, w, means, B, A, tau2, X, Xt = mixture_draws
    C, Ct, M, T, Tt = skip_mixture_moments(B, covs, w, means, activation=activation, noise=tau2)
    S = np.sign(Xt @ B.T) if activation == "sign" else Xt @ B.T
    _check_means(np.hstack([X, Xt, S]), S, np.vstack([C, Ct, M]))
    one = np.ones((X.shape[0], 1))
    _check_means(np.stack([np.sum(X * Xt, axis=1), np.sum(Xt * Xt, axis=1)], axis=1), one, [[T], [Tt]])
    b = 0.37
    risk = skip_mixture_risk(b, A, B, covs, w, means, activation=activation, noise=tau2)
    _check_means((np.sum((X - b * Xt - S @ A.T) ** 2, axis=1) / T)[:, None], one, [[risk]])


@pytest.mark.parametrize("activation", ["sign", "linear"])
def test_one_zero_mean_component_gives_the_gaussian_skip_risk(activation):
    """Statement (proved; theory/regularised.md, "The skip connection"): with one zero-mean component the mixture
    risk is population_risk(B, A, cov=Sigma, noise=tau^2, skip=b) of twolayer/theory/risk.py."""
    rng = np.random.default_rng(1)
    d, n, tau2, b = 7, 3, 0.3, 0.6
    L = rng.standard_normal((d, d)) / np.sqrt(d)
    cov = L @ L.T + 0.1 * np.eye(d)
    B, A = rng.standard_normal((n, d)), rng.standard_normal((d, n))
    got = skip_mixture_risk(b, A, B, [cov], [1.0], [np.zeros(d)], activation=activation, noise=tau2)
    assert got == pytest.approx(population_risk(B, A, activation=activation, cov=cov, noise=tau2, skip=b), rel=1e-12)


@pytest.mark.parametrize("activation", ["sign", "linear"])
def test_normal_equations_against_direct_minimisation(activation):
    """Statement (proved; "Optimal (b, A) for a fixed B"): b* = (T - tr C M^+ C~^T) / (T + tau^2 d - tr C~ M^+ C~^T),
    A* = (C - b* C~) M^+ minimise the exact risk: L-BFGS over (b, A) finds the same point and value."""
    rng = np.random.default_rng(2)
    d, n, tau2 = 6, 3, 0.7
    covs, w, means = _three_clusters(d, rng)
    B = rng.standard_normal((n, d))
    b, A, risk = optimal_skip_decoder(B, covs, w, means, activation=activation, noise=tau2)
    assert risk == pytest.approx(skip_mixture_risk(b, A, B, covs, w, means, activation=activation, noise=tau2),
                                 rel=1e-12)
    C, Ct, M, T, Tt = skip_mixture_moments(B, covs, w, means, activation=activation, noise=tau2)

    def quadratic(p):  # the risk's numerator / T as a function of (b, A), moments fixed
        b_, A_ = p[0], p[1:].reshape(d, n)
        return (T - 2 * b_ * T + b_ * b_ * Tt - 2 * np.sum(A_ * C) + 2 * b_ * np.sum(A_ * Ct)
                + np.sum((A_ @ M) * A_)) / T

    res = minimize(quadratic, np.zeros(1 + d * n), method="L-BFGS-B",
                   options={"ftol": 1e-15, "gtol": 1e-11, "maxiter": 5000})
    assert res.fun == pytest.approx(risk, abs=1e-10)
    assert res.x[0] == pytest.approx(b, abs=1e-5)
    assert 0 < risk < min(1 - rescaling_skip_weight(covs, w, means, noise=tau2),
                          code_only_risk(B, covs, w, means, activation=activation, noise=tau2))


def test_gaussian_source_keeps_its_closed_form():
    """Statement (derived; theory/regularised.md): on N(0, I), b* = 1 / (1 + tau^2) and A* = 0 for any encoder."""
    rng = np.random.default_rng(3)
    d, tau2 = 8, 0.6
    for activation in ("sign", "linear"):
        b, A, risk = optimal_skip_decoder(rng.standard_normal((3, d)), [np.eye(d)], [1.0], activation=activation,
                                          noise=tau2)
        assert b == pytest.approx(1 / (1 + tau2), rel=1e-12)
        assert np.abs(A).max() < 1e-12
        assert risk == pytest.approx(tau2 / (1 + tau2), rel=1e-12)


def test_linear_code_on_isotropic_clusters_is_the_wiener_filter():
    """Statement (proved; "Linear code, equal isotropic components"): if span{mu_k} lies in rowspace(B) != R^d and every
    Sigma_k = sigma^2 I, then b* = sigma^2 / (sigma^2 + tau^2) and the risk is the linear MMSE."""
    rng = np.random.default_rng(4)
    d, sigma2, tau2 = 10, 0.7, 0.5
    w = np.array([0.2, 0.3, 0.5])
    m1, m2 = rng.standard_normal(d), rng.standard_normal(d)
    means = [m1, m2, -(w[0] * m1 + w[1] * m2) / w[2]]
    B = np.vstack([m1, m2, rng.standard_normal((2, d))])  # n = 4 < d, the means in its row space
    b, _, risk = optimal_skip_decoder(B, [sigma2 * np.eye(d)] * 3, w, means, activation="linear", noise=tau2)
    assert b == pytest.approx(isotropic_linear_skip_weight(sigma2, tau2), rel=1e-10)
    assert risk == pytest.approx(linear_mmse_risk([sigma2 * np.eye(d)] * 3, w, means, noise=tau2), rel=1e-10)


@pytest.mark.parametrize("activation", ["sign", "linear"])
def test_large_d_limit_of_the_skip_weight(activation):
    """Statement (derived; "Large d, bounded n"): b* = E_c / (E_c + tau^2 d) + O(n/d), E_c = T R_c(B); with ||mu||^2 = 4
    this is T / (T + tau^2 d) + O(1/d) (the rescaling-only value), with ||mu||^2 = d/4 and a unit on the cluster axis
    it is not (the within-cluster gain 1 / (1 + tau^2) instead). Checked: d x gap settles (n = 2, d = 64 ... 1024)."""
    tau2 = 0.5
    gaps = {"weak": [], "strong": []}
    for regime in gaps:
        for d in (64, 256, 1024):
            covs, w, means = two_clusters(d, 4.0 if regime == "weak" else d / 4)
            rng = np.random.default_rng(5)
            B = np.vstack([np.eye(d)[0] + 0.3 * rng.standard_normal(d) / np.sqrt(d), rng.standard_normal(d) / np.sqrt(d)])
            b, _, _ = optimal_skip_decoder(B, covs, w, means, activation=activation, noise=tau2)
            limit = large_d_skip_weight(B, covs, w, means, activation=activation, noise=tau2)
            rescale = rescaling_skip_weight(covs, w, means, noise=tau2)
            assert d * abs(b - limit) < 0.5  # measured 0.09 ... 0.28
            gaps[regime].append((d * (b - limit), d * (b - rescale), b))
    for rows in gaps.values():
        assert abs(rows[-1][0] - rows[-2][0]) < 0.02  # d x gap has settled: the gap is O(1/d)
    assert all(abs(g[1]) < 1.0 for g in gaps["weak"])  # weak: the rescaling value up to O(1/d) (measured 0.8)
    assert gaps["strong"][-1][1] < -0.04 * 1024  # strong: not the rescaling value ...
    assert gaps["strong"][-1][2] == pytest.approx(1 / (1 + tau2), abs=1e-3)  # ... but the within-cluster gain


def test_bayes_denoiser_of_two_clusters():
    """Statement (proved; "Bayes"): for two clusters +-mu with Sigma = sigma^2 I the Bayes risk is
    ((d - 1) sigma^2 tau^2 / v + mmse_1) / T (quadrature) = the Monte Carlo risk of E[x | x~], and it lies below the
    best network (skip and sign code, n = 1 on the cluster axis), which lies below skip only and code only."""
    d, m2, tau2 = 8, 3.0, 0.8
    covs, w, means = two_clusters(d, m2, sigma2=1.0)
    exact = two_cluster_bayes_risk(d, m2, 1.0, tau2)
    mc, se = bayes_risk_monte_carlo(covs, w, means, noise=tau2, samples=100_000, rng=6)
    assert abs(mc - exact) < 4 * se
    B = np.eye(1, d)
    _, _, both = optimal_skip_decoder(B, covs, w, means, noise=tau2)
    assert exact < both < min(1 - rescaling_skip_weight(covs, w, means, noise=tau2),
                              code_only_risk(B, covs, w, means, noise=tau2), linear_mmse_risk(covs, w, means, noise=tau2))


@pytest.mark.parametrize("activation", ["linear", pytest.param("sign", marks=SLOW)])
def test_gradient_descent_reaches_the_closed_form_skip_weight(activation):
    """Statement (proved closed form, measured convergence): Adam on the exact mixture risk over (b, A, B) ends at a b
    within 1e-3 of b*(B) of its own final B (d = 16, n = 2, two clusters ||mu||^2 = 4, tau^2 = 1); for the linear
    code that is also sigma^2 / (sigma^2 + tau^2) = 1/2 (the Wiener filter). The sign case is slow only for JAX's
    compilation of the orthant probabilities (about 10 s)."""
    d, tau2 = 16, 1.0
    covs, w, means = two_clusters(d, 4.0)
    B0 = np.random.default_rng(7).standard_normal((2, d))
    b, A, B, risk = fit_population(B0, covs, w, means, activation=activation, noise=tau2, steps=600, lr=0.02)
    b_star, _, risk_star = optimal_skip_decoder(B, covs, w, means, activation=activation, noise=tau2)
    assert abs(b - b_star) < 1e-3
    assert risk == pytest.approx(risk_star, abs=1e-5)
    assert risk < 1 - rescaling_skip_weight(covs, w, means, noise=tau2)  # the code helps on the mixture
    if activation == "linear":
        assert abs(b - isotropic_linear_skip_weight(1.0, tau2)) < 1e-3


def test_bad_inputs_are_refused():
    d = 4
    covs, w, means = two_clusters(d, 1.0)
    with pytest.raises(ValueError, match="sign or the linear"):
        skip_mixture_moments(np.eye(1, d), covs, w, means, activation="relu")
    with pytest.raises(ValueError, match="weights"):
        skip_mixture_moments(np.eye(1, d), covs, [0.5, 0.6], means)
    with pytest.raises(ValueError, match="means"):
        skip_mixture_moments(np.eye(1, d), covs, w, [np.zeros(3)] * 2)
    with pytest.raises(ValueError, match="noise"):
        skip_mixture_moments(np.eye(1, d), covs, w, means, noise=-1.0)
    with pytest.raises(ValueError, match="A: expected"):
        skip_mixture_risk(0.1, np.zeros((d, 2)), np.eye(1, d), covs, w, means)


@SLOW
@pytest.mark.parametrize("tau2", [0.25, 1.0])
def test_skip_weight_matches_its_closed_form_at_d_512(tau2):
    """Statement (issue 13 acceptance: "the skip weight of the skip-connection parametrisation matches its closed form
    within 1e-3 at d = 512"): Adam on the exact two-cluster risk (||mu||^2 = 4, sign, n = 8) ends within 1e-3 of
    b*(B) for its own B; measured gaps in theory/skip_mixture.md."""
    d = 512
    covs, w, means = two_clusters(d, 4.0)
    B0 = np.random.default_rng(3).standard_normal((8, d))
    b, _, B, _ = fit_population(B0, covs, w, means, noise=tau2, steps=2000)
    b_star, _, _ = optimal_skip_decoder(B, covs, w, means, noise=tau2)
    assert abs(b - b_star) < 1e-3


@SLOW
def test_samples_skip_weight_matches_its_closed_form_at_d_512():
    """Statement (as above, on samples): Adam on fresh draws (smoothed sign for B, then (b, A) for the exact sign code)
    ends within 1e-3 of b*(B) of its own B (d = 512, n = 8, tau^2 = 1)."""
    d = 512
    covs, w, means = two_clusters(d, 4.0)
    B0 = np.random.default_rng(3).standard_normal((8, d))
    _, b, _, B = fit_samples(B0, covs, w, means, noise=1.0, steps=3000, refit_steps=2000)
    b_star, _, _ = optimal_skip_decoder(B, covs, w, means, noise=1.0)
    assert abs(b - b_star) < 1e-3
