"""Shared fixtures for the verify-theorem tests (kept small on purpose).

* ``random_cov(spectrum, seed)``: Q diag(spectrum) Q^T with a Haar-random eigenbasis Q;
* ``mc_mean(sample, n_total, seed)``: chunked Monte Carlo mean of a per-sample quantity
  and its standard error (sample standard deviation / sqrt(N)), so that 10^6-sample checks
  stay within a few tens of MB.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

# The tests compare the JAX code with float64 NumPy, so this test process turns JAX's 64-bit
# mode on itself (importing twolayer changes no global state; test_config.py checks that in a
# fresh process, and the training code chooses its precision per run either way).
jax.config.update("jax_enable_x64", True)


def _random_cov(spectrum, seed=0):
    sigma = np.asarray(spectrum, dtype=np.float64)
    d = sigma.size
    Q, R = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    Q = Q * np.sign(np.diag(R))
    cov = (Q * sigma) @ Q.T
    return 0.5 * (cov + cov.T)


def _mc_mean(sample, n_total=1_000_000, seed=0, chunk=200_000):
    """Mean and standard error of ``sample(rng, size)`` over ``n_total`` draws, in chunks.

    ``sample`` returns shape (size,) or (size, k) (k statistics from the same draws); the
    result has the shape of one row. The standard error is the sample standard deviation
    over sqrt(N); sums are taken around the first chunk's mean (no cancellation).
    """
    rng = np.random.default_rng(seed)
    total = total_sq = 0.0
    shift = None
    done = 0
    while done < n_total:
        size = min(chunk, n_total - done)
        values = np.asarray(sample(rng, size), dtype=np.float64)
        if shift is None:
            shift = values.mean(axis=0)
        centred = values - shift
        total = total + centred.sum(axis=0)
        total_sq = total_sq + np.sum(centred * centred, axis=0)
        done += size
    mean = total / n_total
    var = np.clip((total_sq - n_total * mean**2) / (n_total - 1), 0.0, None)
    return shift + mean, np.sqrt(var / n_total)


@pytest.fixture
def random_cov():
    return _random_cov


@pytest.fixture
def mc_mean():
    return _mc_mean
