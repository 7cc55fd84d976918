"""Zero-mean Gaussian mixtures (twolayer/theory/gaussian_mixture.py): the exact risk and the EM fit.

Independent sources: the scale-mixture closed form (theory/scale_mixture.md), Monte Carlo with
a least-squares decoder, and draws from a known mixture.
"""

import numpy as np
import pytest

from twolayer.simulations.empirical import heldout_risk, least_squares_decoder
from twolayer.theory import population_risk
from twolayer.theory.gaussian_mixture import fit_gaussian_mixture, gaussian_mixture_risk
from twolayer.theory.scale_mixture import mixture_risk


def _random_cov(d, rng):
    Q = np.linalg.qr(rng.standard_normal((d, d)))[0]
    return Q @ np.diag(np.geomspace(4.0, 0.2, d)) @ Q.T


@pytest.mark.parametrize("activation", ["sign", "relu"])
def test_one_scale_mixture_gives_the_scale_mixture_formula(activation):
    """Sigma_k = c_k Sigma: R = 1 - kappa_a (1 - R_gauss), kappa_0 = (E s)^2 / E s^2 for sign and 1 for relu
    (degree-1 homogeneous; theory/scale_mixture.md, "Scope")."""
    rng = np.random.default_rng(0)
    d, n = 12, 5
    cov, B = _random_cov(d, rng), rng.standard_normal((n, d))
    c, w = np.array([0.25, 1.0, 6.0]), np.array([0.3, 0.5, 0.2])
    kappa = np.sum(w * np.sqrt(c)) ** 2 / np.sum(w * c) if activation == "sign" else 1.0
    expected = mixture_risk(population_risk(B, activation=activation, cov=cov), kappa)
    got = gaussian_mixture_risk(B, [ck * cov for ck in c], w, activation=activation)
    assert got == pytest.approx(expected, rel=1e-10)


def test_two_shapes_against_monte_carlo():
    """Components of different shapes (not one scale): the formula against the held-out risk of a
    least-squares decoder on 400,000 draws (test noise + the fit's O(n/N) excess)."""
    rng = np.random.default_rng(1)
    d, n, N = 10, 6, 400_000
    cov1 = np.diag([9.0] + [0.05] * (d - 1))  # one strong direction ("brightness")
    cov2 = _random_cov(d, rng)  # the rest, another shape
    B = rng.standard_normal((n, d))
    exact = gaussian_mixture_risk(B, [cov1, cov2], [0.4, 0.6])
    pick = rng.random(N) < 0.4
    X = np.where(pick[:, None], rng.standard_normal((N, d)) @ np.sqrt(cov1),
                 rng.standard_normal((N, d)) @ np.linalg.cholesky(cov2).T)
    A = least_squares_decoder(X[: N // 2], B)
    risk, se = heldout_risk(X[N // 2:], B, A, return_stderr=True)
    assert abs(risk - exact) < 3 * se + 2 * n / N, (risk, exact, se)
    # and it is not the one-scale answer
    pooled = 0.4 * cov1 + 0.6 * cov2
    assert abs(population_risk(B, cov=pooled) - exact) > 10 * se


def test_em_recovers_a_two_component_mixture():
    rng = np.random.default_rng(2)
    d, N = 4, 60_000
    cov1, cov2 = np.diag([5.0, 0.1, 0.1, 0.1]), np.diag([0.2, 1.0, 2.0, 1.0])
    pick = rng.random(N) < 0.3
    X = np.where(pick[:, None], rng.standard_normal((N, d)) * np.sqrt(np.diag(cov1)),
                 rng.standard_normal((N, d)) * np.sqrt(np.diag(cov2)))
    covs, w = fit_gaussian_mixture(X, 2)
    first = int(np.argmax([c[0, 0] for c in covs]))
    assert w[first] == pytest.approx(0.3, abs=0.02)
    np.testing.assert_allclose(np.diag(covs[first]), np.diag(cov1), rtol=0.08, atol=0.02)
    np.testing.assert_allclose(np.diag(covs[1 - first]), np.diag(cov2), rtol=0.08, atol=0.02)


def test_bad_mixture_inputs_are_refused():
    with pytest.raises(ValueError, match="weights"):
        gaussian_mixture_risk(np.eye(2), [np.eye(2)], [0.5])
    with pytest.raises(ValueError, match="N > d"):
        fit_gaussian_mixture(np.ones((3, 5)))
