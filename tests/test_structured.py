"""Structured sources (i.i.d. laws), their denoisers, the risk estimators and the effective channel.

Each check is against an independent computation: a brute-force posterior on a fine grid,
Monte Carlo with its standard error, the exact Gaussian risk, an explicit rotation of the
samples, a least-squares fit, or parameters saved by a run and scored again.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from twolayer import RunConfig, run
from twolayer.experiment import load_params
from twolayer.structured_run import effective_channel
from twolayer.theory import min_risk, optimal_decoder, population_risk
from twolayer.theory.priors import Law, denoiser_risk, effective_noise, haar_rotation, parse_source
from twolayer.theory.structured import (
    flat_frame,
    orthonormal_finite_d_risk,
    sign_code,
    structured_linear_decoder,
    structured_risk,
)

LAWS = [Law("gaussian"), Law("bernoulli-gaussian", 0.1), Law("bernoulli-gaussian", 0.5),
        Law("sparse-rademacher", 0.3), Law("uniform"), Law("laplace")]


def _grid_posterior_mean(law, y, s2):
    """E[x | y] by brute force: the prior on a fine grid (atoms added exactly), Bayes' rule in log space."""
    atoms, weights = np.empty(0), np.empty(0)
    if law.name == "uniform":
        x = np.linspace(-math.sqrt(3), math.sqrt(3), 400001)
        logp = np.zeros_like(x)
    elif law.name == "laplace":
        x = np.linspace(-40, 40, 1600001)
        logp = -np.abs(x) * math.sqrt(2)
    elif law.name == "sparse-rademacher":
        a = 1 / math.sqrt(law.p)
        x, logp = np.empty(0), np.empty(0)
        atoms, weights = np.array([0.0, a, -a]), np.array([1 - law.p, law.p / 2, law.p / 2])
    else:  # Gaussian part N(0, 1/p), plus an atom at 0 of mass 1 - p
        x = np.linspace(-60, 60, 1600001)
        logp = np.log(law.p) + 0.5 * np.log(law.p / (2 * np.pi)) - 0.5 * law.p * x * x
        if law.p < 1:
            atoms, weights = np.array([0.0]), np.array([1 - law.p])
    dx = x[1] - x[0] if x.size else 0.0
    ll = np.concatenate([logp - (y - x) ** 2 / (2 * s2) + (np.log(dx) if x.size else 0.0),
                         np.log(weights) - (y - atoms) ** 2 / (2 * s2)])
    pts = np.concatenate([x, atoms])
    w = np.exp(ll - ll.max())
    return float(np.sum(w * pts) / np.sum(w))


@pytest.mark.parametrize("law", LAWS, ids=lambda law: law.spec)
@pytest.mark.parametrize("s2", [0.05, 0.6, 4.0])
def test_denoiser_is_the_posterior_mean(law, s2):
    """Closed-form E[x | y] (Bayes' rule, truncated normals) = a brute-force posterior on a grid."""
    ys = np.array([-9.0, -2.5, -0.3, 0.0, 0.7, 1.9, 4.0, 12.0])
    got = law.denoise(ys, s2)
    want = np.array([_grid_posterior_mean(law, y, s2) for y in ys])
    np.testing.assert_allclose(got, want, atol=2e-5, rtol=1e-6)
    np.testing.assert_allclose(law.denoise(-ys, s2), -got, atol=1e-12)  # symmetric law: odd denoiser


@pytest.mark.parametrize("law", LAWS, ids=lambda law: law.spec)
def test_samples_have_zero_mean_unit_variance_and_the_stated_kurtosis(law):
    x = law.sample(np.random.default_rng(1), 2_000_000)
    n = x.size
    assert abs(x.mean()) < 4 / math.sqrt(n)
    assert x.var() == pytest.approx(1.0, abs=4 * math.sqrt((law.excess_kurtosis() + 2) / n))
    assert np.mean(np.abs(x)) == pytest.approx(law.abs_mean(), abs=4 / math.sqrt(n))
    kurt = np.mean(x**4) - 3
    assert kurt == pytest.approx(law.excess_kurtosis(), rel=0.03, abs=0.02)


