"""Input checks shared by the theory, the simulations and the command line.

Every public function validates its arguments here, so that bad input gives one
clear ``ValueError`` that says what was wrong and what is accepted (the CLI turns
it into a one-line message and a non-zero exit).
"""

from __future__ import annotations

import numpy as np


def as_matrix(x, name: str, *, shape: tuple | None = None) -> np.ndarray:
    """Return ``x`` as a finite float64 2-D array, or raise ``ValueError``."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a real matrix, got {type(x).__name__}") from exc
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix, got an array of shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must be non-empty, got shape {arr.shape}")
    if shape is not None:
        for axis, (got, want) in enumerate(zip(arr.shape, shape)):
            if want is not None and got != want:
                raise ValueError(
                    f"{name} has shape {arr.shape}, expected {tuple('*' if s is None else s for s in shape)}"
                    f" (axis {axis} must be {want})"
                )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf entries; only finite values are accepted")
    return arr


def as_spectrum(spectrum, name: str = "spectrum") -> np.ndarray:
    """Return eigenvalues as a finite, non-negative float64 vector with a positive sum."""
    try:
        arr = np.asarray(spectrum, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a vector of eigenvalues, got {type(spectrum).__name__}") from exc
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D vector of eigenvalues, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf; eigenvalues must be finite")
    tol = 1e-12 * max(1.0, float(np.max(np.abs(arr))))
    if np.any(arr < -tol):
        raise ValueError(
            f"{name} has a negative eigenvalue ({arr.min():.3g}); a covariance spectrum must be >= 0"
        )
    arr = np.clip(arr, 0.0, None)
    if arr.sum() <= 0:
        raise ValueError(f"{name} must have a positive sum (the source has zero variance)")
    return arr


def as_covariance(cov, d: int | None = None, name: str = "cov") -> np.ndarray:
    """Return a symmetric positive semi-definite float64 ``d x d`` matrix, or raise."""
    arr = as_matrix(cov, name)
    if arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be square, got shape {arr.shape}")
    if d is not None and arr.shape[0] != d:
        raise ValueError(f"{name} has shape {arr.shape} but the input dimension is d = {d}")
    scale = max(1.0, float(np.max(np.abs(arr))))
    if not np.allclose(arr, arr.T, atol=1e-10 * scale, rtol=1e-8):
        raise ValueError(f"{name} must be symmetric")
    arr = 0.5 * (arr + arr.T)
    low = float(np.linalg.eigvalsh(arr)[0])
    if low < -1e-9 * scale:
        raise ValueError(
            f"{name} is not positive semi-definite (smallest eigenvalue {low:.3g}); "
            "a covariance must be PSD"
        )
    if np.trace(arr) <= 0:
        raise ValueError(f"{name} has zero trace (the source has zero variance)")
    return arr


def as_positive(value, name: str, hint: str = "") -> float:
    """Return ``value`` as a finite float > 0, or raise ``ValueError`` naming ``name``."""
    try:
        x = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a positive number{hint}, got {value!r}") from exc
    if not np.isfinite(x) or x <= 0:
        raise ValueError(f"{name} must be a finite number > 0{hint}, got {value!r}")
    return x


def as_rate(rate, name: str = "rate") -> float:
    """Return a finite positive compression rate r = n/d."""
    return as_positive(rate, name, " (r = n/d)")


def as_rates(rates, name: str = "rate") -> np.ndarray:
    """Vector version of :func:`as_rate` (scalars become shape ``()`` arrays)."""
    try:
        arr = np.asarray(rates, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be positive numbers, got {rates!r}") from exc
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        bad = arr[~(np.isfinite(arr) & (arr > 0))].ravel()[0]
        raise ValueError(f"{name} must be finite and > 0 (r = n/d), got {bad!r}")
    return arr


def as_size(value, name: str, *, minimum: int = 1) -> int:
    """Return a positive integer size (d, n, steps, ...)."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    try:
        as_int = int(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}") from exc
    if as_int != value or as_int < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return as_int
