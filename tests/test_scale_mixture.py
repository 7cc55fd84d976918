"""Scale mixtures x = s g: kappa, E||g|| and the sign-autoencoder risk R = 1 - kappa (1 - R_g)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import gammaln

from twolayer.theory.scale_mixture import (
    estimate_kappa,
    expected_gaussian_norm,
    kappa_of_scales,
    mixture_risk,
    twin_scales,
)

D = 16


def _covariance_factor(d: int, seed: int):
    """L with L L^T = Q diag(lam) Q^T: a rotated, geometrically decaying spectrum."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    lam = np.geomspace(4.0, 0.05, d)
    return q * np.sqrt(lam), q @ np.diag(lam) @ q.T


def _student_kappa(nu: float) -> float:
    """s = sqrt(nu / chi2_nu) (x is multivariate Student t): E s = sqrt(nu/2) G((nu-1)/2)/G(nu/2),
    E s^2 = nu / (nu - 2)."""
    mean = math.sqrt(nu / 2.0) * math.exp(gammaln((nu - 1) / 2.0) - gammaln(nu / 2.0))
    return mean * mean / (nu / (nu - 2.0))


SCALE_LAWS = {
    # name: (sampler(rng, n), exact kappa)
    "two-point {0.5, 2}": (lambda rng, n: rng.choice([0.5, 2.0], n), 1.25**2 / 2.125),
    "lognormal sigma=0.5": (lambda rng, n: np.exp(0.5 * rng.standard_normal(n)), math.exp(-0.25)),
    "student nu=10": (lambda rng, n: np.sqrt(10.0 / rng.chisquare(10.0, n)), _student_kappa(10.0)),
}


# -- mixture_risk -------------------------------------------------------------------------
def test_mixture_risk_formula_and_limits():
    assert mixture_risk(0.3, 1.0) == pytest.approx(0.3)
    assert mixture_risk(0.3, 0.5) == pytest.approx(1 - 0.5 * 0.7)
    assert mixture_risk(1.0, 0.2) == pytest.approx(1.0)
    assert mixture_risk(0.0, 0.8) == pytest.approx(0.2)
    out = mixture_risk(np.array([0.1, 0.2]), 0.5)
    np.testing.assert_allclose(out, [0.55, 0.6])


@pytest.mark.parametrize("risk, kappa", [(-0.1, 0.5), (1.2, 0.5), (0.3, 0.0), (0.3, 1.5), (np.nan, 0.5)])
def test_mixture_risk_rejects_bad_input(risk, kappa):
    with pytest.raises(ValueError, match="gaussian_risk|kappa"):
        mixture_risk(risk, kappa)


def test_kappa_of_scales():
    assert kappa_of_scales([0.5, 2.0]) == pytest.approx(1.25**2 / 2.125)
    assert kappa_of_scales([3.0, 3.0]) == 1.0
    assert kappa_of_scales([1.0, 2.0], weights=[3, 1]) == pytest.approx(1.25**2 / 1.75)
    with pytest.raises(ValueError, match="> 0"):
        kappa_of_scales([1.0, -1.0])


# -- expected_gaussian_norm ---------------------------------------------------------------
@pytest.mark.parametrize("d", [1, 2, 5, 16, 100, 3072])
@pytest.mark.parametrize("variance", [1.0, 0.3])
def test_expected_norm_isotropic_closed_form(d, variance):
    exact = math.sqrt(2.0 * variance) * math.exp(gammaln((d + 1) / 2.0) - gammaln(d / 2.0))
    assert expected_gaussian_norm(np.full(d, variance)) == pytest.approx(exact, rel=1e-11)


def test_expected_norm_zero_eigenvalues_and_one_direction():
    assert expected_gaussian_norm([1.0, 0.0, 0.0]) == pytest.approx(math.sqrt(2 / math.pi), rel=1e-12)


