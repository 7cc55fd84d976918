"""Measured speed of twolayer on this machine, against plain JAX and PyTorch loops doing the same work.

    python benchmarks/run.py [--quick] [--json] [--out FILE.json] [--skip-reproduce]

Contenders (``contenders.py``) run round by round in turn (A B C A B C ...) and the medians of the
per-round time ratios are reported, so that a slow spell of a shared machine hits all of them;
JIT compilation and a warm-up call are excluded. PyTorch is optional (skipped with a note).
Measured:

1. one population gradient step at d = n (sign, r = 1, optimal decoder, gradient descent), each
   size in its own process (its peak memory is its own): twolayer's compiled chunk of ``train``
   against plain JAX and plain PyTorch (autodiff through a general solve); their first steps'
   agreement; the best n x n by n x d matrix-product rate of the same run (JAX or PyTorch); the
   step's minimal work, 6 n^2 d (three products) + n^3/3 (Cholesky) + 2 n^2 d (two triangular
   solves), per second over that rate; and the same with XLA's cost analysis of the compiled
   step (products and elementwise work) plus the LAPACK calls it counts as 0;
2. the sample-based step at d = 784, n = 196, batch 256 (sign, untied, Adam) against plain JAX and
   PyTorch: samples per second; and ``train(method="samples")`` end to end;
3. the time ``train`` spends after its last step (comparison with theory) at the largest d;
4. the theory functions: ``min_risk`` for 1,000 rates over a 1,000-eigenvalue spectrum, and
   ``population_risk`` at d = n = 1024;
5. the wall time of ``twolayer reproduce --quick`` (not with --quick or --skip-reproduce);
6. the growth exponent of the step time in d (least-squares slope of log time on log d).
"""

from __future__ import annotations

import argparse
import contextlib
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
def minimal_flops(n: int, d: int) -> float:
    """The least work of one population step, whatever the implementation: three n x n x d matrix
    products (Q = U U^T, G = A^T A, H U: 6 n^2 d), a Cholesky factorisation of the n x n
    kernel matrix (n^3/3) and two triangular solves with d right-hand sides (2 n^2 d)."""
    return 8.0 * n**2 * d + n**3 / 3.0


def lapack_flops(n: int, d: int) -> float:
    """Flops of the step's LAPACK calls, which XLA's cost analysis counts as 0 (custom calls):
    a Cholesky factorisation of the n x n kernel matrix (n^3/3) and two triangular solves
    with d right-hand sides (n^2 d each)."""
    return n**3 / 3.0 + 2.0 * n**2 * d


def population_size(d: int, dtype: str, rounds: int) -> dict:
    """One population step at d = n: twolayer against plain JAX and plain PyTorch, interleaved.

    Run in a fresh process (its peak memory is its own). Each round times every contender once,
    in turn (twolayer, plain JAX, PyTorch, then a JAX and a PyTorch matrix product of the same
    n x n x d shape), so that a slow spell of a shared machine hits all of them; the ratios are
    taken per round and their medians reported. twolayer runs its compiled chunk of
    ``train(method="population")`` (4 steps a call below d = 2048, as train does, time divided
    by 4) with OpenBLAS limited to one thread, as train runs it; the contenders run one step a
    call with their libraries' default threads.
    """
    import jax

    import twolayer  # noqa: F401

    with jax.enable_x64(dtype == "float64"):  # as train() does: float32 traced without 64-bit promotion
        return _population_size(d, dtype, rounds)


