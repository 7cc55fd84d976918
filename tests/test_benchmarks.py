"""The benchmark script's --quick form runs and reports consistent numbers (no timing assertions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_benchmark_quick_reports_every_section(tmp_path):
    """`python benchmarks/run.py --quick --json`: every section present; FLOP rates = flops / time."""
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
        assert r["step_seconds"] > 0 and r["step_flops"] > 2 * r["d"] ** 3  # at least the product B B^T
        assert abs(r["step_gflops"] - r["step_flops"] / r["step_seconds"] / 1e9) < 1e-6 * r["step_gflops"]
        assert abs(r["ratio_to_matmul"] - r["step_gflops"] / r["matmul_gflops"]) < 1e-9
        assert r["peak_rss_mib"] > 10
    assert report["samples_training"]["samples_per_second"] > 0
    assert report["theory"]["min_risk_1000_rates_spectrum_1000_seconds"] > 0
