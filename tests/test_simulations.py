"""Simulations against the theory at small d (the d = 256-512 checks are in test_simulations_slow.py).

Every check compares with an independent number: the closed form 1 - 2r/pi typed here,
pca_risk, population_risk recomputed from the returned (A, B), a constructed minimizer,
or a second run with the same seed.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import twolayer  # noqa: F401  (enables x64 as the package does)
from twolayer.simulations import (
    TrainingDivergedError,
    TrainResult,
    allocation_profile,
    compare_with_theory,
    decoder_distance,
    fit_finite_size,
    frame_spectrum_error,
    growing_dimensions,
    polar_alignment,
    train,
)
from twolayer.theory import min_risk, minimizer, pca_risk, population_risk


def sign_limit(r: float) -> float:
    """Closed form of the proportional-limit minimum for sign, isotropic (independent of twolayer)."""
    c = math.pi / 2 - 1
    return 1 - 2 * r / math.pi if r <= 1 else 1 - r / (r + c)


# --------------------------------------------------------------------------- metrics
def test_metrics_vanish_at_the_constructed_minimizer_and_not_at_a_random_encoder():
    rng = np.random.default_rng(0)
    for n in (16, 64):  # r = 1/2 (orthonormal rows) and r = 2 (tight frame)
        A, B = minimizer(32, n, activation="sign", seed=1)
        assert frame_spectrum_error(B) < 1e-8
        assert decoder_distance(A, B) < 1e-10
        B_rand = rng.standard_normal((n, 32))
        assert frame_spectrum_error(B_rand) > 0.3
        assert decoder_distance(A + 0.1 * rng.standard_normal(A.shape), B) > 0.05


def test_allocation_profile_is_zero_for_the_theory_encoder_and_large_for_a_random_one():
    d = 48
    cov = np.diag(1.0 / np.arange(1, d + 1))
    _, B = minimizer(d, d // 2, cov=cov, seed=0)
    good = allocation_profile(B, cov)
    assert good["allocation_profile_error"] < 1e-6 and good["leakage"] < 1e-6
    bad = allocation_profile(np.random.default_rng(0).standard_normal((d // 2, d)), cov)
    assert bad["allocation_profile_error"] > 0.2 and bad["leakage"] > 0.3


def test_polar_alignment_is_one_at_the_polar_factor_and_small_elsewhere():
    rng = np.random.default_rng(3)
    B0 = rng.standard_normal((20, 50))
    P, _, Qt = np.linalg.svd(B0, full_matrices=False)
    assert polar_alignment(3.0 * P @ Qt, B0) == pytest.approx(1.0, abs=1e-12)  # row scale is ignored
    assert polar_alignment(rng.standard_normal((20, 50)), B0) < 0.5
    with pytest.raises(ValueError, match="shape"):
        polar_alignment(rng.standard_normal((21, 50)), B0)


def test_compare_with_theory_recomputes_the_exact_risk():
    rng = np.random.default_rng(4)
    B = rng.standard_normal((10, 30))
    A = rng.standard_normal((30, 10)) / 10
    out = compare_with_theory(A, B, activation="sign", B0=B)
    assert out["final_risk"] == pytest.approx(population_risk(B, A))
    assert out["final_risk_optimal_decoder"] == pytest.approx(population_risk(B))
    assert out["predicted_risk"] == pytest.approx(sign_limit(1 / 3), rel=1e-12)
    assert out["relative_gap"] == pytest.approx(out["final_risk"] / out["predicted_risk"] - 1)
    assert out["polar_alignment"] == pytest.approx(polar_alignment(B, B))
    assert out["decoder_distance"] == pytest.approx(decoder_distance(A, B), rel=1e-12)
    assert "leakage" not in out  # isotropic: no allocation metrics


# --------------------------------------------------------------------------- population
@pytest.mark.parametrize("r", [0.25, 0.5, 1.0])
def test_population_sign_reaches_the_minimum_with_features_fixed_by_the_start(r):
    d = 64
    res = train(d, int(r * d), steps=600, tol=1e-7, seed=2)
    rec = res.as_record()
    recomputed = population_risk(res.B, res.A)  # exact, float64, from the returned matrices
    assert rec["final_risk"] == pytest.approx(recomputed, rel=1e-12)
    assert abs(recomputed / sign_limit(r) - 1) < 1e-4  # the minimum 1 - 2r/pi is exact at every d
    assert rec["frame_spectrum_error"] < 0.02
    assert rec["polar_alignment"] > 0.99
    start = population_risk(res.B0)
    assert start / sign_limit(r) - 1 > 0.005  # a random start is far: the test can fail


def test_population_sign_r2_is_within_one_percent_and_nearly_tight():
    res = train(32, 64, steps=800, seed=0)
    rec = res.as_record()
    assert 0 < rec["relative_gap"] < 0.01  # finite-d minimum is above the limit
    assert population_risk(res.B) / sign_limit(2.0) - 1 < 0.01
    assert rec["frame_spectrum_error"] < 0.02


@pytest.mark.parametrize("parametrization", ["tied", "untied"])
def test_other_parametrizations_reach_the_same_minimum(parametrization):
    res = train(32, 16, parametrization=parametrization, steps=600, seed=1)
    assert population_risk(res.B, res.A) / sign_limit(0.5) - 1 < 1e-4  # with the learned decoder
    assert res.metrics["decoder_distance"] < 1e-2
    if parametrization == "tied":
        assert np.allclose(res.A, (res.A[0, 0] / res.B[0, 0]) * res.B.T)


def test_power_law_spectrum_follows_the_allocation():
    d = 48
    spectrum = 1.0 / np.arange(1, d + 1)
    res = train(d, d // 2, spectrum=spectrum, optimizer="adam", steps=800, seed=0)
    rec = res.as_record()
    predicted = min_risk(0.5, activation="sign", spectrum=spectrum)
    assert rec["predicted_risk"] == pytest.approx(predicted)
    assert abs(population_risk(res.B, res.A, cov=np.diag(spectrum)) / predicted - 1) < 0.01
    assert rec["allocation_profile_error"] < 0.06 and rec["leakage"] < 0.02
    start = allocation_profile(res.B0, np.diag(spectrum))["allocation_profile_error"]
    assert start > 5 * rec["allocation_profile_error"]


def test_linear_reaches_pca_on_a_power_law():
    d = 32
    spectrum = 1.0 / np.arange(1, d + 1) ** 1.5
    for parametrization, lr in (("optimal-decoder", None), ("untied", 0.02)):
        res = train(d, 8, activation="linear", spectrum=spectrum, parametrization=parametrization, lr=lr, steps=1500)
        risk = population_risk(res.B, res.A, activation="linear", cov=np.diag(spectrum))
        assert risk == pytest.approx(pca_risk(8 / d, spectrum=spectrum), rel=1e-3), parametrization
        assert res.metrics["allocation_profile_error"] is None  # the allocation is a sign prediction


def test_relu_at_rate_two_reaches_the_pairs_value():
    """relu at r = 2: antipodal pairs (b, -b) reproduce the linear code of n/2 = d directions,
    so min_risk('relu', 2) = pca_risk(1) = 0 (theory/limits.md). Gradient descent gets there
    (the risk of the learned A, B below 1e-8) instead of stopping with a NaN: the pairs sit at
    rho = -1, where the kernel's derivative is finite but autodiff of its formula was not."""
    res = train(32, 64, activation="relu", steps=300, seed=1)
    assert min_risk(2.0, activation="relu") == 0.0
    assert population_risk(res.B, res.A, activation="relu") < 1e-8