def test_expected_norm_anisotropic_monte_carlo():
    lam = 1.0 / np.arange(1, 33) ** 1.5
    rng = np.random.default_rng(3)
    norms = np.concatenate(
        [np.linalg.norm(rng.standard_normal((100_000, lam.size)) * np.sqrt(lam), axis=1) for _ in range(4)]
    )
    stderr = norms.std() / math.sqrt(norms.size)
    assert abs(expected_gaussian_norm(lam) - norms.mean()) < 4 * stderr
    # Jensen: E||g|| < sqrt(E||g||^2) = sqrt(tr)
    assert expected_gaussian_norm(lam) < math.sqrt(lam.sum())


def test_expected_norm_rejects_bad_spectrum():
    with pytest.raises(ValueError, match="negative eigenvalue"):
        expected_gaussian_norm([1.0, -0.5])
    with pytest.raises(ValueError, match="positive sum"):
        expected_gaussian_norm([0.0, 0.0])


# -- estimate_kappa -----------------------------------------------------------------------
@pytest.mark.parametrize("law", sorted(SCALE_LAWS))
def test_estimate_kappa_matches_exact_value(law):
    sampler, exact = SCALE_LAWS[law]
    L, _ = _covariance_factor(D, seed=1)
    rng = np.random.default_rng(7)
    n = 100_000
    X = sampler(rng, n)[:, None] * (rng.standard_normal((n, D)) @ L.T)
    kappa, stderr = estimate_kappa(X, return_stderr=True)
    assert 0 < stderr < 0.01
    assert abs(kappa - exact) < 4 * stderr, (kappa, exact, stderr)


def test_estimate_kappa_is_one_for_gaussian_data():
    L, cov = _covariance_factor(D, seed=2)
    rng = np.random.default_rng(8)
    X = rng.standard_normal((50_000, D)) @ L.T
    kappa, stderr = estimate_kappa(X, return_stderr=True)
    assert kappa <= 1.0
    assert 1.0 - kappa < 4 * stderr + 1e-12
    # a given spectrum: only its shape matters
    lam = np.linalg.eigvalsh(cov)
    assert estimate_kappa(X, spectrum=5.0 * lam) == pytest.approx(estimate_kappa(X, spectrum=lam), rel=1e-12)
    assert abs(estimate_kappa(X, spectrum=lam) - 1.0) < 4 * stderr


def test_estimate_kappa_flags_norms_lighter_than_gaussian():
    """x = L u, u uniform on the sphere (constant Mahalanobis radius) is elliptical but no
    scale mixture: the raw estimate is the elliptical kappa d / (E chi_d)^2 > 1."""
    L, _ = _covariance_factor(D, seed=5)
    rng = np.random.default_rng(12)
    u = rng.standard_normal((40_000, D))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    X = u @ L.T
    raw, stderr = estimate_kappa(X, clip=False, return_stderr=True)
    exact = D / (2.0 * math.exp(2.0 * (gammaln((D + 1) / 2.0) - gammaln(D / 2.0))))
    assert raw > 1.0 + 10 * stderr
    assert abs(raw - exact) < 4 * stderr
    assert estimate_kappa(X) == 1.0


def test_estimate_kappa_center_and_errors():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20_000, 4))
    assert estimate_kappa(X + 3.0, center=True) == pytest.approx(estimate_kappa(X - X.mean(0)), rel=1e-10)
    with pytest.raises(ValueError, match="d = 4"):
        estimate_kappa(X, spectrum=np.ones(3))
    with pytest.raises(ValueError, match="at least 2"):
        estimate_kappa(X[:1])
    with pytest.raises(ValueError, match="2-D"):
        estimate_kappa(X[0])


# -- mixture_risk against a Monte Carlo sign autoencoder ----------------------------------
def _optimal_sign_decoder(B, cov):
    """Gaussian part: C = E[g sign(Bg)^T], M = E[sign(Bg) sign(Bg)^T], R_gauss = 1 - tr(C M^-1 C^T)/tr."""
    K = B @ cov @ B.T
    inv_sd = 1.0 / np.sqrt(np.diag(K))
    C = math.sqrt(2.0 / math.pi) * cov @ B.T * inv_sd
    M = (2.0 / math.pi) * np.arcsin(np.clip(K * np.outer(inv_sd, inv_sd), -1.0, 1.0))
    CMinv = np.linalg.solve(M, C.T).T
    r_gauss = 1.0 - np.trace(CMinv @ C.T) / np.trace(cov)
    return CMinv, r_gauss


