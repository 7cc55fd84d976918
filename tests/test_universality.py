"""Universality experiments on data sets: held-out risk, least-squares decoder, controls, sweep, figure."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from twolayer.theory import min_risk, optimal_decoder, population_risk
from twolayer.theory.scale_mixture import kappa_of_scales, mixture_risk
from twolayer.theory.spiked import spiked_min_risk
from twolayer.universality import (
    code_matrix,
    data_experiment,
    gaussian_rows,
    heldout_risk,
    least_squares_decoder,
)

D = 16


def _spectrum(d=D):
    return np.geomspace(3.0, 0.1, d)


def _rotated_cov(spectrum, seed):
    """Q diag(spectrum) Q^T with a Haar-random Q (default_rng(seed))."""
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((spectrum.size, spectrum.size)))
    q = q * np.sign(np.diag(r))
    return (q * spectrum) @ q.T


# ----------------------------------------------------------------------------- helpers
def test_heldout_risk_matches_a_direct_computation():
    rng = np.random.default_rng(0)
    X, B, A = rng.standard_normal((50, 6)), rng.standard_normal((3, 6)), rng.standard_normal((6, 3))
    num = sum(float(np.sum((x - A @ np.sign(B @ x)) ** 2)) for x in X)
    den = sum(float(x @ x) for x in X)
    assert heldout_risk(X, B, A) == pytest.approx(num / den, rel=1e-12)
    # another activation goes through the same code path
    num_relu = sum(float(np.sum((x - A @ np.maximum(B @ x, 0)) ** 2)) for x in X)
    assert heldout_risk(X, B, A, activation="relu") == pytest.approx(num_relu / den, rel=1e-12)
    assert np.array_equal(code_matrix(X, B), np.sign(X @ B.T))


def test_heldout_risk_rejects_bad_shapes():
    X = np.ones((4, 3))
    with pytest.raises(ValueError, match="B"):
        heldout_risk(X, np.ones((2, 5)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="A"):
        heldout_risk(X, np.ones((2, 3)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="zeros"):
        heldout_risk(np.zeros((4, 3)), np.ones((2, 3)), np.ones((3, 2)))


def test_least_squares_decoder_solves_the_normal_equations():
    rng = np.random.default_rng(1)
    X, B = rng.standard_normal((400, 8)), rng.standard_normal((5, 8))
    A = least_squares_decoder(X, B)
    S = np.sign(X @ B.T)
    np.testing.assert_allclose(A, X.T @ S @ np.linalg.inv(S.T @ S), rtol=1e-9, atol=1e-12)
    # no perturbation of A lowers the empirical risk on the fitting rows
    base = heldout_risk(X, B, A)
    for _ in range(5):
        assert heldout_risk(X, B, A + 1e-3 * rng.standard_normal(A.shape)) > base


def test_heldout_risk_of_a_gaussian_source_matches_the_exact_risk(random_cov):
    """Known covariance: (i) a fixed (A, B) scored on fresh rows matches population_risk within
    the reported standard error (z-scores over repetitions have unit spread); (ii) the
    least-squares decoder fitted on 20000 rows, scored on others, matches R(A*(B), B)."""
    cov = random_cov(_spectrum(), seed=3)
    rng = np.random.default_rng(4)
    B = rng.standard_normal((8, D))
    A = optimal_decoder(B, cov=cov)
    exact = population_risk(B, A, cov=cov)
    z = []
    for _ in range(40):
        r, se = heldout_risk(gaussian_rows(cov, 2000, rng), B, A, return_stderr=True)
        z.append((r - exact) / se)
    z = np.array(z)
    assert abs(z.mean()) < 4.0 / math.sqrt(z.size) + 0.1
    assert 0.7 < z.std(ddof=1) < 1.3
    # least squares on training rows, scored on test rows
    A_ls = least_squares_decoder(gaussian_rows(cov, 20000, rng), B)
    r, se = heldout_risk(gaussian_rows(cov, 20000, rng), B, A_ls, return_stderr=True)
    assert abs(r - population_risk(B, cov=cov)) < 4 * se


def test_gaussian_rows_have_the_covariance(random_cov):
    cov = random_cov(_spectrum(8), seed=5)
    X = gaussian_rows(cov, 200_000, np.random.default_rng(6))
    np.testing.assert_allclose(X.T @ X / X.shape[0], cov, atol=0.03)


# ----------------------------------------------------------------------------- the experiment
@pytest.fixture(scope="module")
def gaussian_npy(tmp_path_factory):
    """x ~ N(0, Sigma), Sigma = Q diag(geomspace(3, 0.1)) Q^T, 6000 x 16, saved as .npy."""
    cov = _rotated_cov(_spectrum(), seed=7)
    path = tmp_path_factory.mktemp("uni") / "gauss.npy"
    np.save(path, gaussian_rows(cov, 6000, np.random.default_rng(8)))
    return str(path)


@pytest.fixture(scope="module")
def gaussian_record(gaussian_npy):
    return data_experiment(f"npy:{gaussian_npy}", 0.5, steps=600, seed=0, record_spectrum=True, gmm_optimum=True,
                           model_training=True)


def test_data_experiment_record(gaussian_record):
    rec = gaussian_record
    json.dumps(rec, allow_nan=False)  # JSON-serialisable, no NaN
    for key in ("dataset", "d", "n", "rate", "activation", "method", "n_train", "n_test", "preprocessing",
                "final_risk", "predicted_risk", "kappa", "predicted_risk_mixture", "gaussian_twin_risk",
                "theory_encoder_risk", "train_risk", "seconds", "seconds_train", "seconds_twin",
                "seconds_theory_encoder", "seconds_load", "steps", "seed", "decoder_refit"):
        assert key in rec, key
    assert (rec["d"], rec["n"], rec["n_train"], rec["n_test"]) == (D, 8, 4800, 1200)
    assert rec["method"] == "samples" and rec["decoder_refit"] == "least squares on training codes"
    assert rec["preprocessing"]["n_train"] == 4800 and rec["dataset"] == "gauss"
    assert rec["predicted_risk"] == pytest.approx(min_risk(0.5, spectrum=rec["spectrum"]))
    assert len(rec["spectrum"]) == D and sum(rec["spectrum"]) == pytest.approx(D)
    assert rec["seconds"] >= rec["seconds_train"] + rec["seconds_twin"] + rec["seconds_theory_encoder"]


def test_on_gaussian_data_the_controls_agree(gaussian_record):
    """Gaussian data: the twin is the same experiment on a second Gaussian sample, so it agrees
    with final_risk within sampling error (test noise of both + an allowance of 0.01 for the
    different training runs); kappa is 1 within its error; the theory encoder's held-out risk
    is its exact Gaussian risk within the test error (+ the O(n/N) cost of fitting the decoder)."""
    rec = gaussian_record
    noise = math.hypot(rec["final_risk_stderr"], rec["gaussian_twin_risk_stderr"])
    assert abs(rec["final_risk"] - rec["gaussian_twin_risk"]) < 4 * noise + 0.01
    assert rec["kappa"] > 1 - 4 * rec["kappa_stderr"]
    assert rec["predicted_risk_mixture"] == pytest.approx(mixture_risk(rec["predicted_risk"], rec["kappa"]))
    # the spiked-spectrum prediction is a prediction of the same Gaussian optimum as gauss-d
    assert rec["predicted_risk_spiked"] == pytest.approx(spiked_min_risk(0.5, rec["spectrum"]), rel=1e-12)
    assert rec["predicted_risk_spiked_mixture"] == pytest.approx(mixture_risk(rec["predicted_risk_spiked"], rec["kappa"]))
    assert rec["predicted_risk_spiked"] == pytest.approx(rec["theory_encoder_gaussian_risk"], rel=0.002)
    # a Gaussian-mixture fit to Gaussian rows describes one Gaussian: the same risk, up to the fit's noise
    assert rec["gmm_components"] == 4
    assert rec["theory_encoder_gmm_risk"] == pytest.approx(rec["theory_encoder_gaussian_risk"], rel=0.01)
    # ... and the best sign code for a mixture with means fitted to Gaussian rows is the Gaussian
    # optimum, up to the clusters EM invents in one Gaussian (measured -0.6 %; allowed 1.5 %)
    # the contrast-binned rows less the binning's excess on the twin's Gaussian rows: the Gaussian risk
    assert rec["contrast_bins"] == 32
    assert rec["theory_encoder_contrast_risk"] == pytest.approx(rec["theory_encoder_gaussian_risk"], rel=0.01)
    assert rec["theory_encoder_brightness_contrast_risk"] == pytest.approx(rec["theory_encoder_gaussian_risk"], rel=0.01)
    assert rec["gmm_means_components"] == 4
    # L-BFGS either converged or stopped at the suite's limit, and says which
    from twolayer.universality import GMM_OPTIMUM_ITERATIONS
    assert rec["gmm_optimum_converged"] or rec["gmm_optimum_iterations"] == GMM_OPTIMUM_ITERATIONS
    assert 0 < rec["gmm_optimum_iterations"] <= GMM_OPTIMUM_ITERATIONS
    assert rec["gmm_optimum_risk"] == pytest.approx(rec["theory_encoder_gaussian_risk"], rel=0.015)
    # that optimum's encoder, measured on the held-out Gaussian rows, has the Gaussian risk it was
    # predicted to have: the recorded code is the optimised one (measured: 0.4354 +- 0.0037 against
    # 0.4302; allowed: held-out noise + 0.01 for the clusters EM invents and the O(n/N) decoder fit)
    assert abs(rec["gmm_optimum_heldout_risk"] - rec["gmm_optimum_risk"]) < 4 * rec["gmm_optimum_heldout_risk_stderr"] + 0.01
    assert rec["gmm_optimum_train_risk"] < rec["gmm_optimum_heldout_risk"] + 4 * rec["gmm_optimum_heldout_risk_stderr"]
    gap = rec["theory_encoder_risk"] - rec["theory_encoder_gaussian_risk"]
    assert abs(gap) < 4 * rec["theory_encoder_risk_stderr"] + 0.005
    # the default training run on the exact loss of the brightness x contrast model of Gaussian rows
    # stops where the same training on the rows stops (allowed: test noise + 0.01 for two training
    # runs, as the twin), and the model's risk of that encoder, less its excess, is its held-out risk
    train_noise = math.hypot(rec["final_risk_stderr"], rec["model_training_heldout_risk_stderr"])
    assert abs(rec["model_training_heldout_risk"] - rec["final_risk"]) < 4 * train_noise + 0.01
    assert abs(rec["model_training_risk"] - rec["model_training_heldout_risk"]) < \
        4 * rec["model_training_heldout_risk_stderr"] + 0.01
    # the sample-trained encoder is no better than the theory-optimal one (beyond test noise)
    assert rec["final_risk"] > rec["theory_encoder_risk"] - 4 * noise
    # where the model twin breaks: grouped by contrast, Gaussian rows make groups of different
    # covariance shapes, a harder source for a sign code than the Gaussian, so the twin is pessimistic,
    # never optimistic (measured +0.021 to +0.025 at seeds 0-3, and as much at 150-1500 rows a group
    # in d = 16; theory/universality.md, "The model twin")
    twin_noise = math.hypot(rec["final_risk_stderr"], rec["model_twin_risk_stderr"])
    assert -4 * twin_noise < rec["model_twin_risk"] - rec["final_risk"] < 0.05


@pytest.fixture(scope="module")
def scale_brightness_record(tmp_path_factory):
    """A non-Gaussian source with the structure of raw image patches, 6000 x 16, saved as .npy:
    x = s L g + b 1 / 4, a log-normal contrast s = exp(0.7 z) on a Gaussian with the spectrum of
    _spectrum(), plus an independent uniform brightness b on [-3, 3] along the constant direction."""
    rng = np.random.default_rng(9)
    L = np.linalg.cholesky(_rotated_cov(_spectrum(), seed=7))
    s, b = np.exp(0.7 * rng.standard_normal(6000)), rng.uniform(-3.0, 3.0, 6000)
    X = s[:, None] * (rng.standard_normal((6000, D)) @ L.T) + b[:, None] * np.ones(D) / 4
    path = tmp_path_factory.mktemp("uni") / "scale_brightness.npy"
    np.save(path, X)
    return data_experiment(f"npy:{path}", 0.5, steps=600, seed=0)


def test_the_model_twin_trains_like_the_rows_on_a_non_gaussian_source(scale_brightness_record):
    """The model twin (the run's training on N rows of the brightness x contrast model of the training
    rows) stops where the same training on the rows stops, on a source far from Gaussian: training
    risks within 0.01 (measured over seeds 0-4: within 0.004), held-out risks within the test noise of
    both + 0.01 for two training runs (as the Gaussian twin on Gaussian data). The same bound rejects
    the Gaussian twin, which is 0.19 below: the bound tells the two apart."""
    rec = scale_brightness_record
    assert rec["n_train"] == 4800 and rec["n_train"] >= 32 * rec["d"]
    noise = math.hypot(rec["final_risk_stderr"], rec["model_twin_risk_stderr"])
    assert abs(rec["model_twin_train_risk"] - rec["train_risk"]) < 0.01
    assert abs(rec["model_twin_risk"] - rec["final_risk"]) < 4 * noise + 0.01
    twin_noise = math.hypot(rec["final_risk_stderr"], rec["gaussian_twin_risk_stderr"])
    assert abs(rec["gaussian_twin_risk"] - rec["final_risk"]) > 4 * twin_noise + 0.01
    # the suite compares it with the held-out risk like the other predictions
    from twolayer.suite import PREDICTIONS
    assert ("model_twin_risk", "bc-twin") in PREDICTIONS


def test_the_model_twin_draws_its_rows_from_the_model(monkeypatch):
    """The rows the model twin trains on are draws of brightness_contrast_mixture(X_train): their
    mean, second moment and the variance of ||x||^2 match the model's within sampling error (5 SE;
    the last is the mixture's, sum_k w_k (2 tr S_k^2 + 4 m_k^T S_k m_k + e_k^2) - (sum_k w_k e_k)^2 with
    e_k = tr S_k + |m_k|^2, which one Gaussian with the rows' moments would miss by a factor of 5),
    and the same seed gives the same rows."""
    from twolayer import universality
    from twolayer.theory.gaussian_mixture import brightness_contrast_mixture

    rng = np.random.default_rng(3)
    L = np.linalg.cholesky(_rotated_cov(_spectrum(), seed=5))
    X = np.exp(0.5 * rng.standard_normal(3000))[:, None] * (rng.standard_normal((3000, D)) @ L.T) + 1.0
    seen = []

    def fake_train(d, n, *, data, **options):
        seen.append(np.array(data))
        return type("Result", (), {"B": np.random.default_rng(0).standard_normal((n, d))})()

    import twolayer.simulations as simulations
    monkeypatch.setattr(simulations, "train", fake_train)
    act = universality.get_activation("sign")
    first = universality._model_twin(X, 8, 500, 0, act, {})
    second = universality._model_twin(X, 8, 500, 0, act, {})
    assert first == second and np.array_equal(seen[0], seen[1]) and seen[0].shape == X.shape
    covs, weights, means = brightness_contrast_mixture(X)
    mean = sum(w * m for w, m in zip(weights, means))
    second_moment = sum(w * (S + np.outer(m, m)) for w, S, m in zip(weights, covs, means))
    M = seen[0]
    products = M[:, :, None] * M[:, None, :]
    assert np.all(np.abs(M.mean(axis=0) - mean) < 5 * M.std(axis=0) / np.sqrt(len(M)))
    assert np.all(np.abs(products.mean(axis=0) - second_moment) < 5 * products.std(axis=0) / np.sqrt(len(M)))
    e = np.array([np.trace(S) + m @ m for S, m in zip(covs, means)])
    spread = sum(w * (2 * np.trace(S @ S) + 4 * m @ S @ m + ek**2) for w, S, m, ek in zip(weights, covs, means, e))
    spread -= (weights @ e) ** 2
    q = np.sum(M * M, axis=1)
    se = np.sqrt((np.mean((q - q.mean()) ** 4) - q.var() ** 2) / len(q))
    assert abs(q.var() - spread) < 5 * se
    one_gaussian = 2 * np.trace((second_moment - np.outer(mean, mean)) @ (second_moment - np.outer(mean, mean))) + \
        4 * mean @ (second_moment - np.outer(mean, mean)) @ mean
    assert abs(q.var() - one_gaussian) > 5 * se  # the check tells the mixture from one Gaussian
    # too few rows for 32 groups of d: no twin
    assert universality._model_twin(X[:32 * D - 1], 8, 500, 0, act, {}) == {}


def test_the_default_suite_computes_bc_train_at_every_patch_cell():
    """`bc-train` needs n_train >= 32 d and K n (n + 1) / 2 <= MODEL_TRAINING_MAX_PAIRS (K = 32 groups):
    both hold at every patch cell of the default suite (rows counted from the prepared splits); the
    largest is 16x16 at r = 1 (n = 256: 1,052,672 pairs a step)."""
    import numpy as np

    from twolayer.config import code_size
    from twolayer.data import prepare
    from twolayer.suite import DEFAULT_DATA, DEFAULT_RATES
    from twolayer.theory.gaussian_mixture import BRIGHTNESS_CONTRAST_BINS
    from twolayer.universality import MODEL_TRAINING_MAX_PAIRS

    groups = int(np.prod(BRIGHTNESS_CONTRAST_BINS))
    largest = 0
    for spec in (s for s in DEFAULT_DATA if s.startswith("patches")):
        _, split = prepare(spec, seed=0)
        N, d = split.train.shape
        assert N >= groups * d
        for rate in DEFAULT_RATES:
            n = code_size(rate, d)
            largest = max(largest, groups * n * (n + 1) // 2)
    assert largest == groups * 256 * 257 // 2 <= MODEL_TRAINING_MAX_PAIRS


def test_the_theory_encoder_reaches_the_gaussian_optimum_where_one_eigenvalue_dominates(tmp_path):
    """The theory encoder is the Gaussian-optimal code for the training covariance, also on a
    spiked spectrum (one eigenvalue 90 % of the variance, the rest k^-1; raw image patches have
    74-84 %). Independent reference: the exact risk of the best sign-flip orbit encoder for the
    same covariance (theory/orbits.md, an achievable upper bound within 0.8 % of converged optima).
    Measured: Adam +0.05 % from it; plain gradient descent, the population default, stops +18 %
    above it in the same 2000 steps (0.1124 against 0.0953), so this test fails for it
    (benchmarks/training_gap.py has the data sets' spectra)."""
    d = 32
    rest = 1.0 / np.arange(1, d)
    spectrum = np.concatenate([[0.9 * d], rest / rest.sum() * 0.1 * d])
    np.save(tmp_path / "spiked.npy", gaussian_rows(_rotated_cov(spectrum, seed=11), 5000, np.random.default_rng(12)))
    rec = data_experiment(f"npy:{tmp_path / 'spiked.npy'}", 1.0, steps=20, theory_steps=2000, orbits=8, seed=0)
    assert rec["theory_optimizer"] == "adam" and rec["theory_steps"] == 2000
    assert rec["top_eigenvalue_fraction"] > 0.85
    assert rec["theory_encoder_gaussian_risk"] < 1.01 * rec["predicted_risk_orbit"]


@pytest.mark.parametrize("law", ["two-point", "lognormal"])
def test_scale_mixture_data_follow_the_corrected_prediction(law, tmp_path):
    """x = s g with s uniform on {0.5, 2} (kappa = 0.7353) or log-normal, sigma 0.8 (kappa =
    e^-0.64 = 0.527): the theory encoder's held-out risk is 1 - kappa (1 - R_gauss) of its own
    Gaussian risk, and close to predicted_risk_mixture, while the plain Gaussian prediction is far
    off. The contrast-binned model, less its excess on the scale-mixture twin, gives that exact
    risk (Proposition: the scale-mixture risk, theory/scale_mixture.md; the twin,
    theory/universality.md "The scale-mixture twin"); the brightness x contrast model, less its
    excess on Gaussian rows, is optimistic here, as documented."""
    cov = _rotated_cov(_spectrum(), seed=9)
    rng = np.random.default_rng(10)
    s = rng.choice([0.5, 2.0], 20000) if law == "two-point" else np.exp(0.8 * rng.standard_normal(20000))
    kappa = kappa_of_scales([0.5, 2.0]) if law == "two-point" else math.exp(-0.64)
    np.save(tmp_path / "mix.npy", s[:, None] * gaussian_rows(cov, s.size, rng))
    rec = data_experiment(f"npy:{tmp_path / 'mix.npy'}", 0.5, steps=300, seed=0)
    assert rec["kappa"] == pytest.approx(kappa, abs=4 * rec["kappa_stderr"] + 0.01)
    # bins-d against the exact risk (measured +0.5 / +0.15 %; with the excess measured on Gaussian
    # rows instead, -1.2 / -3.1 %); bc-d keeps the Gaussian excess: -1.8 / -4.4 % (measured)
    exact = mixture_risk(rec["theory_encoder_gaussian_risk"], kappa)
    assert rec["theory_encoder_contrast_risk"] == pytest.approx(exact, rel=0.01)
    assert -0.06 < rec["theory_encoder_brightness_contrast_risk"] / exact - 1 < -0.01
    err = rec["theory_encoder_risk_stderr"]
    assert abs(rec["theory_encoder_risk"] - rec["theory_encoder_mixture_risk"]) < 4 * err + 0.005
    assert abs(rec["predicted_risk_mixture"] - rec["theory_encoder_risk"]) < 0.05 * rec["theory_encoder_risk"]
    assert rec["theory_encoder_risk"] - rec["predicted_risk"] > 0.1  # the Gaussian prediction misses (0.43 vs 0.58)
    # the twin is Gaussian: it does not pay for the scale, the data do
    assert rec["gaussian_twin_risk"] < rec["theory_encoder_risk"] - 0.05


def test_data_experiment_without_controls_and_errors(gaussian_npy):
    rec = data_experiment(f"npy:{gaussian_npy}", 0.25, steps=20, controls=False, max_items=1000, test_fraction=0.25)
    assert rec["gaussian_twin_risk"] is None and rec["theory_encoder_risk"] is None
    assert (rec["n_train"], rec["n_test"], rec["n"]) == (750, 250, 4)
    assert data_experiment(f"npy:{gaussian_npy}", n=4, steps=20, controls=False, max_items=1000,
                           test_fraction=0.25)["final_risk"] == rec["final_risk"]  # n = 4 is rate 0.25 here
    with pytest.raises(ValueError, match="Gaussian source"):
        data_experiment("gaussian", 0.5)
    with pytest.raises(ValueError, match="test_fraction"):
        data_experiment(f"npy:{gaussian_npy}", 0.5, test_fraction=0.0)
    with pytest.raises(ValueError, match="rate"):
        data_experiment(f"npy:{gaussian_npy}", -1)
    with pytest.raises(ValueError, match="exactly one"):
        data_experiment(f"npy:{gaussian_npy}", 0.5, n=4)
    with pytest.raises(ValueError, match="d = 32"):
        data_experiment(f"npy:{gaussian_npy}", 0.5, d=32)
    with pytest.raises(ValueError, match="n = round"):
        data_experiment(f"npy:{gaussian_npy}", 0.01, steps=5)


def test_train_refits_the_same_least_squares_decoder(gaussian_npy):
    from twolayer.simulations import train

    X = np.load(gaussian_npy)[:1000]
    result = train(D, 4, method="samples", data=X, steps=20, seed=1)
    np.testing.assert_allclose(least_squares_decoder(X, result.B), result.A, rtol=1e-8, atol=1e-10)


# ----------------------------------------------------------------------------- sweep and figure
#: two data runs (same shapes in both tests, so the second one compiles nothing new); d from the data.
TINY_SPEC = """
[grid]
rate = [0.25, 0.5]
[defaults]
data = "npy:{path}"
record_spectrum = true
test_fraction = 0.5
steps = 30
seed = 0
"""


def test_sweep_runs_data_experiments(gaussian_npy, tmp_path):
    from twolayer.sweep import ResultStore, loads_spec, run_sweep
    from twolayer.sweep.train_run import default_run

    for bad, match in (({"tol": 1e-3}, "tol applies only"), ({"spectrum": "powerlaw:1"}, "spectrum applies only"),
                       ({"method": "population"}, "method must be samples"),
                       ({"parametrization": "tied"}, "trained untied")):
        with pytest.raises(ValueError, match=match):
            default_run({"rate": 0.5, "data": "digits", **bad})
    with pytest.raises(ValueError, match="d = 64"):
        default_run({"d": 64, "rate": 0.5, "data": f"npy:{gaussian_npy}", "steps": 5})
    spec = loads_spec(TINY_SPEC.format(path=gaussian_npy))
    db = tmp_path / "u.sqlite"
    report = run_sweep(spec, db, workers=1)
    assert (report.done, report.failed) == (2, 0)
    with ResultStore(db) as store:
        rows = store.rows(["status=done"])
    assert [r["metrics"]["n"] for r in rows] == [4, 8]
    assert rows[0]["metrics"]["n_test"] == 3000 and rows[0]["metrics"]["theory_encoder_risk"] > 0
    assert rows[0]["final_risk"] == rows[0]["metrics"]["final_risk"]


def test_universality_figure_on_a_tiny_spec(gaussian_npy, tmp_path, monkeypatch):
    from twolayer.figures.universality import universality

    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "universality.quick.toml").write_text(TINY_SPEC.format(path=gaussian_npy))
    monkeypatch.setenv("TWOLAYER_SPECS", str(specs))
    out = tmp_path / "out"
    out.mkdir()
    result = universality(out, quick=True, workers=1)
    assert {p.name for p in result.files} == {"universality.png", "universality.pdf", "universality.csv"}
    assert all(p.stat().st_size > 0 for p in result.files)
    assert [s["rate"] for s in result.summary] == [0.25, 0.5]
    assert {"figure", "dataset", "rate", "theory", "simulation", "gaussian_twin", "theory_encoder"} <= set(result.summary[0])
    text = (out / "universality.csv").read_text()
    assert "Gaussian prediction" in text and "Gaussian twin" in text and "theory-optimal encoder" in text


