"""Decoders beyond linear on data sets (twolayer/data_decoders.py) and the learned prior they use.

Independent sources: brute-force posterior means by Monte Carlo, scipy's DCT, the
scale-mixture identity of theory/scale_mixture.md (a proved statement), the config refusals.
"""

import numpy as np
import pytest
from scipy.fft import dctn

from twolayer import RunConfig
from twolayer.activations import get_activation
from twolayer.data_decoders import _out_of_fold, decoder_basis, score_data_decoders
from twolayer.simulations.empirical import code_matrix, reconstruction_risk
from twolayer.simulations.learned_prior import ScaleMixturePrior, fit_scale_mixture
from twolayer.theory import population_risk
from twolayer.theory.scale_mixture import mixture_risk


def test_scale_mixture_posterior_matches_monte_carlo():
    """E[u | y] and Var[u | y] of the closed form against draws of (u, y) binned at y = y0."""
    prior = ScaleMixturePrior(np.array([[0.7, 0.3], [0.5, 0.5]]), np.array([[0.1, 4.0], [1.0, 1e-3]]))
    rng = np.random.default_rng(0)
    u = prior.sample(rng, (3_000_000, 2))
    s2 = np.array([0.5, 0.2])
    y = u + np.sqrt(s2) * rng.standard_normal(u.shape)
    for j, y0 in ((0, 1.5), (1, -0.4)):
        near = np.abs(y[:, j] - y0) < 0.01
        probe = np.full((1, 2), y0)
        mean = prior.denoise(probe, s2)[0, j]
        var = prior.posterior_variance(probe, s2)[0, j]
        se = u[near, j].std() / np.sqrt(near.sum())
        assert abs(u[near, j].mean() - mean) < 4 * se + 2e-3, (j, u[near, j].mean(), mean)
        assert abs(u[near, j].var() - var) < 0.05 * var, (j, u[near, j].var(), var)


def test_scale_mixture_sample_has_the_prior_variance():
    prior = ScaleMixturePrior(np.array([[0.2, 0.8]]), np.array([[9.0, 0.25]]))
    u = prior.sample(np.random.default_rng(1), (400_000, 1))
    assert np.mean(u**2) == pytest.approx(prior.variance()[0], rel=0.01)  # 0.2 * 9 + 0.8 * 0.25 = 2.0


def test_em_recovers_the_weights_of_a_mixture_on_its_grid():
    """Draws from weights (0.6, 0.4) on scales {0.1, 10} (relative to the fitted lambda): EM finds them."""
    rng = np.random.default_rng(2)
    scales = np.array([0.1, 10.0])
    lam = 0.6 * 0.1 + 0.4 * 10.0
    n = 200_000
    s = np.where(rng.random(n) < 0.6, np.sqrt(0.1 * lam), np.sqrt(10.0 * lam))
    U = (s * rng.standard_normal(n))[:, None]
    prior = fit_scale_mixture(U, scales=scales * lam / np.mean(U**2), max_rows=n, iterations=2000, tol=1e-10)
    assert prior.weights[0] == pytest.approx([0.6, 0.4], abs=0.01)


def test_denoise_jax_matches_numpy():
    import jax

    prior = fit_scale_mixture(np.random.default_rng(3).standard_t(3, (2000, 3)))
    y = np.linspace(-3, 3, 12).reshape(4, 3)
    with jax.enable_x64(True):
        got = np.asarray(prior.denoise_jax(jax.numpy.asarray(y), 0.3))
    np.testing.assert_allclose(got, prior.denoise(y, 0.3), rtol=1e-12, atol=1e-14)


def test_dct_basis_is_scipy_orthonormal_dct():
    rng = np.random.default_rng(4)
    image = rng.standard_normal((4, 6))
    V = decoder_basis("dct", np.eye(24), (4, 6))
    np.testing.assert_allclose(V.T @ image.ravel(), dctn(image, norm="ortho").ravel(), atol=1e-12)
    np.testing.assert_allclose(V.T @ V, np.eye(24), atol=1e-12)


def test_pca_basis_diagonalises_the_covariance():
    cov = np.diag([1.0, 3.0, 2.0])
    V = decoder_basis("pca", cov)
    np.testing.assert_allclose(np.diag(V.T @ cov @ V), [3.0, 2.0, 1.0], atol=1e-12)


def test_dct_needs_image_items():
    with pytest.raises(ValueError, match="2-D images"):
        decoder_basis("dct", np.eye(10), (10,))