def _population_size(d: int, dtype: str, rounds: int) -> dict:
    import contenders
    import jax
    import jax.numpy as jnp
    import numpy as np

    from twolayer.simulations.threads import blas_threads
    from twolayer.simulations.training import _compiled, _Spec

    n = d
    chunk = 4 if d < 2048 else 1
    B0 = contenders.initial_encoder(n, d)
    runners = {"twolayer": contenders.make_twolayer_population(B0, dtype, steps_per_call=chunk),
               "jax": contenders.make_jax_population(B0, dtype)}
    has_torch = contenders.torch_available()
    if has_torch:
        runners["torch"] = contenders.make_torch_population(B0, dtype)
    first_step = _first_step_agreement(B0, dtype, has_torch)

    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((n, n)), rng.standard_normal((n, d))
    mm = jax.jit(lambda a, b: a @ b)
    Xj, Yj = jnp.asarray(X, dtype), jnp.asarray(Y, dtype)
    matmuls = {"matmul_jax": lambda: mm(Xj, Yj).block_until_ready()}
    if has_torch:
        import torch

        Xt, Yt = torch.tensor(X, dtype=getattr(torch, dtype)), torch.tensor(Y, dtype=getattr(torch, dtype))
        matmuls["matmul_torch"] = lambda: Xt @ Yt

    states = {name: run(state) for name, (state, run) in runners.items()}  # compile, warm up
    for fn in matmuls.values():
        fn()
    times = {name: [] for name in [*runners, *matmuls]}
    for _ in range(rounds):
        for name, (_, run) in runners.items():
            with blas_threads(1) if name == "twolayer" else contextlib.nullcontext():
                t0 = time.perf_counter()
                states[name] = run(states[name])
                times[name].append((time.perf_counter() - t0) / (chunk if name == "twolayer" else 1))
        for name, fn in matmuls.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)

    # XLA's own count of the compiled one-step chunk (it counts a loop body once, and the
    # LAPACK custom calls as 0), for comparison with the minimal count
    spec = _Spec("sign", "population", "optimal-decoder", "sgd", 0.3, "constant", 10**9, 1, 0, d, dtype)
    tx, run = _compiled(spec)
    params = {"B": jnp.asarray(B0, dtype)}
    cost = run.lower(params, tx.init(params), 0, jax.random.PRNGKey(0), {"cov": None}).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    xla_flops = float(cost.get("flops", float("nan"))) if cost else float("nan")

    med = {name: statistics.median(ts) for name, ts in times.items()}
    mm_seconds = min(min(times[name]) for name in matmuls)
    best_rate = 2.0 * n * n * d / mm_seconds
    row = {
        "d": d,
        "n": n,
        "dtype": dtype,
        "rounds": rounds,
        "steps_per_call": chunk,
        "step_seconds": med["twolayer"],
        "plain_jax_seconds": med["jax"],
        "torch_seconds": med.get("torch"),
        "ratio_to_plain_jax": statistics.median(a / b for a, b in zip(times["twolayer"], times["jax"])),
        "ratio_to_torch": (statistics.median(a / b for a, b in zip(times["twolayer"], times["torch"]))
                           if has_torch else None),
        "first_step_max_difference": first_step,
        "matmul_seconds": {name: med[name] for name in matmuls},
        "best_matmul_gflops": best_rate / 1e9,
        "best_matmul_from": min(matmuls, key=lambda name: min(times[name])),
        "step_minimal_flops": minimal_flops(n, d),
        "ratio_to_best_matmul": minimal_flops(n, d) / med["twolayer"] / best_rate,
        "step_xla_flops": xla_flops,
        "step_lapack_flops": lapack_flops(n, d),
        "ratio_to_best_matmul_xla_count": (xla_flops + lapack_flops(n, d)) / med["twolayer"] / best_rate,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "device": str(jax.devices()[0]),
    }
    if not has_torch:
        row["torch_note"] = "PyTorch is not installed: pip install torch (CPU build) to add it"
    return row


def _first_step_agreement(B0, dtype: str, has_torch: bool) -> dict:
    """max |B_1 - B_1'| after one step from B0, twolayer against each contender."""
    import contenders
    import numpy as np

    state, run = contenders.make_twolayer_population(B0, dtype, steps_per_call=1)
    ours = np.asarray(run(state)["params"]["B"], dtype=np.float64)
    state, run = contenders.make_jax_population(B0, dtype)
    out = {"jax": float(np.max(np.abs(ours - np.asarray(run(state), dtype=np.float64))))}
    if has_torch:
        state, run = contenders.make_torch_population(B0, dtype)
        out["torch"] = float(np.max(np.abs(ours - run(state).numpy().astype(np.float64))))
    return out


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
def samples_step(rounds: int, steps: int = 100) -> dict:
    """The sample-based step at d = 784, n = 196, batch 256 (sign, untied, Adam): twolayer's compiled
    chunk of ``steps`` steps against ``steps`` calls of a plain jitted JAX step and of a plain
    PyTorch step, interleaved round by round; samples per second and per-round ratios."""
    import contenders

    d, n, batch = 784, 196, 256
    runners = {"twolayer": contenders.make_twolayer_samples(d, n, batch, steps_per_call=steps),
               "jax": contenders.make_jax_samples(d, n, batch)}
    if contenders.torch_available():
        runners["torch"] = contenders.make_torch_samples(d, n, batch)
    calls = {"twolayer": 1, "jax": steps, "torch": steps}
    states = {}
    for name, (state, run) in runners.items():  # compile, warm up
        for _ in range(min(calls[name], 5)):
            state = run(state)
        states[name] = state
    times = {name: [] for name in runners}
    for _ in range(rounds):
        for name, (_, run) in runners.items():
            t0 = time.perf_counter()
            for _ in range(calls[name]):
                states[name] = run(states[name])
            times[name].append((time.perf_counter() - t0) / steps)
    out = {"d": d, "n": n, "batch_size": batch, "steps_per_round": steps, "rounds": rounds}
    for name, ts in times.items():
        out[f"{name}_samples_per_second"] = batch / statistics.median(ts)
    for name in ("jax", "torch"):
        if name in times:
            out[f"ratio_to_{'plain_jax' if name == 'jax' else name}"] = statistics.median(
                a / b for a, b in zip(times["twolayer"], times[name]))
    return out