def test_relu_runs_and_improves_on_its_start():
    res = train(32, 16, activation="relu", steps=400, seed=0)
    rec = res.as_record()
    assert rec["activation"] == "relu" and rec["frame_spectrum_error"] is None
    assert rec["final_risk"] == pytest.approx(population_risk(res.B, res.A, activation="relu"))
    assert rec["final_risk"] < population_risk(res.B0, activation="relu") - 0.01
    assert rec["final_risk"] < 1 - 0.5 / (1 + (1 - 2 / math.pi)) + 0.03  # near the linearised value


# --------------------------------------------------------------------------- samples
def test_samples_sign_learns_through_the_smoothed_gradient():
    d, n = 64, 32
    res = train(d, n, method="samples", steps=1500, seed=0)
    rec = res.as_record()
    assert rec["optimizer"] == "adam" and rec["schedule"] == "cosine"
    gap = population_risk(res.B, res.A) / sign_limit(0.5) - 1
    assert gap < 0.005
    assert population_risk(res.B0) / sign_limit(0.5) - 1 > 0.04  # plain autodiff (B frozen) would fail
    assert rec["final_risk_trained_decoder"] / sign_limit(0.5) - 1 < 0.02


def test_samples_from_a_fixed_data_matrix():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4000, 16)) * np.sqrt(1.0 / np.arange(1, 17))
    res = train(16, 8, method="samples", data=X, steps=800, batch_size=128, seed=0)
    rec = res.as_record()
    assert rec["source"] == "data"
    S = np.sign(X @ res.B.T)
    emp = np.sum((X - S @ res.A.T) ** 2) / np.sum(X * X)
    assert rec["empirical_risk"] == pytest.approx(emp, rel=1e-9)
    assert rec["empirical_risk"] < rec["empirical_risk_trained_decoder"] + 1e-12  # least squares refit
    assert abs(rec["empirical_risk"] - rec["final_risk"]) < 0.02  # Gaussian data: sample ~ population
    assert rec["final_risk"] / rec["predicted_risk"] - 1 < 0.04
    assert population_risk(res.B0, cov=X.T @ X / len(X)) / rec["predicted_risk"] - 1 > 0.1


