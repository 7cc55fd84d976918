"""Measured speed of twolayer on this machine, against a plain implementation of the same work.

    python benchmarks/run.py [--quick] [--json] [--out FILE.json]

Every figure is the median of several repeats after a warm-up (JIT compilation excluded).
Each size of the population-step benchmark runs in its own subprocess, so that its peak
memory (max RSS) is its own. Measured:

1. reference: a dense n x n matrix product (2 n^3 flops) and an n x n solve, per dtype;
2. one population gradient step -- the compiled step of ``train`` itself (sign, r = 1, optimal
   decoder, plain gradient descent): seconds per step, its FLOP count (XLA's cost analysis of
   the compiled step, which counts the matrix products, plus the LAPACK calls it cannot see:
   Cholesky n^3/3 and two triangular solves n^2 d each), the achieved FLOP rate, and its ratio
   to the matrix-product rate measured in the same process (goal >= 40% at d >= 1024);
3. sample-based training at d = 784, n = 196 (sign, smoothed-sign estimator): samples per second;
4. the theory functions: ``min_risk`` for 1,000 rates over a 1,000-eigenvalue spectrum, and
   ``population_risk`` at d = n = 1024;
5. the wall time of ``twolayer reproduce --quick`` (when that command exists);
6. the growth exponent of the step time in d (least-squares slope of log time on log d) and the
   peak memory at each size.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def median_time(fn, repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# ----------------------------------------------------------------------------- one size, in a subprocess
def population_size(d: int, dtype: str, repeats: int) -> dict:
    """Reference matmul/solve and one population step at d = n (run in a fresh process)."""
    import jax

    import twolayer  # noqa: F401  (enables x64 so float64 is honoured)

    with jax.enable_x64(dtype == "float64"):  # as train() does: float32 traced without 64-bit promotion
        return _population_size(d, dtype, repeats)


def lapack_flops(n: int, d: int) -> float:
    """Flops of the step's LAPACK calls, which XLA's cost analysis counts as 0 (custom calls):
    a Cholesky factorisation of the n x n kernel matrix (n^3/3) and two triangular solves
    with d right-hand sides (n^2 d each)."""
    return n**3 / 3.0 + 2.0 * n**2 * d


def _population_size(d: int, dtype: str, repeats: int) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from twolayer.simulations.threads import blas_threads
    from twolayer.simulations.training import _compiled, _Spec

    n = d
    rng = np.random.default_rng(0)
    X = jnp.asarray(rng.standard_normal((n, n)), dtype=dtype)
    Y = jnp.asarray(rng.standard_normal((n, n)), dtype=dtype)
    S = X @ X.T + n * jnp.eye(n, dtype=dtype)
    matmul = jax.jit(lambda a, b: a @ b)
    solve = jax.jit(lambda a, b: jnp.linalg.solve(a, b))
    t_mm = median_time(lambda: matmul(X, Y).block_until_ready(), 2 * repeats + 1, warmup=2)
    t_solve = median_time(lambda: solve(S, Y).block_until_ready(), repeats)

    # exactly the compiled chunk of train(d, n, method="population") with its defaults (sign,
    # optimal decoder, gradient descent at lr 0.3): FLOPs from a one-step chunk (XLA's cost
    # analysis counts a loop body once), time per step from chunks of `chunk` steps, as train
    # runs them (so that small sizes are not dominated by the per-call dispatch)
    chunk = 4 if d <= 1024 else 1
    params = {"B": jnp.asarray(rng.standard_normal((n, d)) / np.sqrt(d), dtype=dtype)}
    key, consts = jax.random.PRNGKey(0), {"cov": None}

    def compiled_chunk(steps_per_call):
        spec = _Spec("sign", "population", "optimal-decoder", "sgd", 0.3, "constant", 10**9, steps_per_call, 0, d, dtype)
        tx, run = _compiled(spec)
        return tx, run.lower(params, tx.init(params), 0, key, consts).compile()

    tx, one_step = compiled_chunk(1)
    cost = one_step.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    xla_flops = float(cost.get("flops", float("nan"))) if cost else float("nan")
    flops = xla_flops + lapack_flops(n, d)
    compiled = compiled_chunk(chunk)[1] if chunk > 1 else one_step
    box = {"params": params, "state": tx.init(params), "t": 0}

    def run_chunk():
        box["params"], box["state"], values = compiled(box["params"], box["state"], box["t"], key, consts)
        box["t"] += chunk
        values.block_until_ready()

    with blas_threads():  # as train() runs its chunks
        t_step = median_time(run_chunk, repeats, warmup=2) / chunk
    mm_rate = 2.0 * n**3 / t_mm
    return {
        "d": d,
        "n": n,
        "dtype": dtype,
        "matmul_seconds": t_mm,
        "matmul_gflops": mm_rate / 1e9,
        "solve_seconds": t_solve,
        "step_seconds": t_step,
        "steps_per_call": chunk,
        "step_xla_flops": xla_flops,
        "step_lapack_flops": lapack_flops(n, d),
        "step_flops": flops,
        "step_gflops": flops / t_step / 1e9,
        "ratio_to_matmul": flops / t_step / mm_rate,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "device": str(jax.devices()[0]),
    }


def _in_subprocess(d: int, dtype: str, repeats: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--_size", str(d), dtype, str(repeats)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"size d = {d} ({dtype}) failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- in-process benchmarks
def samples_throughput(quick: bool) -> dict:
    """Samples per second of sample-based training at d = 784, n = 196 (compile excluded)."""
    from twolayer.simulations import train

    d, n, batch = 784, 196, 256
    steps = 100 if quick else 400
    kwargs = dict(activation="sign", method="samples", steps=steps, batch_size=batch, seed=0, record_every=0)
    train(d, n, **kwargs)  # compiles
    t0 = time.perf_counter()
    result = train(d, n, **kwargs)
    total = time.perf_counter() - t0
    return {
        "d": d,
        "n": n,
        "batch_size": batch,
        "steps": steps,
        "seconds": total,
        "samples_per_second": steps * batch / total,
        "final_risk": result.metrics.get("final_risk"),
        "note": "wall time of train() including the final theory comparison",
    }


def theory_speed(repeats: int) -> dict:
    import numpy as np

    from twolayer.theory import min_risk, population_risk

    rates = np.linspace(0.01, 4.0, 1000)
    spectrum = 1.0 / np.arange(1, 1001)
    B = np.random.default_rng(0).standard_normal((1024, 1024))
    return {
        "min_risk_1000_rates_spectrum_1000_seconds": median_time(lambda: min_risk(rates, spectrum=spectrum), repeats),
        "min_risk_1000_rates_isotropic_seconds": median_time(lambda: min_risk(rates), repeats),
        "population_risk_d1024_n1024_seconds": median_time(lambda: population_risk(B), max(3, repeats // 2)),
    }


def reproduce_quick_seconds() -> dict:
    """Cold wall time of ``twolayer reproduce --quick`` into an empty folder (no cached runs)."""
    import tempfile

    probe = subprocess.run([sys.executable, "-m", "twolayer", "reproduce", "--help"], capture_output=True)
    if probe.returncode != 0:
        return {"seconds": None, "note": "twolayer reproduce is not available in this version"}
    with tempfile.TemporaryDirectory() as out_dir:
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "twolayer", "reproduce", "--quick", "--out", out_dir],
                             capture_output=True, text=True)
        return {"seconds": time.perf_counter() - t0, "returncode": out.returncode}


def growth_exponent(rows: list[dict]) -> float:
    import numpy as np

    ds = np.log([r["d"] for r in rows])
    ts = np.log([r["step_seconds"] for r in rows])
    return float(np.polyfit(ds, ts, 1)[0]) if len(rows) >= 2 else float("nan")


def versions() -> dict:
    import jax
    import numpy
    import optax
    import scipy

    import twolayer

    return {
        "twolayer": twolayer.__version__,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "jax": jax.__version__,
        "optax": optax.__version__,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few repeats (seconds, for the test suite)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--out", help="also write the JSON to this file")
    parser.add_argument("--skip-reproduce", action="store_true", help="do not time twolayer reproduce --quick")
    parser.add_argument("--_size", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._size:
        d, dtype, repeats = int(args._size[0]), args._size[1], int(args._size[2])
        print(json.dumps(population_size(d, dtype, repeats)))
        return 0

    import jax

    sizes = (128, 256) if args.quick else (256, 512, 1024, 2048)
    repeats = 3 if args.quick else 7
    report = {
        "machine": {"cores": os.cpu_count(), "platform": platform.platform(), "device": str(jax.devices()[0])},
        "versions": versions(),
        "quick": args.quick,
        "population_step": [],
    }
    for dtype in ("float32", "float64"):
        rows = [_in_subprocess(d, dtype, repeats) for d in sizes]
        report["population_step"].extend(rows)
        report[f"step_time_exponent_{dtype}"] = growth_exponent(rows)
    report["samples_training"] = samples_throughput(args.quick)
    report["theory"] = theory_speed(repeats)
    report["reproduce_quick"] = (
        {"seconds": None, "note": "skipped"} if (args.quick or args.skip_reproduce) else reproduce_quick_seconds()
    )
    text = json.dumps(report, indent=2)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")
    if args.json:
        print(text)
    else:
        print_tables(report)
    return 0


def print_tables(report: dict) -> None:
    m = report["machine"]
    print(f"machine: {m['cores']} cores, device {m['device']}; " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()))
    print("\npopulation gradient step (sign, r = 1, optimal decoder, gradient descent), median of repeats")
    head = f"{'dtype':>8} {'d':>6} {'step s':>10} {'GFLOP/step':>11} {'GFLOP/s':>9} {'matmul GFLOP/s':>15} {'ratio':>7} {'peak MiB':>9}"
    print(head)
    for r in report["population_step"]:
        print(
            f"{r['dtype']:>8} {r['d']:>6} {r['step_seconds']:>10.4g} {r['step_flops'] / 1e9:>11.3g} "
            f"{r['step_gflops']:>9.3g} {r['matmul_gflops']:>15.3g} {r['ratio_to_matmul']:>7.1%} {r['peak_rss_mib']:>9.0f}"
        )
    print("GFLOP/step = XLA's cost analysis of the compiled step (its matrix products and elementwise work)\n"
          "           + its LAPACK calls, which XLA counts as 0: Cholesky n^3/3 and two triangular solves n^2 d each")
    for dtype in ("float32", "float64"):
        print(f"step time grows like d^{report[f'step_time_exponent_{dtype}']:.2f} ({dtype})")
    s = report["samples_training"]
    print(f"\nsample training d = {s['d']}, n = {s['n']}: {s['samples_per_second']:.4g} samples/s ({s['steps']} steps of {s['batch_size']})")
    t = report["theory"]
    print(
        f"theory: min_risk, 1000 rates x 1000 eigenvalues: {t['min_risk_1000_rates_spectrum_1000_seconds'] * 1e3:.3g} ms; "
        f"population_risk at d = n = 1024: {t['population_risk_d1024_n1024_seconds']:.3g} s"
    )
    rq = report["reproduce_quick"]
    print(f"twolayer reproduce --quick: {rq['seconds']:.1f} s" if rq.get("seconds") else f"twolayer reproduce --quick: {rq.get('note')}")


if __name__ == "__main__":
    sys.exit(main())
