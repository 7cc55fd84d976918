"""Every reproduce-figure command in its --quick form: files exist, theory columns match the theory."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from twolayer.cli import main
from twolayer.figures import FIGURES
from twolayer.theory import min_risk, pca_risk, rate_distortion


@pytest.fixture(scope="module")
def quick_figures(tmp_path_factory):
    """`twolayer reproduce --quick` once, into a fresh folder (all figures share its sweep caches)."""
    out = tmp_path_factory.mktemp("figures")
    assert main(["reproduce", "--quick", "--out", str(out), "--workers", "2"]) == 0
    return out


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_figure_files_exist(quick_figures, name):
    """Each figure writes a non-empty PNG (PNG magic), a PDF (%PDF) and a CSV with rows."""
    png, pdf, table = (quick_figures / f"{name}.{ext}" for ext in ("png", "pdf", "csv"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pdf.read_bytes()[:4] == b"%PDF"
    assert len(read_csv(table)) > 5


def test_risk_vs_rate_theory_columns(quick_figures):
    """The plotted curves are min_risk, Shannon's D(r) and PCA at the listed rates."""
    rows = read_csv(quick_figures / "risk-vs-rate.csv")
    functions = {
        "min_risk (sign, limit)": min_risk,
        "Shannon D(r)": rate_distortion,
        "PCA (real-valued code)": pca_risk,
    }
    for series, fn in functions.items():
        pts = [(float(r["rate"]), float(r["risk"])) for r in rows if r["series"] == series]
        assert len(pts) > 100
        rates, values = map(np.array, zip(*pts))
        np.testing.assert_allclose(values, fn(rates), rtol=1e-12, atol=1e-15)
    gd = [r for r in rows if r["series"] == "gradient descent"]
    assert gd, "no gradient-descent points"
    for r in gd:  # gradient descent never beats the limit by more than finite-d effects allow
        assert float(r["risk"]) >= min_risk(float(r["rate"])) - 1e-3


def test_finite_size_and_anisotropic_predictions(quick_figures):
    """finite-size's predicted_risk is min_risk(r); anisotropic's curve is the allocation formula."""
    for r in read_csv(quick_figures / "finite-size.csv"):
        assert float(r["predicted_risk"]) == pytest.approx(min_risk(float(r["rate"])), rel=1e-12)
    rows = read_csv(quick_figures / "anisotropic.csv")
    d = sum(1 for r in rows if r["panel"] == "allocation")
    spectrum = 1.0 / np.arange(1, d + 1)
    pts = [(float(r["rate"]), float(r["risk"])) for r in rows if r.get("series") == "allocation prediction (sign)"]
    rates, values = map(np.array, zip(*pts))
    np.testing.assert_allclose(values, min_risk(rates, spectrum=spectrum), rtol=1e-12)


def test_features_trained_frame_is_flat(quick_figures):
    """After training, U U^T (r <= 1) or U^T U (r > 1) is flat at 1 or r, as the theory predicts."""
    rows = [r for r in read_csv(quick_figures / "features.csv") if r["panel"] == "frame spectrum"]
    for rate in {float(r["rate"]) for r in rows}:
        trained = np.array([float(r["eigenvalue"]) for r in rows if float(r["rate"]) == rate and r["stage"] == "trained"])
        initial = np.array([float(r["eigenvalue"]) for r in rows if float(r["rate"]) == rate and r["stage"] == "initial"])
        target = max(1.0, rate)
        assert np.max(np.abs(trained - target)) < 0.05
        assert np.max(np.abs(initial - target)) > 0.5  # the initial spectrum was not flat: training did it
        assert math.isclose(trained.sum(), initial.sum(), rel_tol=1e-9)  # trace = n (unit rows) either way


def test_a_grown_figure_spec_plots_every_run(tmp_path, monkeypatch):
    """A figure spec edited to add a grid value: the runs done before (under the old spec's hash)
    are plotted with the new one, not dropped (rows are found by run key, not by spec hash)."""
    from twolayer.figures.common import run_spec

    specs = tmp_path / "specs"
    specs.mkdir()
    monkeypatch.setenv("TWOLAYER_SPECS", str(specs))
    spec = "[grid]\nrate = [{rates}]\n[defaults]\nd = 8\nsteps = 5\ndtype = \"float64\"\n"
    (specs / "tiny.toml").write_text(spec.format(rates="0.5"))
    first = run_spec("tiny", tmp_path, quick=False, workers=1, progress=False)
    (specs / "tiny.toml").write_text(spec.format(rates="0.5, 1.0"))
    both = run_spec("tiny", tmp_path, quick=False, workers=1, progress=False)
    assert [r["rate"] for r in first] == [0.5]
    assert [r["rate"] for r in both] == [0.5, 1.0]
    assert both[0]["final_risk"] == first[0]["final_risk"]  # reused, not rerun


