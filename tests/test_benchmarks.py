"""The benchmark script's --quick form runs and reports consistent numbers (no timing assertions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_benchmark_quick_reports_every_section(tmp_path):
    """`python benchmarks/run.py --quick --json`: every section present; the ratios are what they say.

    The population step of twolayer agrees after one step with the plain JAX contender (autodiff
    through an LU solve, an independent computation of the same gradient) to float rounding, and
    with PyTorch's where PyTorch is installed. The minimal count is 8 n^2 d + n^3/3 (three
    products, Cholesky, two triangular solves); XLA's count of the compiled step covers at least
    its three n x n x d products (6 n^2 d) plus elementwise work, and the LAPACK calls it counts
    as 0 are added to it."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--json", "--out", str(tmp_path / "b.json")],
        capture_output=True, text=True, timeout=900,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout)
    assert report == json.loads((tmp_path / "b.json").read_text())
    assert report["machine"]["cores"] >= 1 and "jax" in report["versions"]
    rows = report["population_step"]
    assert {(r["d"], r["dtype"]) for r in rows} == {(d, t) for d in (128, 256) for t in ("float32", "float64")}
    for r in rows:
        n, d = r["n"], r["d"]
        tol = 1e-5 if r["dtype"] == "float32" else 1e-13
        assert r["step_seconds"] > 0 and r["plain_jax_seconds"] > 0
        assert r["first_step_max_difference"]["jax"] < tol
        assert r["step_minimal_flops"] == pytest.approx(8 * n**2 * d + n**3 / 3, rel=1e-12)
        assert r["step_lapack_flops"] == pytest.approx(n**3 / 3 + 2 * n**2 * d, rel=1e-12)
        assert 6 * n**2 * d <= r["step_xla_flops"] <= 2 * 6 * n**2 * d
        rate = r["best_matmul_gflops"] * 1e9
        assert r["ratio_to_best_matmul"] == pytest.approx(r["step_minimal_flops"] / r["step_seconds"] / rate, rel=1e-9)
        assert r["ratio_to_best_matmul_xla_count"] == pytest.approx(
            (r["step_xla_flops"] + r["step_lapack_flops"]) / r["step_seconds"] / rate, rel=1e-9)
        assert r["ratio_to_plain_jax"] > 0 and r["peak_rss_mib"] > 10
        if r["torch_seconds"] is not None:
            assert r["ratio_to_torch"] > 0 and r["first_step_max_difference"]["torch"] < tol
    samples = report["samples_step"]
    assert samples["twolayer_samples_per_second"] > 0 and samples["ratio_to_plain_jax"] > 0
    assert report["samples_training"]["samples_per_second"] > 0
    assert report["after_training"]["seconds"] > 0
    assert report["theory"]["min_risk_1000_rates_spectrum_1000_seconds"] > 0
