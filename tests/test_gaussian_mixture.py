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


def test_bivariate_normal_cdf_against_scipy_and_its_limits():
    """Sheppard's angle formula by Gauss-Legendre against scipy's multivariate normal CDF, and the
    closed forms rho = 0 (product), rho = +-1 (min / max(0, sum - 1)), h = k = 0 (1/4 + arcsin(rho)/2pi)."""
    from scipy.special import ndtr
    from scipy.stats import multivariate_normal

    from twolayer.theory.gaussian_mixture import bivariate_normal_cdf

    rng = np.random.default_rng(3)
    for h, k, rho in zip(rng.uniform(-4, 4, 40), rng.uniform(-4, 4, 40), rng.uniform(-0.995, 0.995, 40)):
        ref = multivariate_normal(mean=[0, 0], cov=[[1, rho], [rho, 1]]).cdf([h, k])
        assert bivariate_normal_cdf(h, k, rho) == pytest.approx(ref, abs=1e-9)
    h, k = rng.uniform(-3, 3, 20), rng.uniform(-3, 3, 20)
    np.testing.assert_allclose(bivariate_normal_cdf(h, k, 0.0), ndtr(h) * ndtr(k), atol=1e-14)
    np.testing.assert_allclose(bivariate_normal_cdf(h, k, 1.0), ndtr(np.minimum(h, k)), atol=1e-12)
    np.testing.assert_allclose(bivariate_normal_cdf(h, k, -1.0), np.maximum(0, ndtr(h) + ndtr(k) - 1), atol=1e-12)
    rho = np.linspace(-1, 1, 11)
    np.testing.assert_allclose(bivariate_normal_cdf(0.0, 0.0, rho), 0.25 + np.arcsin(rho) / (2 * np.pi), atol=1e-14)


def test_jax_bivariate_normal_cdf_values_and_derivatives():
    """The JAX Phi_2 equals the numpy one (itself checked against scipy), and its closed-form partials
    (phi(h) Phi((k - rho h)/s), the density for rho) equal central differences of scipy's CDF."""
    import jax
    import jax.numpy as jnp
    from scipy.stats import multivariate_normal

    from twolayer.theory.gaussian_mixture import bivariate_normal_cdf

    def scipy_cdf(h, k, rho):
        return multivariate_normal(mean=[0, 0], cov=[[1, rho], [rho, 1]]).cdf([h, k])

    rng = np.random.default_rng(5)
    h, k, rho = rng.uniform(-2.5, 2.5, 12), rng.uniform(-2.5, 2.5, 12), rng.uniform(-0.95, 0.95, 12)
    with jax.enable_x64(True):
        value = jax.jit(lambda *v: bivariate_normal_cdf(*v, jnp, 16))(h, k, rho)
        np.testing.assert_allclose(value, bivariate_normal_cdf(h, k, rho), atol=1e-13)
        grad = jax.grad(lambda *v: bivariate_normal_cdf(*v, jnp, 16), argnums=(0, 1, 2))
        step = 1e-5
        for args in zip(h, k, rho):
            got = grad(*map(jnp.asarray, args))
            for which in range(3):
                up, down = list(args), list(args)
                up[which] += step
                down[which] -= step
                reference = (scipy_cdf(*up) - scipy_cdf(*down)) / (2 * step)
                assert float(got[which]) == pytest.approx(reference, abs=1e-6)
        # |rho| = 1: finite, and d/dh the closed form's: phi(h) 1[h < k]
        at_one = grad(jnp.asarray(-0.3), jnp.asarray(0.4), jnp.asarray(1.0))
        assert float(at_one[0]) == pytest.approx(np.exp(-0.045) / np.sqrt(2 * np.pi), rel=1e-12)
        assert float(at_one[1]) == 0.0 and float(at_one[2]) == 0.0


