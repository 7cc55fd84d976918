"""The benchmark script's --quick form runs and reports consistent numbers (no timing assertions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_benchmark_quick_reports_every_section(tmp_path):
    """`python benchmarks/run.py --quick --json`: every section present; FLOP rates = flops / time.

    The step's FLOP count is XLA's count for the compiled step of train() -- three n x n x d
    products (Q = U U^T, G = A^T A, H U; theory/risk.md) plus O(n^2) elementwise work, so
    between 6 n^2 d and 1.1 x that at d = 128, 256 -- plus the LAPACK calls XLA reports as 0:
    Cholesky n^3/3 and two triangular solves n^2 d each."""
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
        assert r["step_seconds"] > 0
        assert 6 * n**2 * d <= r["step_xla_flops"] <= 1.1 * 6 * n**2 * d
        assert r["step_lapack_flops"] == pytest.approx(n**3 / 3 + 2 * n**2 * d, rel=1e-12)
        assert r["step_flops"] == pytest.approx(r["step_xla_flops"] + r["step_lapack_flops"], rel=1e-12)
        assert abs(r["step_gflops"] - r["step_flops"] / r["step_seconds"] / 1e9) < 1e-6 * r["step_gflops"]
        assert abs(r["ratio_to_matmul"] - r["step_gflops"] / r["matmul_gflops"]) < 1e-9
        assert r["peak_rss_mib"] > 10
    assert report["samples_training"]["samples_per_second"] > 0
    assert report["theory"]["min_risk_1000_rates_spectrum_1000_seconds"] > 0

