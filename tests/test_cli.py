"""The command line: values agree with the library, bad input gives one line and exit 2."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from twolayer.cli import main
from twolayer.theory import min_risk, pca_risk, rate_distortion


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_theory_json_matches_the_library(capsys):
    """`twolayer theory --json` reports min_risk, rate_distortion and pca_risk of the theory module."""
    code, out, _ = run_cli(capsys, "theory", "--activation", "sign", "--rate", "0.25", "0.5", "1", "2", "--json")
    assert code == 0
    records = json.loads(out)
    assert [r["rate"] for r in records] == [0.25, 0.5, 1.0, 2.0]
    for rec in records:
        r = rec["rate"]
        closed = 1 - 2 * r / math.pi if r <= 1 else 1 - r / (r + math.pi / 2 - 1)
        assert rec["min_risk"] == pytest.approx(closed, rel=1e-14)
        assert rec["rate_distortion"] == pytest.approx(2.0 ** (-2 * r), rel=1e-14)
        assert rec["pca_risk"] == pytest.approx(max(0.0, 1 - r), abs=1e-15)
        assert rec["gap_db"] == pytest.approx(10 * math.log10(closed / 2.0 ** (-2 * r)))


def test_theory_table_and_spectrum_file(capsys, tmp_path):
    """A spectrum file (eigenvalues, or a covariance with those eigenvalues) gives the allocation value."""
    spectrum = 1.0 / np.arange(1, 65)
    np.save(tmp_path / "eig.npy", spectrum)
    Q = np.linalg.qr(np.random.default_rng(0).standard_normal((64, 64)))[0]
    np.save(tmp_path / "cov.npy", (Q * spectrum) @ Q.T)
    for name in ("eig.npy", "cov.npy"):
        code, out, _ = run_cli(capsys, "theory", "--rate", "0.5", "--spectrum", str(tmp_path / name), "--json")
        assert code == 0
        rec = json.loads(out)[0]
        assert rec["min_risk"] == pytest.approx(min_risk(0.5, spectrum=spectrum), rel=1e-10)
        assert rec["rate_distortion"] == pytest.approx(rate_distortion(0.5, spectrum=spectrum), rel=1e-10)
        assert rec["pca_risk"] == pytest.approx(pca_risk(0.5, spectrum=spectrum), rel=1e-10)
    code, out, _ = run_cli(capsys, "theory", "--rate", "0.5", "1")
    assert code == 0 and "0.681690" in out and "Shannon" in out


def test_theory_on_a_data_set_reports_kappa(capsys):
    """--data: Gaussian prediction from the training covariance, with kappa and the mixture correction."""
    code, out, _ = run_cli(capsys, "theory", "--data", "digits", "--rate", "0.25", "--json")
    assert code == 0
    rec = json.loads(out)[0]
    assert 0 < rec["kappa"] <= 1
    assert rec["predicted_risk_mixture"] == pytest.approx(1 - rec["kappa"] * (1 - rec["min_risk"]))
    assert rec["n_train"] == round(0.8 * 1797)


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["theory", "--rate", "-1"], "--rate"),
        (["theory", "--rate", "nan"], "--rate"),
        (["theory", "--activation", "softplus"], "softplus"),
        (["theory", "--spectrum", "/no/such/file.npy"], "not found"),
        (["train", "--d", "0"], "--d"),
        (["train", "--d", "8", "--rate", "0.5", "--n", "4"], "exactly one of rate"),
        (["train", "--rate", "0.5", "--whiten", "pca"], "whiten applies only to data sets"),
        (["train", "--rate", "0.5", "--save-params", "out.txt"], ".npz"),
        (["train", "--method", "magic"], "magic"),
        (["theory", "--data", "mnist:/no/such/file"], "mnist"),
        (["figure", "no-such-figure", "--quick"], "no-such-figure"),
        (["results", "/no/such/results.sqlite"], "not found"),
        ([], "COMMAND"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, needle):
    """Bad input: a single line on stderr naming the problem, exit status 2, no traceback."""
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1, err
    assert needle in lines[0]
    assert "Traceback" not in err


def test_bad_spectrum_contents(capsys, tmp_path):
    """A spectrum with a negative eigenvalue or a non-PSD covariance is refused with a reason."""
    np.save(tmp_path / "neg.npy", np.array([1.0, -0.5, 0.2]))
    code, _, err = run_cli(capsys, "theory", "--spectrum", str(tmp_path / "neg.npy"))
    assert code == 2 and "negative eigenvalue" in err
    np.save(tmp_path / "bad.npy", np.array([[1.0, 2.0], [2.0, 1.0]]))
    code, _, err = run_cli(capsys, "theory", "--spectrum", str(tmp_path / "bad.npy"))
    assert code == 2 and "positive semi-definite" in err


def test_train_json_record(capsys):
    """`twolayer train --json`: one record with the documented fields; the risk is recomputable."""
    code, out, err = run_cli(
        capsys, "train", "--d", "32", "--rate", "0.5", "--steps", "200", "--seed", "3", "--dtype", "float64", "--json"
    )
    assert code == 0
    rec = json.loads(out)
    for key in ("d", "n", "rate", "activation", "method", "final_risk", "predicted_risk", "relative_gap",
                "frame_spectrum_error", "polar_alignment", "steps", "seconds"):
        assert key in rec
    assert (rec["d"], rec["n"], rec["steps"]) == (32, 16, 200)
    assert rec["predicted_risk"] == pytest.approx(1 - 1 / math.pi)
    assert rec["relative_gap"] == pytest.approx((rec["final_risk"] - rec["predicted_risk"]) / rec["predicted_risk"])
    assert "it/s" not in err  # silent with --json


def test_python_dash_m_and_console_entry_point():
    """`python -m twolayer` runs the same command line (here: --help exits 0)."""
    out = subprocess.run([sys.executable, "-m", "twolayer", "theory", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--rate" in out.stdout