@pytest.mark.parametrize("law", LAWS, ids=lambda law: law.spec)
@pytest.mark.parametrize("s2", [0.05, 0.5, 3.0])
def test_mmse_matches_monte_carlo(law, s2):
    """mmse(s2) (adaptive quadrature) = Monte Carlo of (x - E[x|y])^2 within 4 standard errors."""
    rng = np.random.default_rng(2)
    x = law.sample(rng, 1_000_000)
    y = x + math.sqrt(s2) * rng.standard_normal(x.size)
    err = (x - law.denoise(y, s2)) ** 2
    assert abs(law.mmse(s2) - err.mean()) <= 4 * err.std() / math.sqrt(err.size) + 1e-9


def test_mmse_closed_forms_and_limits():
    """Gaussian: s2 / (1 + s2); every law: increasing from 0 to 1, below the Gaussian (it is the hardest)."""
    for s2 in (0.01, 0.3, 1.0, 10.0):
        assert Law("gaussian").mmse(s2) == pytest.approx(s2 / (1 + s2), rel=1e-12)
        for law in LAWS[1:]:
            assert law.mmse(s2) <= s2 / (1 + s2) + 1e-9
    for law in LAWS:
        values = [law.mmse(s2) for s2 in (1e-4, 0.1, 1.0, 10.0, 1e4)]
        assert values[0] < 1e-3 and values[-1] > 0.99 and np.all(np.diff(values) > 0)


def test_denoiser_prediction_gives_back_the_gaussian_value_on_a_gaussian_source():
    for r in (0.25, 0.5, 1.0, 2.0):
        rg = float(min_risk(r))
        assert denoiser_risk(Law("gaussian"), rg) == pytest.approx(rg, rel=1e-12)
        assert effective_noise(rg) == pytest.approx(rg / (1 - rg))


def test_parse_source():
    assert parse_source("bernoulli-gaussian:0.1") == (Law("bernoulli-gaussian", 0.1), False)
    assert parse_source("Laplace:rotated") == (Law("laplace"), True)
    assert parse_source("gaussian") is None and parse_source("patches:8") is None
    for bad in ("bernoulli-gaussian", "bernoulli-gaussian:0", "bernoulli-gaussian:1.5", "uniform:0.3",
                "sparse-rademacher:0.2:twisted"):
        with pytest.raises(ValueError):
            parse_source(bad)


# ----------------------------------------------------------------------------- risk estimators
def _orthonormal_rows(n, d, seed):
    return np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))[0][:n]


def test_supports_estimator_is_exact_for_a_gaussian_law():
    """Law gaussian: every support is full, so the estimator is the exact population risk (no noise)."""
    B = _orthonormal_rows(24, 32, 0)
    A = optimal_decoder(B) * 0.9
    est = structured_risk(B, A, Law("gaussian"), estimator="supports", draws=3)
    assert est.value == pytest.approx(population_risk(B, A), rel=1e-12) and est.stderr == pytest.approx(0, abs=1e-12)


@pytest.mark.parametrize("p, n", [(0.1, 32), (0.3, 64)])
def test_supports_estimator_agrees_with_plain_monte_carlo(p, n):
    """Bernoulli-Gaussian: Rao-Blackwellised (exact Gaussian risk per support) = plain Monte Carlo."""
    d = 64
    B = _orthonormal_rows(n, d, 1) if n <= d else None
    A = optimal_decoder(B)
    law = Law("bernoulli-gaussian", p)
    rb = structured_risk(B, A, law, estimator="supports", draws=600, seed=3)
    mc = structured_risk(B, A, law, estimator="mc", draws=200_000, seed=4)
    assert abs(rb.value - mc.value) <= 4 * math.hypot(rb.stderr, mc.stderr)
    # per draw, a support (the Gaussian part integrated exactly) is worth over 100 samples
    assert (rb.stderr * math.sqrt(rb.count)) ** 2 * 100 < (mc.stderr * math.sqrt(mc.count)) ** 2


