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
