"""Bayes decoding of the 1-bit code: GLM-VAMP, its state evolution, the unrolled decoder amp:L.

Each check is against an independent computation: closed forms (Gaussian law, pass 1 = the
denoiser prediction), adaptive quadrature and Monte Carlo with its standard error, the
algorithm run on samples, JAX against NumPy, and a run's record scored again.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, special

from twolayer import RunConfig, run
from twolayer.simulations.amp import initial_unrolled, train_unrolled, vamp_decode
from twolayer.theory import min_risk, orthonormal_rows, tight_frame
from twolayer.theory.amp import (
    _mmse_table,
    bayes_risk,
    encoder_spectrum,
    frame_spectrum,
    prior_mmse,
    sign_channel_mmse,
    state_evolution,
)
from twolayer.theory.priors import Law, denoiser_risk
from twolayer.theory.structured import sign_code

SPARSE = [Law("bernoulli-gaussian", 0.1), Law("bernoulli-gaussian", 0.3), Law("sparse-rademacher", 0.3),
          Law("laplace"), Law("uniform")]


def _encoder(d, r, seed):
    """Haar orthonormal rows (r <= 1) or columns (r > 1; a tight frame up to row norms, which sign ignores)."""
    n = int(round(r * d))
    rng = np.random.default_rng(seed)
    return orthonormal_rows(n, d, rng) if n <= d else np.linalg.qr(rng.standard_normal((n, d)))[0]


@pytest.mark.parametrize("tau", [1.0, 0.9, 0.5, 0.2, 0.05, 1e-3, 1e-6])
def test_sign_channel_mmse_matches_adaptive_quadrature(tau):
    """E Var(z | sign z, p) (fixed quadrature) = adaptive quadrature of the truncated-normal variance."""
    s = math.sqrt((1 - tau) / tau)

    def integrand(u):  # in u = p / sqrt(tau), density N(0, s^2)
        lam = math.exp(-0.5 * u * u - 0.5 * math.log(2 * math.pi) - special.log_ndtr(u))
        return special.ndtr(u) * max(0.0, 1 - u * lam - lam * lam) * math.exp(-0.5 * (u / s) ** 2) / (
            s * math.sqrt(2 * math.pi))

    if s == 0:
        want = tau * (1 - 2 / math.pi)
    else:
        pieces = [(-40 * s, -5), (-5, 0), (0, 5), (5, 40 * s + 5)]
        want = 2 * tau * sum(integrate.quad(integrand, a, b, epsabs=1e-16, epsrel=1e-12, limit=500)[0]
                             for a, b in pieces)
    assert sign_channel_mmse(tau) == pytest.approx(want, rel=1e-9)


def test_sign_channel_mmse_matches_monte_carlo():
    """Draw z = p + sqrt(tau) e and y = sign z; the closed-form posterior variance averaged = E_c(tau)."""
    rng = np.random.default_rng(0)
    tau, N = 0.3, 2_000_000
    p = rng.standard_normal(N) * math.sqrt(1 - tau)
    z = p + math.sqrt(tau) * rng.standard_normal(N)
    y = np.where(z >= 0, 1.0, -1.0)
    ez = np.mean(np.where(y * z >= 0, 1.0, 0.0))
    assert ez == 1.0
    # the posterior mean is unbiased: E (z - E[z | y, p])^2 = E Var(z | y, p)
    u = y * p / math.sqrt(tau)
    post = p + y * math.sqrt(tau) * np.exp(-0.5 * u * u - 0.5 * math.log(2 * math.pi) - special.log_ndtr(u))
    err = (z - post) ** 2
    assert abs(err.mean() - sign_channel_mmse(tau)) < 4 * err.std() / math.sqrt(N)


@pytest.mark.parametrize("law", [Law("bernoulli-gaussian", 0.1), Law("sparse-rademacher", 0.3), Law("laplace")],
                         ids=lambda law: law.spec)
def test_mmse_table_matches_the_direct_quadrature(law):
    """The spline of mmse against log sigma^2 = Law.mmse between its nodes (midpoints of the table)."""
    s2 = 10.0 ** np.array([-4.04, -2.71, -1.37, -0.04, 0.96, 2.29, 5.5])
    want = np.array([law.mmse(v) for v in s2])
    np.testing.assert_allclose(prior_mmse(law, s2), want, atol=5e-7)
    assert _mmse_table.cache_info().currsize >= 1


@pytest.mark.parametrize("law", SPARSE, ids=lambda law: law.spec)
def test_posterior_variance_averages_to_the_mmse(law):
    """Tweedie's Var[x | y] = s2 d/dy E[x | y]: its mean over y = x + sigma w is mmse (Monte Carlo)."""
    rng = np.random.default_rng(1)
    s2, N = 0.4, 400_000
    y = law.sample(rng, N) + math.sqrt(s2) * rng.standard_normal(N)
    v = law.posterior_variance(y, s2)
    assert abs(v.mean() - law.mmse(s2)) < 4 * v.std() / math.sqrt(N) + 1e-6