# ----------------------------------------------------------------------------- acceptance (slow)
@pytest.mark.slow
@pytest.mark.parametrize("rate", [0.25, 0.5])
def test_digits_universality_acceptance(rate):
    """Digits: training on the real rows is within 5% of the theory-optimal encoder (measured:
    it is 3-4% BELOW it), and within 10% of the Gaussian twin (measured: 13-17% below it)."""
    rec = data_experiment("digits", rate, steps=2000, seed=0)
    assert rec["final_risk"] <= 1.05 * rec["theory_encoder_risk"]
    assert rec["final_risk"] / rec["gaussian_twin_risk"] <= 1.10


@pytest.mark.slow
@pytest.mark.parametrize("rate", [0.25, 0.5])
def test_patches16_scale_mixture_acceptance(rate):
    """16x16 patches, item mean removed: 1 - kappa (1 - min_risk) within 10% of the held-out risk
    of the theory-optimal encoder (measured: 0.6008 vs 0.6035 at r = 0.25, 0.5576 vs 0.5380 at
    r = 0.5). The sample-trained encoder is not used by the criterion: few steps for it."""
    rec = data_experiment("patches:16", rate, steps=200, theory_steps=1000, remove_item_mean=True, seed=0)
    assert rec["kappa"] == pytest.approx(0.5495, abs=0.002)
    assert abs(rec["predicted_risk_mixture"] - rec["theory_encoder_risk"]) <= 0.10 * rec["theory_encoder_risk"]
    assert rec["predicted_risk"] < 0.6 * rec["theory_encoder_risk"]  # the plain Gaussian prediction misses


def test_a_data_run_gives_the_same_numbers_whatever_the_blas_threads():
    """The numbers of a data run do not depend on the caller's BLAS thread count (DATA_BLAS_THREADS).

    At d = 256 two BLAS threads instead of one moved the twin's risk and gmm-opt in their last
    digits (and by up to 1 % on the full data sets) before the run fixed its own thread count.
    """
    from threadpoolctl import threadpool_limits

    from twolayer.universality import data_experiment

    options = dict(rate=0.1, steps=50, theory_steps=50, gmm_optimum=True, seed=0)
    records = []
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="blas"):
            records.append(data_experiment("patches:16:5000", **options))
    for field in ("final_risk", "gaussian_twin_risk", "gmm_optimum_risk", "theory_encoder_gmm_risk",
                  "theory_encoder_contrast_risk"):
        assert records[0][field] == records[1][field], field