def samples_throughput(quick: bool) -> dict:
    """Samples per second of ``train(method="samples")`` at d = 784, n = 196 (compile excluded)."""
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


def after_training_seconds(d: int, step_seconds: float) -> dict:
    """Wall time of what ``train`` does after its last step at d = n (the optimal decoder and the
    comparison with theory), and that time in steps of the population step measured above."""
    import numpy as np

    from twolayer.simulations.metrics import compare_with_theory
    from twolayer.theory import optimal_decoder

    rng = np.random.default_rng(0)
    B, B0 = rng.standard_normal((d, d)), rng.standard_normal((d, d))
    t0 = time.perf_counter()
    compare_with_theory(optimal_decoder(B), B, B0=B0)
    seconds = time.perf_counter() - t0
    return {"d": d, "seconds": seconds, "step_equivalents": seconds / step_seconds}


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
    repeats = 3 if args.quick else 9
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
    report["samples_step"] = samples_step(3 if args.quick else 15, steps=20 if args.quick else 100)
    report["samples_training"] = samples_throughput(args.quick)
    last = [r for r in report["population_step"] if r["dtype"] == "float32"][-1]
    report["after_training"] = after_training_seconds(last["d"], last["step_seconds"])
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
    print("\npopulation gradient step (sign, r = 1, optimal decoder, gradient descent): median over interleaved rounds")
    head = (f"{'dtype':>8} {'d':>5} {'twolayer s':>11} {'plain JAX s':>12} {'PyTorch s':>10} {'/JAX':>6} {'/torch':>7} "
            f"{'best matmul GF/s':>17} {'of best':>8} {'(XLA count)':>12} {'peak MiB':>9}")
    print(head)
    for r in report["population_step"]:
        torch_s = f"{r['torch_seconds']:>10.4g}" if r["torch_seconds"] else f"{'-':>10}"
        torch_r = f"{r['ratio_to_torch']:>7.2f}" if r["ratio_to_torch"] else f"{'-':>7}"
        print(f"{r['dtype']:>8} {r['d']:>5} {r['step_seconds']:>11.4g} {r['plain_jax_seconds']:>12.4g} {torch_s} "
              f"{r['ratio_to_plain_jax']:>6.2f} {torch_r} {r['best_matmul_gflops']:>17.4g} "
              f"{r['ratio_to_best_matmul']:>8.1%} {r['ratio_to_best_matmul_xla_count']:>12.1%} {r['peak_rss_mib']:>9.0f}")
    print("/JAX, /torch: median over rounds of twolayer's time over the contender's (< 1: twolayer is faster).\n"
          "of best: the minimal count of a step (three n x n x d products 6 n^2 d, Cholesky n^3/3, two\n"
          "  triangular solves 2 n^2 d) per second, over the best matrix-product rate of the same run (JAX or\n"
          "  PyTorch, n x n times n x d). (XLA count): the same with XLA's cost analysis of the compiled step\n"
          "  (its products and elementwise work) plus the LAPACK calls it counts as 0.")
    if any(r.get("torch_note") for r in report["population_step"]):
        print(report["population_step"][0]["torch_note"])
    for dtype in ("float32", "float64"):
        print(f"step time grows like d^{report[f'step_time_exponent_{dtype}']:.2f} ({dtype})")
    s = report["samples_step"]
    line = (f"\nsample step d = {s['d']}, n = {s['n']}, batch {s['batch_size']} (Adam), samples/s: twolayer "
            f"{s['twolayer_samples_per_second']:.4g}, plain JAX {s['jax_samples_per_second']:.4g}")
    if "torch_samples_per_second" in s:
        line += f", PyTorch {s['torch_samples_per_second']:.4g}; time ratio to PyTorch {s['ratio_to_torch']:.2f}"
    print(line + f", to plain JAX {s['ratio_to_plain_jax']:.2f}")
    s = report["samples_training"]
    print(f"train(method='samples') d = {s['d']}, n = {s['n']}: {s['samples_per_second']:.4g} samples/s "
          f"({s['steps']} steps of {s['batch_size']}, with the final theory comparison)")
    a = report["after_training"]
    print(f"after training, d = n = {a['d']}: the final comparison with theory takes {a['seconds']:.3g} s "
          f"({a['step_equivalents']:.3g} population steps)")
    t = report["theory"]
    print(
        f"theory: min_risk, 1000 rates x 1000 eigenvalues: {t['min_risk_1000_rates_spectrum_1000_seconds'] * 1e3:.3g} ms; "
        f"population_risk at d = n = 1024: {t['population_risk_d1024_n1024_seconds']:.3g} s"
    )
    rq = report["reproduce_quick"]
    print(f"twolayer reproduce --quick: {rq['seconds']:.1f} s" if rq.get("seconds") else f"twolayer reproduce --quick: {rq.get('note')}")


if __name__ == "__main__":
    sys.exit(main())
