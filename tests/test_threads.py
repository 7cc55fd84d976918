"""twolayer.simulations.threads: train's chunks run with BLAS limited to its blas_threads argument,
checked with threadpoolctl's own report of the loaded BLAS libraries."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg  # noqa: F401  (loads SciPy's OpenBLAS, the one XLA's LAPACK calls use)
from threadpoolctl import threadpool_info

from twolayer.simulations import threads


def _blas_threads():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_blas_threads_limits_and_restores():
    before = _blas_threads()
    assert before  # NumPy and SciPy ship OpenBLAS
    with threads.blas_threads():
        assert set(_blas_threads()) == {threads.DEFAULT_BLAS_THREADS} == {1}
        np.linalg.cholesky(np.eye(3))  # BLAS still works inside
    assert _blas_threads() == before
    with threads.blas_threads(None):
        assert _blas_threads() == before
    with pytest.raises(ValueError, match="positive integer or None"):
        threads.blas_threads(0)


def test_train_runs_its_chunks_under_the_limit(monkeypatch):
    """train() enters blas_threads() around its chunk loop (the BLAS thread count seen while a
    chunk is being fetched is the limit)."""
    import contextlib

    from twolayer.simulations import train

    seen = []
    real = threads.blas_threads

    @contextlib.contextmanager
    def recording(limit):
        with real(limit):
            seen.append(set(_blas_threads()))
            yield

    monkeypatch.setattr(threads, "blas_threads", recording)
    train(8, 4, steps=3, seed=0, progress=False)
    train(8, 4, steps=3, seed=0, progress=False, blas_threads=2)
    assert seen == [{1}, {2}]