def test_orthogonal_initialisation():
    from twolayer.simulations.model import init_matrix

    rng = np.random.default_rng(0)
    B = init_matrix(10, 30, "orthogonal", rng)
    assert np.allclose(B @ B.T, np.eye(10))
    B = init_matrix(30, 10, "orthogonal", rng)
    assert np.allclose(B.T @ B, 3.0 * np.eye(10))
    res = train(32, 16, init="orthogonal", steps=100, seed=0)
    assert res.metrics["relative_gap"] < 1e-6 and res.metrics["polar_alignment"] > 0.9999  # starts optimal


# --------------------------------------------------------------------------- determinism, stopping
@pytest.mark.parametrize("method", ["population", "samples"])
def test_same_seed_gives_identical_numbers(method):
    kwargs = dict(method=method, steps=150, record_every=50)
    a, b = train(24, 12, seed=5, **kwargs), train(24, 12, seed=5, **kwargs)
    c = train(24, 12, seed=6, **kwargs)
    assert np.array_equal(a.B, b.B) and np.array_equal(a.A, b.A)
    assert a.history == b.history
    assert not np.array_equal(a.B, c.B)


def test_tolerance_stops_early_and_float64_agrees():
    res = train(32, 16, steps=5000, tol=1e-6, dtype="float64")
    assert res.stopped == "tol" and res.steps < 5000 and res.steps % 100 == 0
    assert abs(res.metrics["relative_gap"]) < 1e-8
    assert res.B.dtype == np.float64


def test_history_is_the_exact_risk_and_decreases():
    res = train(32, 16, steps=300, record_every=50, seed=0)
    assert res.history["step"] == [0, 50, 100, 150, 200, 250]
    assert res.history["risk"][0] == pytest.approx(population_risk(res.B0), rel=1e-5)
    assert res.history["risk"][-1] < res.history["risk"][0]


def test_as_record_is_json_and_complete():
    rec = train(16, 8, spectrum=np.linspace(2, 0.1, 16), steps=50).as_record()
    keys = {
        "d", "n", "rate", "activation", "method", "parametrization", "optimizer", "lr", "steps", "seed",
        "final_risk", "predicted_risk", "relative_gap", "frame_spectrum_error", "polar_alignment",
        "decoder_distance", "seconds", "allocation_profile_error", "leakage",
    }
    assert keys <= rec.keys()
    assert json.loads(json.dumps(rec)) == rec


def test_compiles_once_per_configuration():
    from twolayer.simulations.training import _compiled

    train(20, 10, steps=30, seed=0)
    before = _compiled.cache_info()
    train(20, 10, steps=30, seed=1)
    after = _compiled.cache_info()
    assert after.hits == before.hits + 1 and after.misses == before.misses