@pytest.mark.parametrize("law", ["two-point {0.5, 2}", "lognormal sigma=0.5"])
def test_mixture_risk_matches_monte_carlo_sign_autoencoder(law):
    sampler, kappa = SCALE_LAWS[law]
    n_code = 8
    L, cov = _covariance_factor(D, seed=4)
    rng = np.random.default_rng(11)
    B = rng.standard_normal((n_code, D))
    CMinv, r_gauss = _optimal_sign_decoder(B, cov)
    # E s and E s^2 of the law, exactly
    if law.startswith("two-point"):
        mean_s, mean_s2 = 1.25, 2.125
    else:
        mean_s, mean_s2 = math.exp(0.125), math.exp(0.5)
    A = mean_s * CMinv
    total, chunk = 1_000_000, 200_000
    losses = np.empty(total)
    for start in range(0, total, chunk):
        g = rng.standard_normal((chunk, D)) @ L.T
        x = sampler(rng, chunk)[:, None] * g
        err = x - np.sign(x @ B.T) @ A.T
        losses[start : start + chunk] = np.einsum("ij,ij->i", err, err)
    norm = mean_s2 * np.trace(cov)
    risk_mc = losses.mean() / norm
    stderr = losses.std() / norm / math.sqrt(total)
    predicted = mixture_risk(r_gauss, kappa)
    assert abs(risk_mc - predicted) < 4 * stderr, (risk_mc, predicted, stderr)
    # and the mixture is strictly worse than the Gaussian (kappa < 1), by more than the noise
    assert predicted - r_gauss > 10 * stderr


# -- twin_scales ---------------------------------------------------------------------------
def test_twin_scales_recover_a_log_normal_scale_law():
    """x = s g with log s ~ N(0, 0.6^2): the twin's log-scales have variance 0.36 (the data's
    log-norm variance less the Gaussian's, computed here from independent rows) and kappa
    e^-0.36; on Gaussian rows the scales stay within a few percent of 1."""
    L, _ = _covariance_factor(D, seed=3)
    rng = np.random.default_rng(4)
    n = 60_000
    X = np.exp(0.6 * rng.standard_normal(n))[:, None] * (rng.standard_normal((n, D)) @ L.T)
    G = rng.standard_normal((n, D)) @ L.T
    s = twin_scales(X, G)
    assert np.var(np.log(s)) == pytest.approx(0.36, rel=0.03)
    assert kappa_of_scales(s) == pytest.approx(math.exp(-0.36), abs=0.01)
    assert np.exp(np.mean(np.log(s))) == pytest.approx(1.0, abs=1e-12)  # geometric mean 1
    own = twin_scales(rng.standard_normal((n, D)) @ L.T, G)  # Gaussian data: no scale
    assert np.max(np.abs(np.log(own))) < 0.25 and kappa_of_scales(own) > 0.999


def test_twin_scales_rejects_bad_input_and_keeps_zero_rows():
    rng = np.random.default_rng(5)
    G = rng.standard_normal((50, 3))
    with pytest.raises(ValueError, match="columns"):
        twin_scales(np.ones((4, 2)), G)
    with pytest.raises(ValueError, match="none of zero norm"):
        twin_scales(np.ones((4, 3)), np.vstack([G, np.zeros((1, 3))]))
    with pytest.raises(ValueError, match="at least 2 rows of X"):
        twin_scales(np.vstack([np.ones((1, 3)), np.zeros((3, 3))]), G)
    X = rng.standard_normal((40, 3)) * np.exp(rng.standard_normal((40, 1)))
    with_zero = twin_scales(np.vstack([X, np.zeros((1, 3))]), G)
    assert np.array_equal(with_zero[:-1], twin_scales(X, G))  # a zero row changes nothing for the others
    assert with_zero[-1] == with_zero[:-1].min()  # ... and gets the smallest of their scales