@pytest.mark.parametrize("activation", ["sign", "linear"])
def test_mixture_with_means_against_monte_carlo(activation):
    """Components with means (clusters): the exact risk against the held-out risk of a least-squares
    decoder on 400,000 draws; zero means give back the zero-mean formula."""
    rng = np.random.default_rng(4)
    d, n, N = 8, 5, 400_000
    covs = [_random_cov(d, rng) * 0.3, np.diag(rng.uniform(0.1, 1.0, d))]
    means = [rng.standard_normal(d), -0.7 * rng.standard_normal(d)]
    w = np.array([0.35, 0.65])
    B = rng.standard_normal((n, d))
    exact = gaussian_mixture_risk(B, covs, w, means=means, activation=activation)
    pick = rng.random(N) < w[0]
    X = np.where(pick[:, None], rng.standard_normal((N, d)) @ np.linalg.cholesky(covs[0]).T + means[0],
                 rng.standard_normal((N, d)) * np.sqrt(np.diag(covs[1])) + means[1])
    A = least_squares_decoder(X[: N // 2], B, activation=activation)
    risk, se = heldout_risk(X[N // 2:], B, A, activation=activation, return_stderr=True)
    assert abs(risk - exact) < 3 * se + 2 * n / N, (risk, exact, se)
    zero = gaussian_mixture_risk(B, covs, w, means=[np.zeros(d)] * 2, activation=activation)
    assert zero == pytest.approx(gaussian_mixture_risk(B, covs, w, activation=activation), rel=1e-12)
    assert abs(zero - exact) > 10 * se  # the means matter
    with pytest.raises(ValueError, match="sign or the linear"):
        gaussian_mixture_risk(B, covs, w, means=means, activation="relu")


def test_mixture_optimum_reaches_the_closed_forms():
    """gaussian_mixture_optimum from random starts: (i) one isotropic Gaussian component, r = 1/2:
    the theorem's 1 - 2r/pi; (ii) two clusters +-mu e_1 with noise s^2 I, one neuron: sign(x_1) is
    best and R = 1 - (E|N(mu, s^2)|)^2 / (mu^2 + d s^2) (folded-normal mean)."""
    from scipy.special import ndtr

    from twolayer.theory.gaussian_mixture import gaussian_mixture_optimum

    rng = np.random.default_rng(6)
    d = 8
    risk, _ = gaussian_mixture_optimum(rng.standard_normal((4, d)), [np.eye(d)], [1.0])
    assert risk == pytest.approx(1 - 1 / np.pi, abs=1e-7)
    mu, s = 2.0, 0.7
    mean = np.zeros(d)
    mean[0] = mu
    folded = s * np.sqrt(2 / np.pi) * np.exp(-mu**2 / (2 * s**2)) + mu * (1 - 2 * ndtr(-mu / s))
    expected = 1 - folded**2 / (mu**2 + d * s**2)
    risk, B = gaussian_mixture_optimum(rng.standard_normal((1, d)), [s**2 * np.eye(d)] * 2, [0.5, 0.5], [mean, -mean])
    assert risk == pytest.approx(expected, abs=1e-7)
    assert abs(B[0, 0]) / np.linalg.norm(B[0]) > 0.999  # the neuron reads the cluster axis
    # the search says whether it converged: here within the limit; stopped after 2 iterations, it is not
    # converged and its risk is above the optimum's closed form
    start = rng.standard_normal((4, d))
    risk, _, search = gaussian_mixture_optimum(start, [np.eye(d)], [1.0], full_output=True)
    assert search["converged"] and 0 < search["iterations"] < 500 and risk == pytest.approx(1 - 1 / np.pi, abs=1e-7)
    risk, _, search = gaussian_mixture_optimum(start, [np.eye(d)], [1.0], maxiter=2, full_output=True)
    assert not search["converged"] and search["iterations"] == 2 and risk > 1 - 1 / np.pi + 1e-6


def test_contrast_bins_recover_a_mixture_with_separated_scales():
    """Two equally likely components of different shapes and scales (contrast 0.3 vs 3, d = 24):
    grouping the rows by contrast into two equal bins recovers the mixture, so the risk of an encoder under the bins is its
    exact mixture risk (to the sampling error of 200,000 rows); and the default bin rule."""
    from twolayer.theory.gaussian_mixture import contrast_binned_mixture

    rng = np.random.default_rng(7)
    d, n, N = 24, 8, 200_000
    shapes = [_random_cov(d, rng), np.diag(rng.uniform(0.2, 2.0, d))]
    covs, w = [0.09 * shapes[0], 9.0 * shapes[1]], np.array([0.5, 0.5])
    pick = rng.random(N) < w[0]
    X = np.where(pick[:, None], rng.standard_normal((N, d)) @ np.linalg.cholesky(covs[0]).T,
                 rng.standard_normal((N, d)) * np.sqrt(np.diag(covs[1])))
    B = rng.standard_normal((n, d))
    binned = contrast_binned_mixture(X, 2)
    order = np.argsort(np.sum(X * X, axis=1))
    assert pick[order[: N // 2]].mean() > 0.99  # the low-contrast bin is the first component
    exact = gaussian_mixture_risk(B, covs, w)
    assert gaussian_mixture_risk(B, *binned) == pytest.approx(exact, abs=3e-3)
    assert abs(population_risk(B, cov=w[0] * covs[0] + w[1] * covs[1]) - exact) > 0.05  # one Gaussian is far off
    assert len(contrast_binned_mixture(X)[0]) == 32 and len(contrast_binned_mixture(X[:500])[0]) == 10
    with pytest.raises(ValueError, match="4 d rows"):
        contrast_binned_mixture(X[:90])


def test_brightness_bins_recover_two_clusters_along_the_top_direction():
    """Two clusters N(+-mu e_1, Sigma) far apart on the top principal direction: two brightness groups
    (one contrast group each) recover them, means included, so the sign code's risk under the groups
    is the exact mixture risk (200,000 rows); and the row-count rule."""
    from twolayer.theory.gaussian_mixture import brightness_contrast_mixture

    rng = np.random.default_rng(8)
    d, n, N = 12, 6, 200_000
    cov = _random_cov(d, rng) * 0.2
    mu = np.zeros(d)
    mu[0] = 4.0
    pick = np.arange(N) < N // 2  # exactly balanced: the groups have equal counts
    X = rng.standard_normal((N, d)) @ np.linalg.cholesky(cov).T + np.where(pick[:, None], mu, -mu)
    covs, w, means = brightness_contrast_mixture(X, (2, 1))
    np.testing.assert_allclose(sorted(m[0] for m in means), [-4.0, 4.0], atol=0.03)
    B = rng.standard_normal((n, d))
    exact = gaussian_mixture_risk(B, [cov, cov], [0.5, 0.5], means=[mu, -mu])
    assert gaussian_mixture_risk(B, covs, w, means=means) == pytest.approx(exact, abs=3e-3)
    with pytest.raises(ValueError, match="need N >= 384"):
        brightness_contrast_mixture(X[:300])


def test_the_groups_are_the_mixtures_components():
    """brightness_contrast_groups / contrast_groups partition the rows into the components of the
    two binned mixtures: the moments of each index group (numpy) are the mixture's component, the
    groups' brightness levels (top eigenvector by numpy.linalg.eigh) are ordered, and so are the
    contrasts within each level."""
    from twolayer.theory.gaussian_mixture import (
        brightness_contrast_groups,
        brightness_contrast_mixture,
        contrast_binned_mixture,
        contrast_groups,
    )

    rng = np.random.default_rng(11)
    d, N = 6, 1203
    X = rng.standard_normal((N, d)) @ np.linalg.cholesky(_random_cov(d, rng)).T * rng.lognormal(0, 0.5, (N, 1))
    v1 = np.linalg.eigh(X.T @ X / N)[1][:, -1]
    b = X @ v1
    c = np.linalg.norm(X - np.outer(b, v1), axis=1)

    groups = brightness_contrast_groups(X, (3, 4))
    assert sorted(np.concatenate(groups).tolist()) == list(range(N)) and len(groups) == 12
    covs, w, means = brightness_contrast_mixture(X, (3, 4))
    for k, g in enumerate(groups):
        np.testing.assert_allclose(means[k], X[g].mean(axis=0), atol=1e-12)
        np.testing.assert_allclose(covs[k], np.cov(X[g].T, bias=True), atol=1e-12)
        assert w[k] == len(g) / N
    levels = [np.concatenate(groups[4 * i:4 * i + 4]) for i in range(3)]
    assert all(b[levels[i]].max() <= b[levels[i + 1]].min() for i in range(2))  # the same eigh, the same v1 sign
    for i in range(3):
        assert all(c[groups[4 * i + j]].max() <= c[groups[4 * i + j + 1]].min() for j in range(3))

    groups = contrast_groups(X, 5)
    covs, w = contrast_binned_mixture(X, 5)
    for k, g in enumerate(groups):
        np.testing.assert_allclose(covs[k], X[g].T @ X[g] / len(g), atol=1e-12)
    assert all(c[groups[k]].max() <= c[groups[k + 1]].min() for k in range(4))


def test_smoothed_sign_moments_closed_forms_and_limit():
    """The smoothed code erf(u / (sqrt 2 t)): zero means give the erf kernel (2/pi) arcsin(K_ij /
    sqrt((K_ii + t_i^2)(K_jj + t_j^2))) and C = sqrt(2/pi) Sigma B^T / sqrt(K_ii + t^2) (Williams'
    closed form, computed here directly); t = 0 gives back the sign code's moments."""
    from twolayer.theory.gaussian_mixture import sign_moments_with_mean

    rng = np.random.default_rng(11)
    d, n = 7, 5
    cov, B, mean = _random_cov(d, rng), rng.standard_normal((n, d)), rng.standard_normal(d)
    t2 = rng.uniform(0.1, 2.0, n)
    C, M, _ = sign_moments_with_mean(B, np.zeros(d), cov, smoothing=t2)
    K = B @ cov @ B.T
    D = np.sqrt(np.diag(K) + t2)
    np.testing.assert_allclose(M, 2 / np.pi * np.arcsin(K / np.outer(D, D)), atol=1e-13)
    np.testing.assert_allclose(C, np.sqrt(2 / np.pi) * cov @ B.T / D, atol=1e-13)
    for got, want in zip(sign_moments_with_mean(B, mean, cov, smoothing=np.zeros(n)), sign_moments_with_mean(B, mean, cov)):
        np.testing.assert_allclose(got, want, atol=1e-14)


def test_smoothed_sign_loss_against_monte_carlo():
    """E||x - A erf(B x / (sqrt 2 tau r))||^2 under a two-component mixture with means, r_i^2 = E (b_i . x)^2:
    the exact loss against its average over 400,000 draws (3 standard errors), and its gradient
    in B against the Monte Carlo gradient (4 standard errors of 20 batch means; the population scale r in both)."""
    import jax
    import jax.numpy as jnp

    from twolayer.theory.gaussian_mixture import smoothed_sign_loss_jax

    rng = np.random.default_rng(12)
    d, n, N, tau = 6, 4, 400_000, 0.3
    covs = np.stack([_random_cov(d, rng) * 0.5, np.diag(rng.uniform(0.2, 1.5, d))])
    means = np.stack([rng.standard_normal(d), -0.6 * rng.standard_normal(d)])
    w = np.array([0.4, 0.6])
    A, B = rng.standard_normal((d, n)) / np.sqrt(n), rng.standard_normal((n, d))
    pick = rng.random(N) < w[0]
    X = np.where(pick[:, None], rng.standard_normal((N, d)) @ np.linalg.cholesky(covs[0]).T + means[0],
                 rng.standard_normal((N, d)) @ np.linalg.cholesky(covs[1]).T + means[1])
    with jax.enable_x64(True):
        args = (jnp.asarray(covs), jnp.asarray(w), jnp.asarray(means), tau)
        exact = float(smoothed_sign_loss_jax(jnp.asarray(A), jnp.asarray(B), *args, nodes=48))

        def sample_loss(Bj, rows=X):
            r = jnp.sqrt(jnp.sum(jnp.asarray(w)[:, None] * (jnp.einsum("nd,kde,ne->kn", Bj, args[0], Bj)
                                                             + (args[2] @ Bj.T) ** 2), axis=0))
            err = rows - jax.scipy.special.erf(rows @ Bj.T / (np.sqrt(2) * tau * r)) @ A.T
            return jnp.sum(err * err, axis=1)

        per_row = np.asarray(sample_loss(jnp.asarray(B)))
        batch_grad = jax.jit(jax.grad(lambda Bj, rows: jnp.mean(sample_loss(Bj, rows))))
        grads = np.stack([np.asarray(batch_grad(jnp.asarray(B), jnp.asarray(rows))) for rows in np.split(X, 20)])
        grad = np.asarray(jax.grad(lambda Bj: smoothed_sign_loss_jax(jnp.asarray(A), Bj, *args, nodes=48))(jnp.asarray(B)))
    assert abs(per_row.mean() - exact) < 3 * per_row.std() / np.sqrt(N), (per_row.mean(), exact)
    stderr = grads.std(axis=0, ddof=1) / np.sqrt(len(grads))  # batch means: 20 batches of 20,000 draws
    assert np.all(np.abs(grad - grads.mean(axis=0)) < 4 * stderr), (grad, grads.mean(axis=0), stderr)
    assert np.max(np.abs(grad)) > 0.05  # a gradient worth comparing