def test_out_of_fold_reconstruction_never_sees_its_own_row():
    """A row's reconstruction is the same whether or not its own target is changed (no leakage)."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((50, 4))
    S = np.sign(rng.standard_normal((50, 3)))
    first = _out_of_fold(X, S, 5, seed=0)
    X2 = X.copy()
    X2[7] += 100.0
    second = _out_of_fold(X2, S, 5, seed=0)
    np.testing.assert_allclose(first[7], second[7], atol=1e-10)


def test_no_decoder_recovers_the_scale_of_a_gaussian_scale_mixture():
    """Verifies theory/scale_mixture.md, "Nonlinear decoders cannot recover the scale":
    on x = s g (s uniform on {0.5, 2}, kappa = 0.7353) with an orthonormal encoder at r = 0.5, the
    learned denoiser gains nothing over the linear decoder (paired), and the linear decoder's risk is
    1 - kappa (1 - R_gauss(B))."""
    rng = np.random.default_rng(6)
    d, n, N = 64, 32, 24000
    B = np.linalg.qr(rng.standard_normal((d, n)))[0].T
    s = np.where(rng.random(N) < 0.5, 0.5, 2.0)
    X = s[:, None] * rng.standard_normal((N, d))
    Xtr, Xte = X[:20000], X[20000:]
    fields = score_data_decoders("learned-denoiser", Xtr, Xte, B, get_activation("sign"), basis="pca",
                                 cov=Xtr.T @ Xtr / len(Xtr), seed=0)
    kappa = (1.25**2) / ((0.25 + 4.0) / 2)
    expected = mixture_risk(population_risk(B), kappa)  # 1 - kappa * 2r/pi = 0.532
    lin, se = fields["risk_linear"], fields["risk_linear_stderr"]
    assert abs(lin - expected) < 3 * se + 0.004, (lin, expected, se)  # + the least-squares fit's excess ~ n/N
    # paired difference on the same test rows
    A = np.linalg.lstsq(code_matrix(Xtr, B), Xtr, rcond=None)[0].T
    gain = lin - fields["risk_learned_denoiser"]  # 0 in the limit; the risks' own standard errors are ~0.005
    assert gain < 0.01, (lin, fields["risk_learned_denoiser"])
    assert reconstruction_risk(Xte, code_matrix(Xte, B) @ A.T)[0] == pytest.approx(lin, rel=1e-12)


def test_learned_denoiser_gains_on_sparse_coordinates():
    """The other side: on i.i.d. Bernoulli-Gaussian coordinates (not a scale mixture of one Gaussian vector)
    the learned denoiser is well below the linear decoder (issue 16, item 5's gain)."""
    rng = np.random.default_rng(7)
    d, n, N, p = 64, 32, 12000, 0.1
    B = np.linalg.qr(rng.standard_normal((d, n)))[0].T
    X = np.where(rng.random((N, d)) < p, rng.standard_normal((N, d)) / np.sqrt(p), 0.0)
    fields = score_data_decoders("learned-denoiser", X[:10000], X[10000:], B, get_activation("sign"), basis="pixel",
                                 cov=np.eye(d), seed=0)
    assert fields["risk_learned_denoiser"] < 0.8 * fields["risk_linear"]
    assert fields["risk_prior_denoiser"] < 0.8 * fields["risk_linear"]


@pytest.mark.parametrize("values, match", [
    (dict(data="digits", rate=0.5, decoder="denoiser"), "needs the law"),
    (dict(data="digits", rate=0.5, decoder="bayes"), "needs the law"),
    (dict(data="digits", rate=0.5, decoder="amp:2", activation="relu"), "needs activation sign"),
    (dict(data="bernoulli-gaussian:0.1", rate=0.5, decoder_basis="dct"), "applies only to data sets"),
    (dict(rate=0.5, decoder="learned-denoiser"), "applies only to structured sources and data sets"),
])
def test_data_decoder_configurations_are_checked(values, match):
    with pytest.raises(ValueError, match=match):
        RunConfig(**values)


def test_decoder_basis_is_stored_only_for_nonlinear_data_decoders():
    assert RunConfig(data="digits", rate=0.5).decoder_basis is None
    assert RunConfig(data="digits", rate=0.5, decoder="learned-denoiser").decoder_basis == "pca"
    assert RunConfig(data="digits", rate=0.5, decoder="amp:2").decoder_steps == 200


def test_data_run_with_amp_decoder_records_every_decoder():
    """A small data run through twolayer.run: every decoder scored on the same held-out rows."""
    from twolayer import run

    record = run(RunConfig(data="digits", rate=0.25, decoder="amp:2", decoder_steps=5, steps=50, controls=False,
                           max_items=600))
    assert record["decoder"] == "amp:2" and record["decoder_basis"] == "pca"
    assert len(record["risk_amp_per_pass"]) == 2 and len(record["risk_vamp_per_pass"]) > 2
    assert record["final_risk"] == record["risk_amp"]
    # the linear decoder here is the least-squares decoder of the usual data run
    linear = run(RunConfig(data="digits", rate=0.25, steps=50, controls=False, max_items=600))
    assert record["risk_linear"] == pytest.approx(linear["final_risk"], rel=1e-9)