def test_identity_encoder_with_sign_of_zero_plus_one():
    """A localised encoder (B selects coordinates): on sparse data B x = 0 often, and sign(0) = +1 (one bit).
    The supports estimator (dead neurons handled exactly) agrees with Monte Carlo of the same convention."""
    d, n = 32, 16
    B = np.eye(d)[:n] * 1.5
    A = np.random.default_rng(20).standard_normal((d, n)) * 0.3 + np.eye(d)[:, :n] * 0.5
    law = Law("bernoulli-gaussian", 0.2)
    rb = structured_risk(B, A, law, estimator="supports", draws=3000, seed=21)
    mc = structured_risk(B, A, law, estimator="mc", draws=300_000, seed=22)
    assert abs(rb.value - mc.value) <= 4 * math.hypot(rb.stderr, mc.stderr)
    assert sign_code(np.zeros(3)).tolist() == [1.0, 1.0, 1.0]


def test_rotation_is_applied_to_the_samples():
    """risk(B, A; x = Q z) by the estimator = Monte Carlo on explicitly rotated samples (same draws)."""
    d, n = 32, 16
    law = Law("laplace")
    Q = haar_rotation(d, 5)
    B = np.random.default_rng(6).standard_normal((n, d)) / math.sqrt(d)
    A = np.random.default_rng(7).standard_normal((d, n)) / math.sqrt(n)
    est = structured_risk(B, A, law, rotation=Q, estimator="mc", draws=5000, seed=8, batch=5000)
    z = law.sample(np.random.default_rng(8), (5000, d))
    x = z @ Q.T
    direct = np.sum((x - sign_code(x @ B.T) @ A.T) ** 2, axis=1).mean() / d
    assert est.value == pytest.approx(direct, rel=1e-12)
    assert np.allclose(Q @ Q.T, np.eye(d), atol=1e-12)


@pytest.mark.parametrize("law", [Law("bernoulli-gaussian", 0.2), Law("uniform")], ids=lambda law: law.spec)
def test_structured_linear_decoder_is_the_least_squares_decoder(law):
    """A* from the estimated moments = least squares of x on the codes of many fresh samples."""
    d, n = 24, 12
    B = _orthonormal_rows(n, d, 9)
    A = structured_linear_decoder(B, law, draws=4000 if law.is_gaussian_mixture else 400_000, seed=10)
    x = law.sample(np.random.default_rng(11), (400_000, d))
    codes = sign_code(x @ B.T)
    lstsq = np.linalg.lstsq(codes, x, rcond=None)[0].T
    assert np.max(np.abs(A - lstsq)) < 0.02
    # and it is at least as good as the Gaussian-optimal decoder under the law
    r_star = structured_risk(B, A, law, estimator="mc", draws=100_000, seed=12)
    r_gauss = structured_risk(B, optimal_decoder(B), law, estimator="mc", draws=100_000, seed=12)
    assert r_star.value <= r_gauss.value + 2 * r_star.stderr


# ----------------------------------------------------------------------------- effective channel
def test_effective_channel_is_exact_on_a_gaussian_source():
    """Gaussian source, best decoder: x_hat = mu (x + sigma w) with mu = 1 - R, sigma^2 = R / (1 - R)."""
    from twolayer.activations import get_activation

    d, n = 64, 32
    B = _orthonormal_rows(n, d, 13)
    A = optimal_decoder(B)
    R = population_risk(B, A)
    ch = effective_channel(Law("gaussian"), B, A, None, get_activation("sign"), 40_000, 14)
    assert ch["mu"] == pytest.approx(1 - R, abs=0.004)
    assert ch["sigma2"] == pytest.approx(R / (1 - R), rel=0.02)