@pytest.mark.parametrize("law", SPARSE + [Law("gaussian")], ids=lambda law: law.spec)
def test_jax_denoiser_equals_numpy(law):
    """Law.denoise_jax (one formula, two array modules) = Law.denoise, per-row noise included."""
    import jax.numpy as jnp

    y = np.linspace(-6, 6, 41).reshape(1, -1) * np.array([[1.0], [0.3]])
    s2 = np.array([[0.2], [3.0]])
    np.testing.assert_allclose(np.asarray(law.denoise_jax(jnp.asarray(y), jnp.asarray(s2))), law.denoise(y, s2),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("r", [0.1, 0.5, 1.0])
def test_state_evolution_on_a_gaussian_source_at_r_below_one_is_the_linear_value(r):
    """Verifies: for Gaussian x and orthonormal rows (r <= 1), E[x | sign Bx] = sqrt(2/pi) B^T y is linear,
    so the Bayes benchmark is the Gaussian value 1 - 2r/pi (Shevchenko et al., ICML 2023)."""
    assert state_evolution(Law("gaussian"), r).fixed_point == pytest.approx(1 - 2 * r / math.pi, abs=1e-12)


@pytest.mark.parametrize("law", SPARSE + [Law("gaussian")], ids=lambda law: law.spec)
@pytest.mark.parametrize("r", [0.25, 1.0, 1.5])
def test_first_pass_is_linear_decoder_plus_denoiser(law, r):
    """Pass 1 of the state evolution = mmse(R_G / (1 - R_G)) (the denoiser prediction) and its linear stage R_G."""
    se = state_evolution(law, r, passes=3, tol=0.0)
    assert se.linear_risk[0] == pytest.approx(float(min_risk(r)), rel=1e-12)
    assert se.risk[1] == pytest.approx(denoiser_risk(law, float(min_risk(r))), abs=2e-7)


def test_bayes_risk_is_vectorised_and_monotone_and_below_the_denoiser():
    """bayes_risk over many rates = state_evolution one rate at a time; decreasing in r; <= pass 1."""
    law = Law("bernoulli-gaussian", 0.1)
    rates = np.array([0.2, 0.5, 0.9, 1.0, 1.3, 2.0])
    many = bayes_risk(law, rates)
    one = [state_evolution(law, r).fixed_point for r in rates]
    np.testing.assert_allclose(many, one, rtol=1e-9)
    assert np.all(np.diff(many) < 0)
    assert all(b <= denoiser_risk(law, float(min_risk(r))) + 1e-12 for b, r in zip(many, rates))


def test_gaussian_source_above_rate_one_a_nonlinear_decoder_wins():
    """For Gaussian x at r > 1 the Bayes benchmark is below the linear value 1 - r/(r + pi/2 - 1), and GLM-VAMP
    on samples (d = 512, Haar orthonormal columns) reaches its state evolution within 2 %."""
    law, r, d = Law("gaussian"), 2.0, 512
    bayes, linear = bayes_risk(law, r), float(min_risk(r))
    assert bayes < 0.95 * linear
    B = _encoder(d, r, seed=3)
    x = law.sample(np.random.default_rng(4), (100, d))
    est = vamp_decode(sign_code(x @ B.T), B, law, 15)[-1]
    own = state_evolution(law, r, spectrum=encoder_spectrum(B)).fixed_point
    assert own == pytest.approx(bayes, rel=0.01)  # unit rows of Haar columns: nearly a tight frame
    assert np.mean((x - est) ** 2) == pytest.approx(own, rel=0.02)


def test_encoder_spectrum_of_the_gaussian_optimal_encoders():
    """Orthonormal rows: eigenvalues 1 (a fraction r) and 0; a unit tight frame: all equal to r."""
    lam, w = encoder_spectrum(_encoder(40, 0.25, 0) * 3.0)
    np.testing.assert_allclose(np.sort(lam)[::-1], [1.0] * 10 + [0.0] * 30, atol=1e-10)
    lam, _ = encoder_spectrum(tight_frame(80, 40, np.random.default_rng(0)))
    np.testing.assert_allclose(lam, 2.0, rtol=1e-8)
    assert frame_spectrum(0.25)[1].sum() == 1.0
    with pytest.raises(ValueError, match="rate"):
        frame_spectrum(0.0)
    with pytest.raises(ValueError, match="zero rows"):
        encoder_spectrum(np.zeros((2, 3)))


@pytest.mark.parametrize("law,r,d", [(Law("bernoulli-gaussian", 0.3), 0.5, 1024), (Law("laplace"), 1.0, 512)],
                         ids=["bg0.3-r0.5-d1024", "laplace-r1-d512"])
def test_vamp_follows_its_state_evolution(law, r, d):
    """GLM-VAMP on samples (100 items) within 2 % of its state evolution at every pass."""
    B = _encoder(d, r, seed=5)
    x = law.sample(np.random.default_rng(6), (100, d))
    est = vamp_decode(sign_code(x @ B.T), B, law, 6)
    emp = np.array([np.mean((x - e) ** 2) for e in est])
    se = state_evolution(law, r, passes=6, tol=0.0).risk[1:]
    np.testing.assert_allclose(emp, se, rtol=0.02)


@pytest.mark.slow
@pytest.mark.parametrize("p", [0.1, 0.3])
@pytest.mark.parametrize("r", [0.5, 1.0, 1.5])
def test_vamp_follows_its_state_evolution_at_d_4096(p, r):
    """Issue 16 acceptance: GLM-VAMP at d = 4096 within 3 % of its state evolution at every pass (beyond
    three standard errors of the mean over 64 items)."""
    law, d = Law("bernoulli-gaussian", p), 4096
    B = _encoder(d, r, seed=d)
    x = law.sample(np.random.default_rng(7), (64, d))
    est = vamp_decode(sign_code(x @ B.T), B, law, 10)
    per_item = np.array([np.mean((x - e) ** 2, axis=1) for e in est])
    se = state_evolution(law, r, spectrum=encoder_spectrum(B), passes=10, tol=0.0).risk[1:]
    err = 3 * per_item.std(axis=1, ddof=1) / math.sqrt(x.shape[0])
    assert np.all(np.abs(per_item.mean(axis=1) - se) <= 0.03 * se + err)


def test_unrolled_decoder_at_its_start_is_the_algorithm_with_predicted_precisions():
    """amp:L at initialisation (JAX, fixed precisions) ~ GLM-VAMP (NumPy, measured precisions), pass by pass,
    and its first layer is the linear decoder + denoiser (within 3 %, d = 512)."""
    law, d, r = Law("bernoulli-gaussian", 0.3), 512, 0.5
    B = _encoder(d, r, seed=8)
    x = law.sample(np.random.default_rng(9), (200, d))
    y = sign_code(x @ B.T)
    unrolled = [np.mean((x - e) ** 2) for e in initial_unrolled(law, B, 3).decode(y, every_layer=True)]
    vamp = [np.mean((x - e) ** 2) for e in vamp_decode(y, B, law, 3)]
    np.testing.assert_allclose(unrolled, vamp, rtol=0.03)
    assert unrolled[0] == pytest.approx(denoiser_risk(law, float(min_risk(r))), rel=0.03)


def test_training_the_unrolled_decoder_lowers_its_loss_from_a_bad_start():
    """Adam on the log-precisions: from precisions off by a factor e^2 the loss falls toward the algorithm's."""
    law, d, r = Law("bernoulli-gaussian", 0.3), 128, 0.5
    B = _encoder(d, r, seed=10)
    good = initial_unrolled(law, B, 2)
    bad = type(good)(good.law, good.B, good.rotation, good.log_precisions + 2.0)
    trained, losses = train_unrolled(bad, steps=150, lr=0.05, seed=11)
    x = law.sample(np.random.default_rng(12), (1000, d))
    y = sign_code(x @ B.T)
    risk = lambda dec: float(np.mean((x - dec.decode(y)) ** 2))
    assert risk(trained) < risk(bad) - 0.02
    assert risk(trained) < risk(good) + 0.02
    assert losses.shape == (150,)


def test_bayes_and_amp_decoders_in_a_run():
    """decoder = bayes / amp:2 in a run: final_risk is that decoder's risk on the test draws, its first pass
    is no worse than the denoiser on the trained linear decoder (same draws), and both beat the linear decoder."""
    common = dict(data="bernoulli-gaussian:0.2", d=96, rate=0.5, steps=200, eval_samples=600, seed=1)
    bayes = run(RunConfig(decoder="bayes", **common))
    assert bayes["final_risk"] == bayes["risk_bayes"] == bayes["risk_bayes_per_pass"][-1]
    assert bayes["risk_bayes"] < bayes["risk_denoiser"] < bayes["risk_linear"]
    assert bayes["predicted_risk"] == pytest.approx(bayes_risk(Law("bernoulli-gaussian", 0.2), 0.5), rel=1e-12)
    amp = run(RunConfig(decoder="amp:2", decoder_steps=20, **common))
    assert amp["final_risk"] == amp["risk_amp"] == amp["risk_amp_per_pass"][-1]
    assert amp["risk_amp_start_per_pass"][0] <= 1.02 * amp["risk_denoiser"]  # its first pass: LMMSE + denoiser
    assert amp["risk_linear"] == pytest.approx(bayes["risk_linear"], rel=1e-12)  # same training, same draws
    assert len(amp["predicted_risk_per_pass"]) == 2 and len(amp["amp_precisions"]) == 2


def test_decoder_options_are_checked():
    """amp:L needs 1 <= L <= 50; bayes and amp:L need sign codes; decoder_steps is kept for amp:L only."""
    base = dict(data="bernoulli-gaussian:0.1", rate=0.5)
    for bad, match in [("amp:0", "1 .. 50"), ("amp:x", "1 .. 50"), ("vamp", "expected one of")]:
        with pytest.raises(ValueError, match=match):
            RunConfig(decoder=bad, **base)
    with pytest.raises(ValueError, match="needs activation sign"):
        RunConfig(decoder="bayes", activation="relu", **base)
    assert RunConfig(decoder="bayes", decoder_steps=3, **base).decoder_steps is None  # a sweep may mix decoders
    assert RunConfig(decoder="AMP:3", **base).decoder_steps == 200
    assert RunConfig(decoder="denoiser", **base).decoder_steps is None


def test_sparse_rademacher_mmse_at_tiny_noise():
    """Regression: quadrature once missed the atoms' spikes at sigma^2 < 1e-4 and returned 0.5; the mmse of a
    law with atoms 1/sqrt(P) apart is below the nearest-atom decision's error: an error probability of at most
    2 Phi(-1 / (2 sqrt(P s2))), times at most (2 / sqrt(P))^2."""
    for p in (0.05, 0.3):
        for s2 in (1e-7, 1e-5, 1e-3):
            bound = 2 * special.ndtr(-1 / (2 * math.sqrt(p * s2))) * 4 / p
            assert Law("sparse-rademacher", p).mmse(s2) <= bound + 1e-12


def test_state_evolution_inputs_are_checked():
    """Bad passes, law, rate or spectrum: a ValueError that says what is accepted."""
    with pytest.raises(ValueError, match="passes: expected an integer >= 1"):
        state_evolution(Law("gaussian"), 0.5, passes=0)
    with pytest.raises(ValueError, match="law: expected"):
        bayes_risk("bernoulli-gaussian:0.1", 0.5)
    with pytest.raises(ValueError, match="rate"):
        bayes_risk(Law("gaussian"), [0.5, -1.0])
    with pytest.raises(ValueError, match="weights summing to 1"):
        state_evolution(Law("gaussian"), 0.5, spectrum=(np.array([1.0]), np.array([0.5])))
    with pytest.raises(ValueError, match="passes: expected"):
        vamp_decode(np.ones((1, 2)), np.eye(2), Law("gaussian"), 0)


def test_theory_records_give_the_decoders_predictions():
    """twolayer theory --decoder bayes / amp:L: predicted_risk is bayes_risk / the state evolution after L passes,
    computed here one rate at a time (the command does all rates at once)."""
    from twolayer.cli import theory_records

    law, rates = Law("bernoulli-gaussian", 0.2), [0.3, 0.7, 1.2]
    bayes = theory_records(rates, "sign", law=law, decoder="bayes")
    amp = theory_records(rates, "sign", law=law, decoder="amp:2")
    for r, b, a in zip(rates, bayes, amp):
        assert b["predicted_risk"] == b["predicted_risk_bayes"] == pytest.approx(
            state_evolution(law, r).fixed_point, rel=1e-12)
        assert a["predicted_risk"] == pytest.approx(state_evolution(law, r, passes=2, tol=0.0).risk[2], rel=1e-12)
        assert a["predicted_risk_denoiser"] > a["predicted_risk"] > b["predicted_risk"]
    assert theory_records([0.5], "relu", law=law, decoder="bayes")[0]["predicted_risk"] is None