def test_progress_bar_goes_to_stderr(capsys, monkeypatch):
    """The bar is on stderr (stdout stays clean); runs shorter than PROGRESS_DELAY show none."""
    import twolayer.simulations.training as training

    monkeypatch.setattr(training, "PROGRESS_DELAY", 60.0)
    train(16, 8, steps=20, progress=True)
    assert capsys.readouterr().err == ""  # shorter than the delay: no bar
    monkeypatch.setattr(training, "PROGRESS_DELAY", 0.0)
    train(16, 8, steps=20, progress=True)
    captured = capsys.readouterr()
    assert "20/20" in captured.err and captured.out == ""


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(method="newton"), "method.*population, samples"),
        (dict(optimizer="lbfgs"), "optimizer.*sgd, momentum, adam"),
        (dict(schedule="linear"), "schedule.*constant, cosine, exponential"),
        (dict(activation="softplus"), "activation.*sign"),
        (dict(parametrization="free"), "parametrization.*untied, tied, optimal-decoder"),
        (dict(init="uniform"), "init.*gaussian, orthogonal"),
        (dict(dtype="float16"), "dtype.*float32, float64"),
        (dict(lr=-1.0), "lr"),
        (dict(tol=0), "tol"),
        (dict(steps=0), "steps"),
        (dict(spectrum=np.ones(5)), "spectrum has 5"),
        (dict(spectrum=np.ones(8), cov=np.eye(8)), "at most one"),
        (dict(data=np.ones((10, 8))), "samples"),
        (dict(method="samples", parametrization="optimal-decoder"), "untied"),
    ],
)
def test_invalid_arguments_give_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        train(8, 4, **{"steps": 10, **kwargs})


@pytest.mark.parametrize("d, n", [(0, 4), (8, 2.5), (True, 3)])
def test_invalid_sizes(d, n):
    with pytest.raises(ValueError, match="integer"):
        train(d, n)


def test_divergence_names_the_step_and_suggests_a_smaller_rate():
    with pytest.raises(TrainingDivergedError, match=r"diverged at step \d+.*smaller learning rate"):
        train(16, 8, parametrization="untied", lr=50.0, steps=200)
    assert issubclass(TrainingDivergedError, RuntimeError)


# --------------------------------------------------------------------------- growing dimensions
def test_gap_to_the_limit_shrinks_with_d():
    records = growing_dimensions(ds=(8, 16, 32), rate=2.0, steps=400, seed=0)
    assert [r["d"] for r in records] == [8, 16, 32] and all(r["n"] == 2 * r["d"] for r in records)
    gaps = [r["relative_gap"] for r in records]
    assert gaps[0] > gaps[1] > gaps[2] > 0
    fit = fit_finite_size(records)
    assert -1.5 < fit["slope"] < -0.5  # gap ~ 1/d


def test_fit_finite_size_recovers_a_power_law():
    records = [{"d": d, "relative_gap": 3.0 * d**-0.75} for d in (64, 128, 256, 512)]
    fit = fit_finite_size(records)
    assert fit["slope"] == pytest.approx(-0.75) and math.exp(fit["intercept"]) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="two or more"):
        fit_finite_size(records[:1])


def test_train_result_type():
    assert isinstance(train(8, 4, steps=5), TrainResult)


def test_a_failed_cholesky_chunk_is_rerun_with_the_lu_fallback(monkeypatch):
    """train's compiled step leaves the LU fallback of the optimal decoder's solve out of the hot path
    (psd_solve(fallback=False)); a chunk that comes out non-finite is rerun from its start with the
    fallback. Here the fast loss is made NaN: the first chunk (of three) is rerun, every later one
    uses the fallback, and the result is bit for bit that of a run with the fallback throughout."""
    import jax.numpy as jnp

    from twolayer.simulations import training

    original = training.population_loss
    asked = []

    def always_fallback(act, parametrization, jitter, noise=0.0, fallback=True):
        return original(act, parametrization, jitter, noise, True)

    def fast_path_fails(act, parametrization, jitter, noise=0.0, fallback=True):
        asked.append(fallback)
        loss = original(act, parametrization, jitter, noise, fallback)
        return loss if fallback else (lambda *args: loss(*args) * jnp.nan)

    results = []
    for loss in (always_fallback, fast_path_fails):
        training._compiled.cache_clear()
        monkeypatch.setattr(training, "population_loss", loss)
        results.append(train(24, 12, steps=30, record_every=10, seed=3))
    training._compiled.cache_clear()
    assert asked == [False, True]
    np.testing.assert_array_equal(results[1].B, results[0].B)
    np.testing.assert_array_equal(results[1].history["loss"], results[0].history["loss"])
    assert results[1].steps == 30 and np.isfinite(results[1].metrics["final_risk"])