# ----------------------------------------------------------------------------- runs
def test_structured_run_record_and_saved_parameters(tmp_path):
    """A run on Bernoulli-Gaussian data: the record's final risk is the trained network's risk under the
    law, recomputed here from the saved parameters with an independent estimator."""
    path = tmp_path / "bg.npz"
    rec = run(RunConfig(data="bernoulli-gaussian:0.3", d=48, rate=0.5, steps=300, seed=2, eval_samples=4000,
                        save_params=str(path)))
    assert rec["law"] == "bernoulli-gaussian:0.3" and rec["decoder"] == "linear" and rec["sign_at_zero"] == 1
    assert rec["predicted_risk"] == pytest.approx(1 - 1 / math.pi)
    assert rec["predicted_sigma2"] == pytest.approx(effective_noise(1 - 1 / math.pi))
    saved = load_params(path)
    mc = structured_risk(saved["B"], saved["A"], Law("bernoulli-gaussian", 0.3), estimator="mc", draws=100_000, seed=99)
    assert abs(rec["final_risk"] - mc.value) <= 4 * math.hypot(rec["final_risk_stderr"], mc.stderr)
    assert abs(rec["risk_linear"] - mc.value) <= 4 * math.hypot(rec["risk_linear_stderr"], mc.stderr)
    # the denoisers improve on the linear decoder for sparse data (same test draws)
    assert rec["risk_denoiser"] < rec["risk_linear"] and rec["risk_learned_denoiser"] < rec["risk_linear"]


def test_rotated_source_trains_and_the_denoiser_works_in_the_law_basis():
    rec = run(RunConfig(data="sparse-rademacher:0.2:rotated", d=48, rate=1.0, steps=300, seed=0,
                        decoder="denoiser", eval_samples=3000, record_spectrum=True))
    assert rec["spectrum"] == [1.0] * 48
    assert rec["rotated"] is True and rec["final_risk"] == rec["risk_denoiser"]
    assert rec["risk_denoiser"] < 0.9 * rec["risk_linear"]


def test_learned_denoiser_is_close_to_the_known_one():
    """Isotonic regression (no knowledge of the law) within 5% of the law's MMSE denoiser."""
    rec = run(RunConfig(data="bernoulli-gaussian:0.1", d=128, rate=1.0, steps=800, seed=0, decoder="learned-denoiser",
                        eval_samples=8000))
    assert rec["final_risk"] == rec["risk_learned_denoiser"]
    assert rec["risk_learned_denoiser"] <= 1.05 * rec["risk_denoiser"]


def test_structured_options_are_checked():
    with pytest.raises(ValueError, match="decoder applies only to structured sources"):
        RunConfig(rate=0.5, decoder="denoiser")
    with pytest.raises(ValueError, match="Gaussian given its support"):
        RunConfig(data="laplace", rate=0.5, method="population")
    with pytest.raises(ValueError, match="method must be samples"):
        RunConfig(data="digits", rate=0.5, method="population")
    with pytest.raises(ValueError, match="P in \\(0, 1\\]"):
        RunConfig(data="bernoulli-gaussian:2", rate=0.5)
    cfg = RunConfig(data="uniform", rate=0.5)
    assert (cfg.d, cfg.method, cfg.decoder, cfg.eval_samples, cfg.whiten) == (256, "samples", "linear", 8000, None)


# ----------------------------------------------------------------------------- acceptance (slow)
@pytest.mark.slow
@pytest.mark.parametrize("p", [0.1, 0.3])
def test_linear_decoder_approaches_the_gaussian_value_as_d_grows(p):
    """Theorem (Kögler, Shevchenko, Hassani, Mondelli, ICML 2024, arXiv:2402.05013): with a linear decoder,
    1-bit compression of Bernoulli-Gaussian data performs as on a Gaussian source as d grows. Measured
    here: the excess of the Gaussian-optimal encoder (orthonormal rows) at r = 1 decreases with d."""
    law = Law("bernoulli-gaussian", p)
    excess = []
    for d in (128, 256, 512):
        B = _orthonormal_rows(d, d, d)
        est = structured_risk(B, optimal_decoder(B), law, draws=300, seed=d)
        excess.append(est.value / float(min_risk(1.0)) - 1)
    assert excess[0] > excess[1] > excess[2] > 0


# ----------------------------------------------------------------------------- identity vs rotation
@pytest.mark.parametrize("law", [Law("sparse-rademacher", 0.3), Law("bernoulli-gaussian", 0.2), Law("uniform"),
                                 Law("laplace")], ids=lambda law: law.spec)
