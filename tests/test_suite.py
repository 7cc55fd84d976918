"""The universality suite (``twolayer universality``, :mod:`twolayer.suite`).

Each number of the table is checked against a second source: a cell's risks against
``twolayer.run(RunConfig(...))`` of the same options, the predictions against
``min_risk`` on the spectrum recomputed by numpy, the best prediction against a search over
the recomputed predictions, the diagnostics against numpy / scipy on the same training rows
(and the Gaussian norm spread against Monte Carlo), and resumption against the store's rows.
Small on purpose: 40 training steps, a few hundred items.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest
from scipy import stats

import twolayer
from twolayer import RunConfig
from twolayer.cli import main
from twolayer.data import prepare
from twolayer.suite import (
    DEFAULT_DATA,
    DEFAULT_RATES,
    PREDICTIONS,
    TOLERANCE,
    cell_row,
    check_suite,
    count_if_exact,
    run_suite,
    seed_summary,
    suite_count,
    suite_rows,
    suite_spec,
)
from twolayer.sweep import ResultStore

SEED = 3
OPTIONS = dict(steps=40, theory_steps=40, max_items=600, seed=SEED, gmm_optimum=False,
               model_training=False)  # gmm-opt, bc-train: test_universality
DATA = ["digits", "patches:8:800"]
RATE = 0.25


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    """The 4-cell suite (2 data sets x raw / mean removed, r = 0.25), run once into a store."""
    db = tmp_path_factory.mktemp("suite") / "suite.sqlite"
    spec = suite_spec(DATA, [RATE], "both", **OPTIONS)
    result = run_suite(spec, db, workers=1)
    return spec, db, result


def _training_rows(row):
    """The preprocessed training rows of a cell, from the data package (not from the record)."""
    _, split = prepare(row["data"], seed=SEED, max_items=OPTIONS["max_items"], remove_item_mean=row["remove_item_mean"])
    return split.train


def test_default_suite_is_built_from_runconfig():
    spec = suite_spec()
    assert len(spec.runs) == len(DEFAULT_DATA) * 2 * len(DEFAULT_RATES) == 32
    expected = [RunConfig(data=data, remove_item_mean=mean, rate=rate, gmm_optimum=True, model_training=True).to_dict()
                for data in DEFAULT_DATA for mean in (False, True) for rate in DEFAULT_RATES]
    assert spec.runs == expected  # the option table's defaults, with the suite's departures (gmm_optimum, model_training)
    assert suite_spec(["digits"], [0.5], "no", controls=False).runs[0]["gmm_optimum"] is False
    assert suite_spec(["digits"], [0.5], "no", controls=False).runs[0]["model_training"] is False
    assert [run["data"] for run in spec.runs[::8]] == ["digits", "patches:8", "patches:16", "lfw"]


def test_cell_equals_a_direct_run(suite):
    spec, _, result = suite
    assert result.complete and result.report.done == 4
    row = result.rows[1]  # digits, item mean removed
    assert (row["data"], row["remove_item_mean"], row["rate"]) == ("digits", True, RATE)
    direct = twolayer.run(RunConfig(data="digits", rate=RATE, remove_item_mean=True, steps=40, theory_steps=40,
                                    max_items=600, seed=SEED))
    for field in ("final_risk", "final_risk_stderr", "train_risk", "gaussian_twin_risk", "theory_encoder_risk",
                  "predicted_risk", "predicted_risk_mixture", "kappa"):
        assert row[field] == pytest.approx(direct[field], rel=1e-6, abs=1e-9), field


def test_predictions_and_best_prediction_recomputed(suite):
    _, _, result = suite
    names = [name for name, _ in PREDICTIONS]
    for row in result.rows:
        Xtr = _training_rows(row)
        lam = np.clip(np.linalg.eigvalsh(Xtr.T @ Xtr / Xtr.shape[0]), 0.0, None)
        gauss = twolayer.min_risk(RATE, activation="sign", spectrum=lam)
        assert row["predicted_risk"] == pytest.approx(gauss, rel=1e-6)
        assert row["predicted_risk_mixture"] == pytest.approx(1.0 - row["kappa"] * (1.0 - gauss), rel=1e-6)
        assert row["theory_encoder_mixture_risk"] == pytest.approx(
            1.0 - row["kappa"] * (1.0 - row["theory_encoder_gaussian_risk"]), rel=1e-9)
        values = {name: row[name] for name in names if row[name] is not None}
        assert row["predictions"] == values
        errors = {name: abs(math.log(row["final_risk"] / v)) for name, v in values.items()}
        closest = min(errors.values())
        assert errors[row["best_prediction_name"]] == pytest.approx(closest, abs=1e-12)
        assert row["best_prediction"] == values[row["best_prediction_name"]]
        assert row["best_ratio"] == pytest.approx(row["final_risk"] / row["best_prediction"], rel=1e-12)
        N, n = Xtr.shape[0], row["n"]  # the theory at the cell's own training size
        assert row["best_prediction_at_n_train"] == pytest.approx(row["best_prediction"] * (N - 1) / (N - n - 1))
        # a prediction already at the data size (the model twin) is not scaled again
        at_n = cell_row({"data": row["data"], "remove_item_mean": row["remove_item_mean"], "rate": row["rate"],
                         "seed": row["seed"]}, {**row, "model_twin_risk": row["final_risk"] * (1 + 1e-9)})
        assert at_n["best_prediction_name"] == "model_twin_risk" and at_n["best_prediction_at_n_train"] == \
            pytest.approx(row["final_risk"] * (1 + 1e-9), rel=1e-12)
        off = np.abs(np.array(list(values.values())) - row["final_risk"]) / row["final_risk"]
        assert row["closest_relative_error"] == pytest.approx(off.min(), rel=1e-12)
        assert row["within_tolerance"] == (off.min() <= 0.05 and n < N / 2)


def test_diagnostics_computed_a_second_way(suite):
    _, _, result = suite
    rng = np.random.default_rng(SEED)
    for row in result.rows:
        Xtr = _training_rows(row)
        n_train, d = Xtr.shape
        lam, V = np.linalg.eigh(Xtr.T @ Xtr / n_train)
        lam = np.clip(lam, 0.0, None)
        assert row["top_eigenvalue_fraction"] == pytest.approx(lam.max() / lam.sum(), rel=1e-9)
        keep = lam > 1e-10 * lam.max()
        kurt = stats.kurtosis(Xtr @ V[:, keep], axis=0, fisher=True, bias=True)
        top = int(np.argmax(lam))
        assert row["projection_excess_kurtosis_top"] == pytest.approx(
            stats.kurtosis(Xtr @ V[:, top], fisher=True, bias=True), rel=1e-6, abs=1e-9)
        assert row["projection_excess_kurtosis"] == pytest.approx(np.average(kurt, weights=lam[keep]),
                                                                  rel=1e-6, abs=1e-9)
        sq = np.sum(Xtr**2, axis=1)
        assert row["norm_spread"] == pytest.approx(np.std(sq) / np.mean(sq), rel=1e-9)
        # the Gaussian value by Monte Carlo: 200000 draws of N(0, Sigma_train)
        G = rng.standard_normal((200_000, d)) @ (V * np.sqrt(lam)).T
        g = np.sum(G**2, axis=1)
        assert row["norm_spread_gaussian"] == pytest.approx(np.std(g) / np.mean(g), rel=0.02)
        assert row["samples_per_dimension"] == n_train / d
        assert row["n"] == round(RATE * d)
        expected = ([("n_train<d", n_train < d), ("n>=n_train/2", row["n"] >= n_train / 2),
                     ("top_eig>50%", lam.max() / lam.sum() > 0.5),
                     ("kappa_raw>1", row["kappa_raw"] > 1 + 3 * row["kappa_stderr"])])
        assert row["flags"] == [flag for flag, on in expected if on]
    raw_patches = result.rows[2]
    assert raw_patches["data"] == "patches:8:800" and not raw_patches["remove_item_mean"]
    assert "top_eig>50%" in raw_patches["flags"]  # the patch brightness carries most of the variance


def test_rerun_recomputes_nothing_and_extends(suite, tmp_path):
    spec, db, first = suite
    with ResultStore(db, create=False) as store:
        before = {r["run_key"]: r["finished"] for r in store.rows()}
    again = run_suite(spec, db, workers=1)
    assert again.report.submitted == 0 and again.report.already_done == 4
    assert again.rows == first.rows
    with ResultStore(db, create=False) as store:
        assert {r["run_key"]: r["finished"] for r in store.rows()} == before
    # a copy of the store, one more rate: only the new cell runs
    copy = tmp_path / "copy.sqlite"
    with sqlite3.connect(db) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    bigger = suite_spec(["digits"], [RATE, 0.5], "yes", **OPTIONS)
    extended = run_suite(bigger, copy, workers=1)
    assert (extended.report.already_done, extended.report.submitted) == (1, 1)
    assert extended.rows[0] == first.rows[1]
    with ResultStore(copy, create=False) as store:
        assert store.count() == 5


def test_cli_json_and_table_read_the_store(suite, capsys):
    _, db, result = suite
    argv = ["universality", "--data", *DATA, "--rate", str(RATE), "--steps", "40", "--theory-steps", "40",
            "--max-items", "600", "--seed", str(SEED), "--out", str(db), "--no-progress",
            "--no-gmm-optimum", "--no-model-training"]  # the fixture's cells (gmm_optimum off), read back from the store
    assert main([*argv, "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 4
    for rec, row in zip(records, result.rows):
        for field in ("data", "rate", "final_risk", "best_prediction", "best_prediction_name", "train_risk",
                      "gaussian_twin_risk", "theory_encoder_risk", "top_eigenvalue_fraction", "flags"):
            assert rec[field] == row[field], field
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    body = [line for line in out if line.lstrip().startswith(("digits", "patches"))]
    assert len(body) == 4
    assert f"{result.rows[0]['final_risk']:.4f}" in body[0] and f"{result.rows[0]['best_ratio']:.3f}" in body[0]
    within = sum(row["closest_relative_error"] <= 0.05 for row in result.rows)  # all 4 cells have n < n_train / 2
    assert [line for line in out if line.startswith("count:")] == [
        f"count: some prediction within 5% of the held-out risk in {within} of 4 cells with n < n_train/2"]


def test_cells_of_another_version_are_named(suite, capsys, monkeypatch):
    """A store resumed by a newer version keeps the old records: the command says so on stderr."""
    from twolayer import _version
    from twolayer.suite import stale_cells

    _, db, result = suite
    assert {row["version"] for row in result.rows} == {twolayer.__version__}  # the store's version column
    assert stale_cells(result.rows) == []
    argv = ["universality", "--data", *DATA, "--rate", str(RATE), "--steps", "40", "--theory-steps", "40",
            "--max-items", "600", "--seed", str(SEED), "--out", str(db), "--no-progress", "--no-gmm-optimum", "--no-model-training", "--json"]
    assert main(argv) == 0
    assert "note:" not in capsys.readouterr().err
    monkeypatch.setattr(_version, "__version__", "99.0.0")
    assert main(argv) == 0  # nothing is rerun: the cells are keyed by their options
    err = capsys.readouterr().err
    assert (f"note: 4 of 4 cells in {db} were computed by twolayer {twolayer.__version__} (this is 99.0.0)" in err
            and "ran " not in err)
    assert len(stale_cells(result.rows, "99.0.0")) == 4


@pytest.mark.parametrize("argv, needle", [
    (["--data", "nosuchset"], "unknown data spec kind"),
    (["--data", "digits", "--rate", "0"], "expected a finite number > 0"),
    (["--data", "digits", "--rate", "0.001"], "gives n = round(rate * d) = 0"),
    (["--data", "npz:/no/such/file.npz"], "does not exist"),
    (["--data", "gaussian"], "not a data set"),
    (["--data", "digits", "--remove-item-mean", "sometimes"], "invalid choice"),
])
def test_bad_input_is_one_line(argv, needle, capsys, tmp_path):
    db = tmp_path / "bad.sqlite"
    assert main(["universality", *argv, "--out", str(db)]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not db.exists()  # nothing was created


def test_bad_data_in_a_subprocess_exits_non_zero(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "twolayer", "universality", "--data", "nosuchset",
                           "--out", str(tmp_path / "x.sqlite")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def _fails_at_half(params):
    if params["rate"] == 0.5:
        raise RuntimeError("diverged (on purpose)")
    from twolayer.sweep import default_run

    return default_run(params)


def test_a_failed_cell_is_reported_and_retried(tmp_path):
    spec = suite_spec(["digits"], [0.25, 0.5], "no", steps=5, controls=False, max_items=300, seed=SEED)
    db = tmp_path / "fail.sqlite"
    first = run_suite(spec, db, workers=1, run_fn=_fails_at_half)
    assert [row["status"] for row in first.rows] == ["done", "failed"] and not first.complete
    assert "diverged (on purpose)" in first.rows[1]["error"] and first.rows[1]["final_risk"] is None
    again = run_suite(spec, db, workers=1)  # the failed cell is run again, the done one is not
    assert (again.report.already_done, again.report.submitted) == (1, 1) and again.complete
    assert again.rows[0] == first.rows[0]
    direct = twolayer.run(RunConfig(data="digits", rate=0.5, steps=5, controls=False, max_items=300, seed=SEED))
    assert again.rows[1]["final_risk"] == pytest.approx(direct["final_risk"], rel=1e-6)


def test_check_suite_loads_each_data_set_once():
    shapes = check_suite(suite_spec(["digits", "lfw"], [0.25, 0.5], "both"))
    assert shapes == {("digits", 0, None): (1797, 64), ("lfw", 0, None): (200, 625)}


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkill_then_resume(tmp_path):
    """Kill the command (SIGKILL) after its first cell; the rerun keeps that cell and does the rest."""
    db = tmp_path / "kill.sqlite"
    cmd = [sys.executable, "-m", "twolayer", "universality", "--data", "digits", "--rate", "0.25", "0.5", "1",
           "--remove-item-mean", "yes", "--steps", "30", "--no-controls", "--seed", str(SEED), "--workers", "1",
           "--out", str(db), "--no-progress", "--json"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    end = time.monotonic() + 180
    rows = 0
    while time.monotonic() < end and proc.poll() is None and rows < 1:
        time.sleep(0.2)
        if db.exists():
            try:
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
                    rows = conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
            except sqlite3.OperationalError:
                rows = 0
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    with ResultStore(db, create=False) as store:
        before = {r["run_key"]: r["finished"] for r in store.rows()}
    assert 1 <= len(before) < 3
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.strip().splitlines()) == 3
    with ResultStore(db, create=False) as store:
        after = {r["run_key"]: r["finished"] for r in store.rows()}
    assert len(after) == 3 and all(after[k] == v for k, v in before.items())
    spec = suite_spec(["digits"], [0.25, 0.5, 1.0], "yes", steps=30, controls=False, seed=SEED)
    assert all(row["status"] == "done" for row in suite_rows(spec, db))


SEEDS = [SEED, SEED + 1, SEED + 2]
SEEDED = dict(steps=5, controls=False, max_items=300)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """Digits, raw, r = 0.25 and 1, three seeds (each its own split and start): 6 cells in a store."""
    db = tmp_path_factory.mktemp("seeds") / "seeds.sqlite"
    spec = suite_spec(["digits"], [0.25, 1.0], "no", seed=SEEDS, **SEEDED)
    return spec, db, run_suite(spec, db, workers=1)


def test_several_seeds_are_one_cell_each(seeded):
    spec, _, result = seeded
    expected = [RunConfig(data="digits", remove_item_mean=False, rate=rate, seed=seed, **SEEDED).to_dict()
                for rate in (0.25, 1.0) for seed in SEEDS]
    assert spec.runs == expected and result.complete
    assert [row["seed"] for row in result.rows] == SEEDS * 2
    assert len({row["final_risk"] for row in result.rows}) == 6  # each seed its own split and start
    assert suite_spec(["digits"], [0.25], "no", seed=[SEED, SEED]).runs == suite_spec(["digits"], [0.25], "no",
                                                                                     seed=SEED).runs
    with pytest.raises(ValueError, match="seed: expected an integer >= 0"):
        suite_spec(["digits"], [0.25], "no", seed=[0, -1])


def test_seed_summary_recomputed_with_numpy(seeded):
    _, _, result = seeded
    summary = seed_summary(result.rows)
    assert [(row["data"], row["rate"], row["seeds"]) for row in summary] == [("digits", 0.25, SEEDS),
                                                                               ("digits", 1.0, SEEDS)]
    for row, cells in zip(summary, (result.rows[:3], result.rows[3:])):
        held = np.array([cell["final_risk"] for cell in cells])
        assert row["final_risk"] == pytest.approx(held.mean(), rel=1e-12)
        assert row["final_risk_sd"] == pytest.approx(held.std(ddof=1), rel=1e-9)
        assert row["final_risk_sem"] == pytest.approx(held.std(ddof=1) / np.sqrt(3), rel=1e-9)
        means = {name: np.mean([cell[name] for cell in cells]) for name, _ in PREDICTIONS if cells[0][name] is not None}
        assert set(means) == {"predicted_risk", "predicted_risk_mixture", "predicted_risk_spiked",
                              "predicted_risk_spiked_mixture"}  # no controls: the four spectrum predictions
        assert row["predictions"] == pytest.approx(means, rel=1e-12)
        logs = {name: abs(np.log(held.mean() / v)) for name, v in means.items()}
        assert logs[row["best_prediction_name"]] == pytest.approx(min(logs.values()), abs=1e-12)
        off = min(abs(v - held.mean()) / held.mean() for v in means.values())
        assert row["closest_relative_error"] == pytest.approx(off, rel=1e-12)
        assert row["within_tolerance"] == (off <= TOLERANCE)
        own = [min(abs(cell[name] - cell["final_risk"]) / cell["final_risk"] for name in means) <= TOLERANCE
               for cell in cells]
        assert row["seeds_within"] == sum(own)
    # the count: n < n_train / 2 on all six cells (240 training digits, n = 16 and 64)
    assert all(cell["n"] < cell["n_train"] / 2 for cell in result.rows)
    expected = sum(min(abs(v - cell["final_risk"]) / cell["final_risk"] for v in cell["predictions"].values())
                   <= TOLERANCE for cell in result.rows)
    assert suite_count(result.rows) == (expected, 6)
    assert suite_count(summary) == (sum(row["within_tolerance"] for row in summary), 2)


def test_cli_prints_the_seeds_and_their_summary(seeded, capsys):
    _, db, result = seeded
    argv = ["universality", "--data", "digits", "--rate", "0.25", "1", "--remove-item-mean", "no", "--steps", "5",
            "--no-controls", "--max-items", "300", "--seed", *map(str, SEEDS), "--out", str(db), "--no-progress"]
    assert main([*argv, "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [rec.get("summary") for rec in records] == [None] * 6 + ["over seeds"] * 2
    assert [rec["final_risk"] for rec in records[:6]] == [row["final_risk"] for row in result.rows]
    summary = seed_summary(result.rows)
    for rec, row in zip(records[6:], summary):
        for field in ("seeds", "final_risk", "final_risk_sd", "best_prediction", "best_prediction_name",
                      "within_tolerance", "seeds_within"):
            assert rec[field] == row[field], field
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    header = next(line for line in out if line.lstrip().startswith("data"))
    assert header.split()[:4] == ["data", "item", "mean", "r"] and header.split()[4] == "seed"
    means = [line for line in out if line.lstrip().startswith("digits") and f"{summary[0]['final_risk']:.4f}" in line]
    assert len(means) == 1 and f"{summary[0]['final_risk_sd']:.4f}" in means[0]
    counts = [line for line in out if "cells with n < n_train/2" in line]
    assert len(counts) == 4  # each seed, then the seeds' means
    within, counted = suite_count(summary)
    assert counts[-1].startswith("over the seeds' means") and f"in {within} of {counted} cells" in counts[-1]
    for seed, line in zip(SEEDS, counts):
        own = suite_count([row for row in result.rows if row["seed"] == seed])
        assert line.startswith(f"seed {seed}:") and f"in {own[0]} of {own[1]} cells" in line
    exact = count_if_exact(summary)
    (noise,) = [line for line in out if line.startswith("noise:")]
    assert f"at one seed in {exact['expected_one_seed']:.1f} of 2 cells" in noise
    assert f"on the means in {exact['expected_mean']:.1f}" in noise


def test_count_if_exact_against_monte_carlo():
    """A prediction equal to the mean, a normal held-out risk: the chance of |p - h| <= 5 % h by simulation."""
    rng = np.random.default_rng(7)
    cells = [dict(final_risk=0.30, final_risk_sd=0.009, seeds=[0, 1, 2], within_tolerance=True),
             dict(final_risk=0.50, final_risk_sd=0.020, seeds=[0, 1, 2], within_tolerance=False),
             dict(final_risk=0.20, final_risk_sd=0.004, seeds=[0, 1, 2, 3, 4], within_tolerance=True),
             dict(final_risk=0.20, final_risk_sd=0.004, seeds=[0, 1, 2], within_tolerance=None)]  # not counted
    one, mean = [], []
    for cell in cells[:3]:
        mu, sd, k = cell["final_risk"], cell["final_risk_sd"], len(cell["seeds"])
        h = rng.normal(mu, sd, size=(200_000, k))
        one.append(np.mean(np.abs(mu - h[:, 0]) <= TOLERANCE * h[:, 0]))  # the count's own rule, exactly
        means = h.mean(axis=1)
        mean.append(np.mean(np.abs(mu - means) <= TOLERANCE * means))
    got = count_if_exact(cells)
    assert got["cells"] == 3
    assert got["expected_one_seed"] == pytest.approx(sum(one), abs=0.01)  # MC error ~0.002; first order ~0.003
    assert got["all_one_seed"] == pytest.approx(np.prod(one), abs=0.01)
    assert got["expected_mean"] == pytest.approx(sum(mean), abs=0.01)
    assert got["all_mean"] == pytest.approx(np.prod(mean), abs=0.01)


def test_plot_draws_each_prediction_error_of_the_seeds_means(seeded, tmp_path, capsys):
    """``--plot``: the CSV beside the image holds 100 (p - held) / held of each prediction, recomputed here."""
    import csv

    from matplotlib.image import imread

    _, db, result = seeded
    image = tmp_path / "suite.png"
    argv = ["universality", "--data", "digits", "--rate", "0.25", "1", "--remove-item-mean", "no", "--steps", "5",
            "--no-controls", "--max-items", "300", "--seed", *map(str, SEEDS), "--out", str(db), "--no-progress",
            "--plot", str(image)]
    assert main(argv) == 0
    assert f"wrote {image}, {image.with_suffix('.csv')}" in capsys.readouterr().err
    height, width, _ = imread(image).shape  # a real PNG
    assert height > 300 and width > 300
    with open(image.with_suffix(".csv"), newline="") as fh:
        points = list(csv.DictReader(fh))
    labels = dict(PREDICTIONS)
    for rate, cells in ((0.25, result.rows[:3]), (1.0, result.rows[3:])):
        held = np.mean([cell["final_risk"] for cell in cells])
        sd = np.std([cell["final_risk"] for cell in cells], ddof=1)
        mine = [p for p in points if float(p["rate"]) == rate]
        names = [name for name, _ in PREDICTIONS if cells[0][name] is not None]
        assert [p["prediction"] for p in mine] == [labels[name] for name in names]
        errors = [100 * (np.mean([cell[name] for cell in cells]) - held) / held for name in names]
        assert [float(p["error_percent"]) for p in mine] == pytest.approx(errors, rel=1e-9)
        assert all(float(p["held_out_uncertainty"]) == pytest.approx(sd, rel=1e-9) and p["seeds"] == "3" for p in mine)
        first = int(np.argmin(np.abs(errors)))  # ties (mix = gauss where kappa = 1): the first, in PREDICTIONS order
        assert [p["closest"] == "True" for p in mine] == [i == first for i in range(len(errors))]
    within = sum(p["closest"] == "True" and p["within"] == "True" for p in points)
    assert (within, 2) == suite_count(seed_summary(result.rows))


def test_plot_of_one_seed_uses_the_test_set_error(seeded, tmp_path):
    from twolayer.figures.suite import suite_figure, suite_points

    _, _, result = seeded
    one = [row for row in result.rows if row["seed"] == SEED]
    points = suite_points(one)
    assert {p["held_out_uncertainty"] for p in points} == {row["final_risk_stderr"] for row in one}
    for p in points:
        row = next(r for r in one if r["rate"] == p["rate"])
        value = row["predictions"][dict((b, a) for a, b in PREDICTIONS)[p["prediction"]]]
        assert p["error_percent"] == pytest.approx(100 * (value - row["final_risk"]) / row["final_risk"], rel=1e-12)
    files = suite_figure(one, tmp_path / "one.svg")
    assert files[0].read_text().lstrip().startswith("<?xml") and files[1].suffix == ".csv"
    with pytest.raises(ValueError, match=r"must end in \.png, \.pdf, \.svg"):
        suite_figure(one, tmp_path / "one.txt")


def test_plot_with_a_bad_name_fails_before_any_cell_runs(tmp_path, capsys):
    db = tmp_path / "never.sqlite"
    assert main(["universality", "--data", "digits", "--out", str(db), "--plot", str(tmp_path / "x.txt")]) == 2
    err = capsys.readouterr().err
    assert "the file name must end in .png, .pdf, .svg" in err and len(err.strip().splitlines()) == 1
    assert main(["universality", "--data", "digits", "--out", str(db), "--plot", str(tmp_path / "no" / "x.png")]) == 2
    assert "does not exist" in capsys.readouterr().err and not db.exists()


def test_every_prediction_has_its_own_colour_and_marker():
    """The figures tell the predictions apart: no two share both colour and marker."""
    from twolayer.figures.suite import prediction_styles

    styles = prediction_styles()
    assert list(styles) == [label for _, label in PREDICTIONS]
    assert len({(s["color"], s["marker"]) for s in styles.values()}) == len(styles)