def test_init_theory_starts_at_the_gaussian_optimum():
    """init="theory" starts B at the theory encoder of the source's covariance (its second-moment
    matrix for data). Independent reference: the isotropic sign optimum 1 - 2r/pi for r <= 1 (an
    orthonormal frame; theory/limits.md), against 0.720 for the random start
    at r = 1/2, d = 16. For data the source is the rows' second-moment matrix S (4000 Gaussian rows:
    eigenvalues spread 0.88-1.13, so its optimum is below 1 - 2r/pi), and the reference is the
    best sign-flip orbit encoder for S (theory/orbits.md: another family, another optimiser;
    measured 0.663091 against 0.663090)."""
    from twolayer.config import RunConfig
    from twolayer.simulations.model import init_params
    from twolayer.theory.orbits import orbit_min_risk

    d, n = 16, 8
    pop = train(d, n, method="population", steps=1, init="theory", seed=3)
    assert population_risk(pop.B0) == pytest.approx(sign_limit(0.5), abs=1e-4)
    assert population_risk(train(d, n, method="population", steps=1, seed=3).B0) > sign_limit(0.5) + 0.02
    X = np.random.default_rng(4).standard_normal((4000, d))
    run = train(d, n, data=X, method="samples", steps=1, init="theory", seed=3)
    S = X.T @ X / len(X)
    assert population_risk(run.B0, cov=S) == pytest.approx(orbit_min_risk(0.5, np.linalg.eigvalsh(S)), rel=0.005)
    assert np.array_equal(run.B0, train(d, n, data=X, method="samples", steps=1, init="theory", seed=3).B0)
    with pytest.raises(ValueError, match="parametrization untied or optimal-decoder, got 'tied'"):
        train(d, n, init="theory", parametrization="tied")
    with pytest.raises(ValueError, match="train\\(\\) builds it"):
        init_params(d, n, parametrization="untied", init="theory", seed=0)
    with pytest.raises(ValueError, match="init theory"):
        RunConfig(d=d, rate=0.5, init="theory", method="samples", parametrization="tied")


def test_validation_keeps_the_encoder_of_the_best_held_out_risk():
    """Early stopping (``validation``): the rows named by default_rng([seed, 2]) are held out, the
    returned encoder's held-out risk (least-squares decoder on the other rows, recomputed here
    with numpy's lstsq) is the recorded one, and it is no worse than the last encoder of the same
    training without early stopping (same rows, same seed: the same trajectory)."""
    from twolayer.config import RunConfig
    from twolayer.simulations.training import VALIDATION_STREAM

    d, n, N = 16, 8, 2000
    X = np.random.default_rng(5).standard_normal((N, d)) * np.sqrt(np.geomspace(4.0, 0.25, d))
    run = train(d, n, data=X, method="samples", steps=500, seed=1, validation=0.25)
    order = np.random.default_rng([1, VALIDATION_STREAM]).permutation(N)
    held, fit = X[order[:500]], X[order[500:]]
    assert run.metrics["validation_rows"] == 500 and run.metrics["validation_step"] in (100, 200, 300, 400, 500)

    def risk(B):
        S_fit, S_held = np.sign(fit @ B.T), np.sign(held @ B.T)
        A = np.linalg.lstsq(S_fit, fit, rcond=None)[0].T
        return np.sum((held - S_held @ A.T) ** 2) / np.sum(held**2)

    assert risk(run.B) == pytest.approx(run.metrics["validation_risk"], rel=1e-9)
    last = train(d, n, data=fit, method="samples", steps=500, seed=1)
    assert run.metrics["validation_risk"] <= risk(last.B) + 1e-12
    assert np.array_equal(run.B0, last.B0)
    with pytest.raises(ValueError, match="needs data and method 'samples'"):
        train(d, n, method="population", validation=0.1)
    with pytest.raises(ValueError, match=">= 0 and < 1"):
        train(d, n, data=X, method="samples", validation=1.5)
    with pytest.raises(ValueError, match=">= 0 and < 1"):
        RunConfig(data="digits", rate=0.25, validation=1.0)