@pytest.mark.parametrize("n", [1, 16, 64])
def test_identity_encoder_risk_formula(law, n):
    """R = 1 - (E|x|)^2 tr M^{-1} / d (Sherman-Morrison) = Monte Carlo of the same encoder with the decoder
    C M^{-1} built from the code statistics, sign(0) = +1."""
    from twolayer.theory.structured import code_statistics, identity_encoder_risk

    d = 64
    B = np.eye(d)[:n]
    ex, q, var = code_statistics(law)
    M = var * np.eye(n) + q * q * np.ones((n, n))
    C = np.zeros((d, n))
    C[:n] = ex * np.eye(n)
    A = np.linalg.solve(M, C.T).T
    mc = structured_risk(B, A, law, estimator="mc", draws=200_000, seed=3)
    assert abs(identity_encoder_risk(law, n, d) - mc.value) <= 4 * mc.stderr + 1e-12


def test_which_structure_wins_in_the_limit():
    """Derived: identity beats a rotation iff (E|x|)^2 / Var(sign x) > 2/pi (any r <= 1)."""
    from twolayer.theory.structured import SPARSE_RADEMACHER_CRITICAL_P, identity_limit, identity_wins

    assert SPARSE_RADEMACHER_CRITICAL_P == pytest.approx(2 - math.pi / 2)
    for p, wins in ((0.3, False), (0.42, False), (0.44, True), (0.9, True)):
        assert identity_wins(Law("sparse-rademacher", p)) is wins
        assert (identity_limit(Law("sparse-rademacher", p), 0.5) < 1 - 1 / math.pi) is wins
    assert not identity_wins(Law("bernoulli-gaussian", 0.99)) and not identity_wins(Law("laplace"))
    assert identity_wins(Law("uniform"))  # kappa = 3/4 > 2/pi
    # at P = P* both structures give the Gaussian value
    assert identity_limit(Law("sparse-rademacher", SPARSE_RADEMACHER_CRITICAL_P), 0.5) == pytest.approx(1 - 1 / math.pi)


