r"""Growing dimensions at a fixed rate r = n/d: the approach to the proportional limit.

:func:`growing_dimensions` trains once per d (n = round(r d)) with the same seed and
options, so the records form a table; :func:`fit_finite_size` fits
log relative_gap = a + slope log d (gap ~ d^slope; slope < 0 when the finite-d optimum
approaches the limit).
"""

from __future__ import annotations

import numpy as np

from .._validation import as_rate, as_size
from .training import train


def growing_dimensions(ds=(64, 128, 256, 512, 1024), rate=0.5, **train_kwargs) -> list[dict]:
    """One :func:`~twolayer.simulations.train` per d at n = max(1, round(rate d)); a list of records.

    Every run uses the same ``train_kwargs`` (the same ``seed`` included). ``cov`` or
    ``spectrum`` may be a callable d -> array, so that the source can follow d.

    Parameters
    ----------
    ds : int or sequence of int, optional
        Input dimensions, each >= 1, in the order run (default 64, 128, ..., 1024).
    rate : float, optional
        r = n/d, finite and > 0 (default 0.5).
    **train_kwargs
        Passed to :func:`~twolayer.simulations.train` for every d.

    Returns
    -------
    list of dict
        One :meth:`TrainResult.as_record <twolayer.simulations.training.TrainResult.as_record>`
        per d.

    Raises
    ------
    ValueError
        If ``rate`` or a d is invalid, ``ds`` is empty, or :func:`~twolayer.simulations.train`
        refuses the options.

    References
    ----------
    .. [1] A. Shevchenko, K. Kögler, H. Hassani and M. Mondelli, "Fundamental limits of
       two-layer autoencoders, and achieving them with gradient methods", ICML 2023
       (PMLR 202), arXiv:2212.13468.

    Examples
    --------
    >>> records = growing_dimensions((32, 64), rate=0.5, steps=200)  # doctest: +SKIP
    >>> fit_finite_size(records)["slope"]  # doctest: +SKIP
    """
    rate = as_rate(rate)
    ds = [as_size(d, "d (input dimension)") for d in np.atleast_1d(ds).tolist()]
    if not ds:
        raise ValueError("ds must list at least one input dimension")
    records = []
    for d in ds:
        kwargs = {k: (v(d) if k in ("cov", "spectrum") and callable(v) else v) for k, v in train_kwargs.items()}
        records.append(train(d, max(1, int(round(rate * d))), **kwargs).as_record())
    return records


def fit_finite_size(records, *, key: str = "relative_gap") -> dict:
    """Least-squares slope of log(record[key]) against log d (records with a positive value only).

    Returns {"slope", "intercept", "ds", "values", "used"}; gap ~ exp(intercept) d^slope.
    Raises ValueError with fewer than two positive values (a gap <= 0 has no logarithm).

    Parameters
    ----------
    records : iterable of dict
        Records with ``"d"`` and ``key`` (e.g. from :func:`growing_dimensions`).
    key : str, optional
        The quantity to fit (default ``"relative_gap"``).

    Returns
    -------
    dict
        ``slope`` and ``intercept`` (floats), the ``ds`` and ``values`` used, and their
        number ``used``.

    Raises
    ------
    ValueError
        If fewer than two records have a positive value, or they share one d.

    Examples
    --------
    >>> fit = fit_finite_size([{"d": 10, "relative_gap": 0.1}, {"d": 100, "relative_gap": 0.01}])
    >>> round(fit["slope"], 6), fit["used"]
    (-1.0, 2)
    """
    points = [(r["d"], r[key]) for r in records if r.get(key) is not None and r[key] > 0]
    if len(points) < 2 or len({d for d, _ in points}) < 2:
        raise ValueError(
            f"fit_finite_size needs positive {key!r} at two or more distinct d; got {len(points)} usable records"
        )
    ds, values = map(np.asarray, zip(*points))
    slope, intercept = np.polyfit(np.log(ds), np.log(values), 1)
    return {
        "slope": float(slope),
        "intercept": float(intercept),
        "ds": ds.tolist(),
        "values": values.tolist(),
        "used": len(points),
    }
