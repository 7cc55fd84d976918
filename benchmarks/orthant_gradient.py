"""The cost of one step of ``bc-train``: the closed-form derivatives of Phi_2 against differentiating the rule.

    python benchmarks/orthant_gradient.py                 # the suite's shapes, K = 32 components
    python benchmarks/orthant_gradient.py --repeats 5 --json /tmp/out.json

One step of :func:`twolayer.simulations.mixture_training.train_on_mixture` is the gradient of
:func:`twolayer.theory.gaussian_mixture.smoothed_sign_loss_jax` in (A, B): K n (n + 1) / 2 bivariate
orthant probabilities Phi_2 and their derivatives. The package gives JAX the exact partials
(phi(h) Phi((k - rho h) / s), and the bivariate density for rho); the reference, measured in the same
run, lets JAX differentiate the 16-node Gauss-Legendre rule itself. Per shape: the median seconds
of a jitted gradient over ``--repeats`` calls, their ratio, and the largest relative difference
between the two gradients (both are of the same loss: they differ by the rule's error in the
derivative). A random mixture (covariances G G^T / d, means 0.3 N(0, I), equal weights) and a
random encoder stand in for the model; the cost does not depend on the values. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from unittest import mock

import numpy as np

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results-orthant-gradient.json")
#: (d, n) of the suite's cells with bc-train: 8x8 patches at r = 1; 16x16 patches at r = 0.25, 0.5, 1.
SHAPES = ((64, 64), (256, 64), (256, 128), (256, 256))
COMPONENTS = 32


def _median_seconds(fn, args, repeats):
    import jax

    jax.block_until_ready(fn(*args))  # compile
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def shape_row(d, n, repeats, seed=0):
    """Median gradient seconds with the closed-form partials and with the rule differentiated, and their gap."""
    import jax
    import jax.numpy as jnp

    import twolayer.theory.gaussian_mixture as gm
    from twolayer.simulations.mixture_training import TRAINING_NODES

    rng = np.random.default_rng(seed)
    covs = np.stack([g @ g.T / d for g in rng.standard_normal((COMPONENTS, d, d))])
    means, weights = 0.3 * rng.standard_normal((COMPONENTS, d)), np.full(COMPONENTS, 1.0 / COMPONENTS)
    with jax.enable_x64(True):
        consts = tuple(jnp.asarray(v) for v in (covs, weights, means))
        A = jnp.asarray(rng.standard_normal((d, n)) / np.sqrt(n))
        B = jnp.asarray(rng.standard_normal((n, d)) / np.sqrt(d))

        def gradient():
            return jax.jit(jax.grad(lambda A, B: gm.smoothed_sign_loss_jax(A, B, *consts, 0.1, TRAINING_NODES),
                                    argnums=(0, 1)))

        closed_form = gradient()
        seconds = _median_seconds(closed_form, (A, B), repeats)
        exact = closed_form(A, B)
        rule = lambda nodes: (lambda h, k, rho: gm._bivariate_normal_quadrature(h, k, rho, jnp, nodes))
        with mock.patch.object(gm, "_bivariate_normal_cdf_jax", rule):
            differentiated = gradient()
            reference = _median_seconds(differentiated, (A, B), repeats)
            other = differentiated(A, B)
        gap = max(float(jnp.max(jnp.abs(x - y)) / jnp.max(jnp.abs(y))) for x, y in zip(exact, other))
    return dict(d=d, n=n, components=COMPONENTS, pairs=COMPONENTS * n * (n + 1) // 2, closed_form_seconds=seconds,
                rule_differentiated_seconds=reference, speedup=reference / seconds, relative_gradient_gap=gap)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per shape (default 3)")
    parser.add_argument("--json", default=RESULTS, help=f"where to write the rows (default {RESULTS})")
    args = parser.parse_args(argv)
    rows = []
    print(f"{'d':>4} {'n':>4} {'pairs':>9} {'closed form s':>14} {'rule diff. s':>13} {'ratio':>6} {'gap':>9}")
    for d, n in SHAPES:
        row = shape_row(d, n, args.repeats)
        rows.append(row)
        print(f"{d:4d} {n:4d} {row['pairs']:9d} {row['closed_form_seconds']:14.3f} "
              f"{row['rule_differentiated_seconds']:13.3f} {row['speedup']:6.2f} {row['relative_gradient_gap']:9.1e}")
    with open(args.json, "w") as f:
        json.dump(dict(machine=platform.platform(), cpus=os.cpu_count(), repeats=args.repeats, rows=rows), f, indent=1)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