def test_a_sweep_over_laws_and_decoders(tmp_path, capsys):
    """Structured sources are ordinary sweep keys: a grid over laws and decoders, shown with --columns."""
    from twolayer.cli import main
    from twolayer.sweep import loads_spec, run_sweep

    spec = loads_spec('[grid]\ndata = ["bernoulli-gaussian:0.2", "laplace:rotated"]\n'
                      'decoder = ["linear", "denoiser"]\n[defaults]\nd = 24\nrate = 0.5\nsteps = 50\neval_samples = 500')
    report = run_sweep(spec, tmp_path / "s.sqlite", workers=1)
    assert (report.done, report.failed) == (4, 0)
    assert main(["results", str(tmp_path / "s.sqlite"), "--columns", "data,decoder,final_risk,predicted_risk"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[3:]]
    assert [r[:2] for r in rows] == [["bernoulli-gaussian:0.2", "linear"], ["bernoulli-gaussian:0.2", "denoiser"],
                                     ["laplace:rotated", "linear"], ["laplace:rotated", "denoiser"]]
    predicted = {r[1]: float(r[3]) for r in rows if r[0] == "laplace:rotated"}
    assert predicted["linear"] == pytest.approx(1 - 1 / math.pi, rel=1e-5)
    assert predicted["denoiser"] == pytest.approx(denoiser_risk(Law("laplace"), 1 - 1 / math.pi), rel=1e-5)


def test_support_loss_is_an_unbiased_estimate_of_the_risk():
    """The population-style objective (JAX, exact Gaussian risk per fresh support) averages to d R,
    R by plain Monte Carlo in NumPy; a rotation enters as (B Q, Q^T A)."""
    import jax

    from twolayer.activations import get_activation
    from twolayer.simulations.estimators import support_loss

    d, n = 32, 24
    law = Law("bernoulli-gaussian", 0.25)
    Q = haar_rotation(d, 30)
    B = np.random.default_rng(31).standard_normal((n, d)) / math.sqrt(d)
    A = optimal_decoder(B) * 0.8
    loss = jax.jit(support_loss(get_activation("sign"), law, supports=64))
    with jax.enable_x64(True):
        params = {"A": jax.numpy.asarray(A), "B": jax.numpy.asarray(B)}
        for rotation in (None, Q):
            consts = {"rotation": None if rotation is None else jax.numpy.asarray(rotation)}
            values = np.array([float(loss(params, t, jax.random.PRNGKey(0), consts)) for t in range(100)]) / d
            mc = structured_risk(B, A, law, rotation=rotation, estimator="mc", draws=200_000, seed=32)
            se = values.std(ddof=1) / math.sqrt(values.size)
            assert abs(values.mean() - mc.value) <= 4 * math.hypot(se, mc.stderr)


def test_population_training_on_a_bernoulli_gaussian_source():
    """method population on bernoulli-gaussian: trained on exact risks given supports (no smoothed sign)."""
    rec = run(RunConfig(data="bernoulli-gaussian:0.3", d=32, rate=0.5, method="population", steps=300, seed=1,
                        eval_samples=2000))
    assert rec["method"] == "population" and rec["optimizer"] == "adam" and rec["parametrization"] == "untied"
    assert rec["final_risk"] < 0.8  # trained (a random start is near 1 or above)
    with pytest.raises(ValueError, match="Gaussian given its support"):
        RunConfig(data="laplace", rate=0.5, method="population")


@pytest.mark.parametrize("frame", ["haar", "flat"])
def test_finite_d_excess_follows_the_fourth_moment_of_the_rows(frame):
    """Verifies the first-order finite-d risk of theory/structured.md ("Where the finite-d excess comes
    from"): orthonormal rows on Bernoulli-Gaussian data (P = 0.1, d = 256, r = 1) have the risk
    1 - (2r/pi)(1 - kappa4 m4 / 12), against the exact-per-support estimator; the Gaussian value
    1 - 2r/pi is off by several standard errors for both frames."""
    from twolayer.theory import minimizer

    d = n = 256
    law = Law("bernoulli-gaussian", 0.1)
    B = minimizer(d, n, seed=3)[1] if frame == "haar" else flat_frame(d, n, seed=3)
    est = structured_risk(B, optimal_decoder(B), law, draws=300, seed=4)
    predicted = orthonormal_finite_d_risk(B, law)
    assert abs(est.value - predicted) < 3 * est.stderr + 0.001 * predicted, (est.value, est.stderr, predicted)
    assert est.value - min_risk(1.0) > 5 * est.stderr  # the Gaussian value alone is not enough


def test_flat_frame_is_orthonormal_and_flat():
    B = flat_frame(64, 40, seed=1)
    np.testing.assert_allclose(B @ B.T, np.eye(40), atol=1e-12)
    np.testing.assert_allclose(np.sum(B**4, axis=1), 1 / 64)
    with pytest.raises(ValueError, match="power of 2"):
        flat_frame(48, 8)


def test_init_flat_starts_from_flat_rows_and_needs_a_power_of_two():
    from twolayer.simulations.model import init_params

    B = init_params(64, 32, parametrization="untied", init="flat", seed=0)["B"]
    np.testing.assert_allclose(np.abs(B), 1 / 8)
    np.testing.assert_allclose(B @ B.T, np.eye(32), atol=1e-12)
    with pytest.raises(ValueError, match="power of 2"):
        RunConfig(data="bernoulli-gaussian:0.1", d=96, rate=0.5, init="flat")
    with pytest.raises(ValueError, match="n <= d"):
        RunConfig(data="bernoulli-gaussian:0.1", d=64, rate=1.5, init="flat")


# ----------------------------------------------------------------------------- the channel at finite d
@pytest.mark.parametrize("law", LAWS, ids=lambda law: law.spec)
def test_finite_d_channel_tends_to_the_asymptotic_channel(law):
    """As d -> infinity the norm nu = ||x|| / sqrt(d) is 1 and the finite-d channel is the asymptotic
    one: sigma^2 = R / (1 - R), R_lin = R and R_den = mmse(sigma^2) (against the adaptive-quadrature
    mmse, an independent computation)."""
    from twolayer.theory.priors import finite_d_channel

    R = 0.3634
    ch = finite_d_channel(law, 10**12, R)
    assert ch["sigma2"] == pytest.approx(R / (1 - R), rel=1e-9)
    assert ch["risk_linear"] == pytest.approx(R, rel=1e-9)
    assert ch["risk_denoiser"] == pytest.approx(law.mmse(R / (1 - R)), rel=2e-6)


def test_finite_d_channel_is_exact_for_a_gaussian_law_and_inverts_the_linear_risk():
    """Gaussian law at d = 64: the direction channel is calibrated on the Gaussian, so the model gives
    back R for the linear and the denoised risks and sigma^2 = R/(1 - R) (to the quadrature's accuracy,
    about 1e-6: E[x^2/nu] = E nu and E[x^2/nu^2] = 1 hold exactly for a Gaussian); ``linear_risk=``
    solves the quadratic R_lin(R) = given exactly (checked by evaluating the model again)."""
    from twolayer.theory.priors import finite_d_channel

    ch = finite_d_channel(Law("gaussian"), 64, 0.4)
    assert (ch["risk_linear"], ch["risk_denoiser"], ch["sigma2"]) == pytest.approx((0.4, 0.4, 0.4 / 0.6), rel=1e-5)
    law = Law("bernoulli-gaussian", 0.1)
    given = finite_d_channel(law, 300, linear_risk=0.39)
    again = finite_d_channel(law, 300, given["direction_risk"])
    assert given["risk_linear"] == pytest.approx(0.39, rel=1e-12)
    assert again["risk_denoiser"] == pytest.approx(given["risk_denoiser"], rel=1e-12)
    with pytest.raises(ValueError, match="exactly one"):
        finite_d_channel(law, 300)


def test_finite_d_channel_quadrature_against_monte_carlo_of_the_model():
    """The product Gauss rules (and the Gamma law of the other squares) against a Monte Carlo of the
    same model with the exact norm of a Bernoulli-Gaussian vector (S = chi^2_K / P, K ~ Bin(d - 1, P)),
    2 * 10^6 draws: the denoised risk within 4 standard errors."""
    from twolayer.theory.priors import finite_d_channel

    law, d, R = Law("bernoulli-gaussian", 0.1), 512, 0.3634
    ch = finite_d_channel(law, d, R)
    rng = np.random.default_rng(5)
    N = 2_000_000
    x = law.sample(rng, (N,))
    K = rng.binomial(d - 1, law.p, N)
    nu = np.sqrt((x * x + rng.chisquare(np.maximum(K, 1)) * (K > 0) / law.p) / d)
    c_d = math.exp(0.5 * math.log(2 / d) + math.lgamma((d + 1) / 2) - math.lgamma(d / 2))
    mu_z, s2_z = (1 - R) / c_d, c_d * c_d / (1 - R) - 1
    y = (mu_z / ch["mu"]) * (x / nu + math.sqrt(s2_z) * rng.standard_normal(N))
    err = (law.denoise(y, ch["sigma2"]) - x) ** 2
    assert abs(err.mean() - ch["risk_denoiser"]) < 4 * err.std() / math.sqrt(N), (err.mean(), ch["risk_denoiser"])


def test_denoiser_at_finite_d_follows_the_norm_the_code_does_not_see():
    """Verifies "the channel at finite d" (theory/structured.md): a Haar orthonormal sign encoder with the
    Gaussian-optimal decoder on Bernoulli-Gaussian data (P = 0.1, d = n = 256) followed by the law's
    denoiser has the finite-d risk of :func:`finite_d_channel` (within 2 %, against a paired simulation
    with standard error about 0.5 %), while the asymptotic prediction mmse(R_G/(1 - R_G)) is more than
    15 % too low; the fitted sigma^2 is the model's within 1 %."""
    from twolayer.activations import get_activation
    from twolayer.structured_run import score_decoders
    from twolayer.theory import minimizer
    from twolayer.theory.priors import finite_d_channel

    d = n = 256
    law = Law("bernoulli-gaussian", 0.1)
    A, B = minimizer(d, n, seed=11)
    channel, scored = score_decoders(law, B, A, None, get_activation("sign"), 6000, 12)
    model = finite_d_channel(law, d, float(min_risk(1.0)))
    simulated, stderr = scored["denoiser"]
    assert abs(simulated / model["risk_denoiser"] - 1) < 0.02, (simulated, stderr, model)
    assert simulated / law.mmse(effective_noise(min_risk(1.0))) - 1 > 0.15
    assert channel["sigma2"] == pytest.approx(model["sigma2"], rel=0.01)
