"""BLAS threads while XLA runs a compiled training chunk.

A population step runs on XLA's thread pool and calls LAPACK (OpenBLAS, through SciPy) for its
Cholesky factorisation and triangular solves. Left alone, OpenBLAS runs those calls on its own
threads, which then spin for ~2^28 cycles waiting for more work and take the cores the step's
next matrix products need; telling them to sleep at once (``OPENBLAS_THREAD_TIMEOUT=4``)
instead makes every small call pay for waking them. Measured on 2 cores (float32, seconds per
step, `benchmarks/run.py`):

    d = n                        256      512      1024     2048
    OpenBLAS default             2.9 ms   18.6 ms  120 ms   0.59 s
    OPENBLAS_THREAD_TIMEOUT=4    5.6 ms   16.2 ms   86 ms   --
    one BLAS thread (default)    2.6 ms   13.3 ms   89 ms   0.63 s

so :func:`train` runs its chunks with OpenBLAS limited to ``blas_threads`` threads (its
argument, default :data:`DEFAULT_BLAS_THREADS`; ``threadpoolctl``, restored afterwards). On a
machine with many cores and d >= 2048 the single-threaded solves can become the bottleneck:
pass ``blas_threads=None`` (leave OpenBLAS alone) or a larger number.
"""

from __future__ import annotations

import contextlib

#: threads OpenBLAS may use inside a compiled training chunk, unless train() is told otherwise.
DEFAULT_BLAS_THREADS: int | None = 1


def check_limit(limit):
    """``limit`` if it is a positive integer or None, else ValueError.

    Parameters
    ----------
    limit : int or None
        A thread count, >= 1, or None.

    Returns
    -------
    int or None
        ``limit``.

    Raises
    ------
    ValueError
        If ``limit`` is not None and not an integer >= 1 (booleans refused).

    Examples
    --------
    >>> check_limit(2), check_limit(None)
    (2, None)
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"blas_threads must be a positive integer or None, got {limit!r}")
    return limit


def blas_threads(limit: int | None = DEFAULT_BLAS_THREADS):
    """Context manager: BLAS limited to ``limit`` threads (no-op when None), restored on exit.

    Parameters
    ----------
    limit : int or None, optional
        Threads BLAS may use (default :data:`DEFAULT_BLAS_THREADS`); None: leave BLAS alone.

    Returns
    -------
    contextlib.AbstractContextManager
        A ``threadpoolctl.threadpool_limits`` for the BLAS libraries, or a null context.

    Raises
    ------
    ValueError
        If ``limit`` is invalid (:func:`check_limit`).
    """
    if check_limit(limit) is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=limit, user_api="blas")
