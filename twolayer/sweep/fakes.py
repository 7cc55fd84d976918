"""Deterministic stand-ins for the run function (tests, demos, checking a cluster setup).

They are importable by worker processes and Dask workers (``twolayer.sweep.fakes:NAME``), and
return metrics that depend only on the run's parameters, so two sweeps of one spec give
identical rows whatever the executor, the order of completion or the interruptions.
"""

from __future__ import annotations

import hashlib
import time

from .spec import canonical_json


def _uniforms(params: dict, count: int) -> list[float]:
    digest = hashlib.sha256(canonical_json(params).encode()).digest()
    return [int.from_bytes(digest[4 * i : 4 * i + 4], "big") / 2**32 for i in range(count)]


def fake_metrics(params: dict) -> dict:
    """Metrics computed from the parameters alone (same params and seed, same numbers).

    Parameters
    ----------
    params : dict
        The run's parameters (``rate``, else ``n`` / ``d``, sets the predicted risk).

    Returns
    -------
    dict
        ``final_risk``, ``predicted_risk`` = 1 / (1 + rate), ``relative_gap``,
        ``frame_spectrum_error``, ``polar_alignment``, ``stopped`` and a nested ``history``.
    """
    u = _uniforms(params, 4)
    rate = params.get("rate") or (params.get("n") or 1) / (params.get("d") or 1)
    predicted = 1.0 / (1.0 + rate)
    final = predicted * (1.0 + 0.05 * u[0])
    return {
        "final_risk": final,
        "predicted_risk": predicted,
        "relative_gap": (final - predicted) / predicted,
        "frame_spectrum_error": 0.1 * u[1],
        "polar_alignment": 0.9 + 0.1 * u[2],
        "stopped": "budget",
        "history": {"risk": [final + 0.1, final]},
    }


def fake_run(params: dict) -> dict:
    """:func:`fake_metrics`, at once.

    Parameters
    ----------
    params : dict
        The run's parameters (``rate``, else ``n`` / ``d``, sets the predicted risk).

    Returns
    -------
    dict
        As :func:`fake_metrics`.
    """
    return fake_metrics(params)


def slowish_fake(params: dict) -> dict:
    """:func:`fake_metrics` after sleeping 0.05 - 0.2 s (a duration fixed by the parameters).

    Parameters
    ----------
    params : dict
        The run's parameters (``rate``, else ``n`` / ``d``, sets the predicted risk).

    Returns
    -------
    dict
        As :func:`fake_metrics`.
    """
    time.sleep(0.05 + 0.15 * _uniforms(params, 4)[3])
    return fake_metrics(params)


def failing_fake(params: dict) -> dict:
    """:func:`fake_metrics`, but raises ``ValueError`` for seed 1 (to exercise failed runs).

    Parameters
    ----------
    params : dict
        The run's parameters (``rate``, else ``n`` / ``d``, sets the predicted risk).

    Returns
    -------
    dict
        As :func:`fake_metrics`.

    Raises
    ------
    ValueError
        If ``params["seed"] == 1``.
    """
    if params.get("seed") == 1:
        raise ValueError(f"fake failure for seed 1 (rate = {params.get('rate')})")
    return fake_metrics(params)


def blas_threads_fake(params: dict) -> dict:
    """The BLAS thread counts of the process that runs it (threadpoolctl), and the thread variables it sees.

    Parameters
    ----------
    params : dict
        Ignored beyond being a run.

    Returns
    -------
    dict
        ``blas_threads`` (one count per loaded BLAS library) and ``environment`` (the values of
        :data:`twolayer.sweep.executors.BLAS_THREAD_VARIABLES`, None where unset).
    """
    import os

    import numpy  # noqa: F401  (loads numpy's BLAS)
    from threadpoolctl import threadpool_info

    from .executors import BLAS_THREAD_VARIABLES

    return {"blas_threads": [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"],
            "environment": {name: os.environ.get(name) for name in BLAS_THREAD_VARIABLES}}