def test_phase_transition_figure(quick_figures):
    """The identity curve is the exact formula; the learned encoder (best linear decoder) is within 5% of
    the better of the two structures at every P, and its rows go from dense to identity-like as P grows."""
    from twolayer.theory.priors import Law
    from twolayer.theory.structured import identity_encoder_risk

    rows = read_csv(quick_figures / "phase-transition.csv")
    for r in (r for r in rows if r["series"] == "identity (exact)"):
        d = int(r["d"])
        assert float(r["risk"]) == pytest.approx(identity_encoder_risk(Law("sparse-rademacher", float(r["P"])),
                                                                       d // 2, d), rel=1e-12)
    learned = {float(r["P"]): r for r in rows if r["series"] == "learned"}
    for p, r in learned.items():
        best = min(identity_encoder_risk(Law("sparse-rademacher", p), int(r["d"]) // 2, int(r["d"])), 1 - 1 / math.pi)
        assert abs(float(r["risk"]) / best - 1) < 0.05
    assert float(learned[min(learned)]["localisation"]) < 0.3 and float(learned[0.8]["localisation"]) > 0.8


def test_sparse_decoders_figure(quick_figures):
    """The theory curves are denoiser_risk, the state evolution after L passes and bayes_risk; on every run the
    decoders are ordered as the theory says: Bayes (GLM-VAMP) <= amp:L (within 2 %) and amp:L <= denoiser
    <= best linear (within 2 %), and GLM-VAMP is within 25 % of the Bayes benchmark at d = 128."""
    from twolayer.theory.amp import bayes_risk, state_evolution
    from twolayer.theory.priors import Law, denoiser_risk

    rows = read_csv(quick_figures / "sparse-decoders.csv")
    theory = [r for r in rows if r["series"] == "theory"]
    for r in theory[::7]:
        law, g = Law("bernoulli-gaussian", float(r["P"])), float(r["gaussian"])
        assert g == pytest.approx(min_risk(0.5), rel=1e-12)
        assert float(r["denoiser"]) == pytest.approx(denoiser_risk(law, g), rel=1e-12)
        assert float(r["amp3"]) == pytest.approx(state_evolution(law, 0.5, passes=3, tol=0.0).risk[3], rel=1e-9)
        assert float(r["bayes"]) == pytest.approx(bayes_risk(law, 0.5), rel=1e-9)
    runs = [r for r in rows if r["series"] == "runs"]
    assert len(runs) == 3
    for r in runs:
        bayes, amp, den, lin = (float(r[k]) for k in ("bayes", "amp3", "denoiser", "linear_refit"))
        assert bayes <= 1.02 * amp and amp <= 1.02 * den and den <= 1.02 * lin
        assert bayes == pytest.approx(bayes_risk(Law("bernoulli-gaussian", float(r["P"])), 0.5), rel=0.25)


def test_sparse_decoders_runs_follow_the_finite_d_channel(quick_figures):
    """The dotted curves are finite_d_channel at the runs' d, and the runs sit on them: the trained encoder's best
    linear decoder and its denoiser within 3 % of the finite-d channel of the Gaussian-optimal encoder at the run's P
    (derived, theory/structured.md "The channel at finite d"; the 3 % covers the trained encoder's own excess over
    the Gaussian-optimal one), where the asymptotic denoiser value mmse(R_G/(1 - R_G)) is 11 % below the run at
    P = 0.1."""
    from twolayer.theory.priors import Law, finite_d_channel

    rows = read_csv(quick_figures / "sparse-decoders.csv")
    curve = [r for r in rows if r["series"] == "theory at d"]
    for r in curve[::5]:
        model = finite_d_channel(Law("bernoulli-gaussian", float(r["P"])), int(r["d"]), float(min_risk(0.5)))
        assert float(r["linear_finite_d"]) == pytest.approx(model["risk_linear"], rel=1e-12)
        assert float(r["denoiser_finite_d"]) == pytest.approx(model["risk_denoiser"], rel=1e-12)
    for r in (r for r in rows if r["series"] == "runs"):
        model = finite_d_channel(Law("bernoulli-gaussian", float(r["P"])), int(r["d"]), float(min_risk(0.5)))
        assert float(r["linear_refit"]) == pytest.approx(model["risk_linear"], rel=0.03)
        assert float(r["denoiser"]) == pytest.approx(model["risk_denoiser"], rel=0.03)


def test_learning_curves_figure(quick_figures):
    """The theory lines are the exact Marchenko-Pastur curves (linear) and the spectral map's limit (sign);
    at the largest d the simulated curves lie within 1.5e-3 (linear, d = 192) and 0.5 % (sign, d = 256) of them."""
    from twolayer.theory.linear_dynamics import marchenko_pastur_curve
    from twolayer.theory.sign_dynamics import limit_curve

    rows = read_csv(quick_figures / "learning-curves.csv")
    theory = [r for r in rows if r["kind"] == "theory"]
    for r in theory[::37]:
        t = float(r["time"])
        if r["panel"] == "linear":
            noise = 0.0 if r["series"] == "plain" else 0.25
            expected = marchenko_pastur_curve([t], 0.25, 0.1, noise=noise)[0]
        else:
            expected = limit_curve([t], float(r["series"].split("= ")[1]), 0.03)[0]
        assert float(r["risk"]) == pytest.approx(expected, abs=1e-12)
    sims = [r for r in rows if r["kind"] == "simulation"]
    for panel, tol in (("linear", 1.5e-3), ("sign", 5e-3)):
        largest = max(int(r["d"]) for r in sims if r["panel"] == panel)
        for series in {r["series"] for r in sims if r["panel"] == panel}:
            pts = [r for r in sims if r["panel"] == panel and r["series"] == series and int(r["d"]) == largest]
            t = np.array([float(r["time"]) for r in pts])
            sim = np.array([float(r["risk"]) for r in pts])
            if panel == "linear":
                pred = marchenko_pastur_curve(t, 0.25, 0.1, noise=0.0 if series == "plain" else 0.25)
                assert np.max(np.abs(sim - pred)) < tol
            else:
                pred = limit_curve(t, float(series.split("= ")[1]), 0.03)
                assert np.max(np.abs(sim - pred) / pred) < tol


def test_regularised_figure(quick_figures):
    """The theory lines are the derived denoising minima 1 - (1 - min R_0)/(1 + tau^2) (sign: 1 - (2r/pi)/(1 + tau^2);
    linear: 1 - r/(1 + tau^2); relu: approximate); for sign and linear gradient descent at every noise level lies
    within 1 % of them (exact at every d for r <= 1); along the L1 sweep
    a larger penalty weight gives a smaller code L1 norm, and the largest weight the largest risk (moderate weights
    can lower the erf risk: theory/regularised.md)."""
    from twolayer.theory.regularised import denoising_min_risk

    rows = read_csv(quick_figures / "regularised.csv")
    for r in [r for r in rows if r["kind"] == "theory"][::23]:
        assert float(r["risk"]) == pytest.approx(
            denoising_min_risk(0.5, float(r["noise"]), activation=r["activation"]), abs=1e-12)
    sims = [r for r in rows if r["panel"] == "noise" and r["kind"] == "simulation" and r["activation"] != "relu"]
    assert len(sims) == 10
    for r in sims:
        assert float(r["risk"]) == pytest.approx(
            denoising_min_risk(0.5, float(r["noise"]), activation=r["activation"]), rel=1e-2)
    l1 = sorted((r for r in rows if r["panel"] == "l1"), key=lambda r: float(r["l1_weight"]))
    norms, risks = [float(r["l1_per_neuron"]) for r in l1], [float(r["risk"]) for r in l1]
    assert norms == sorted(norms, reverse=True) and risks[-1] == max(risks)


def test_universality_figure_draws_the_data_models(quick_figures):
    """The dotted series are the runs' gmm-d, bins-d and bc-d; bc-d only where N >= 32 d (not the digits)."""
    from twolayer.sweep import ResultStore

    rows = read_csv(quick_figures / "universality.csv")
    with ResultStore(quick_figures / "universality.quick.sqlite", create=False) as store:
        records = [row["metrics"] for row in store.rows() if row["status"] == "done"]
    fields = {"gmm-d": "theory_encoder_gmm_risk", "bins-d": "theory_encoder_contrast_risk",
              "bc-d": "theory_encoder_brightness_contrast_risk"}
    seen = set()
    for name, field in fields.items():
        for r in (r for r in rows if r["series"] == f"{name} (data model, theory encoder)"):
            data = "digits" if r["panel"].startswith("digits") else "patches"
            (rec,) = [m for m in records if m["rate"] == float(r["rate"]) and m["dataset"].startswith(data)]
            assert float(r["risk"]) == pytest.approx(rec[field], rel=1e-12)
            seen.add((data, name))
    assert seen == {("digits", "gmm-d"), ("digits", "bins-d"), ("patches", "gmm-d"), ("patches", "bins-d"),
                    ("patches", "bc-d")}
