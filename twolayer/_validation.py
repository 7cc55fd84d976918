"""Input checks shared by the theory, the simulations and the command line.

Every public function validates its arguments here, so that bad input gives one
clear ``ValueError`` that says what was wrong and what is accepted (the CLI turns
it into a one-line message and a non-zero exit).
"""

from __future__ import annotations

import numpy as np

#: the largest accepted rate r = n/d: above it the gap to Shannon's limit (6.02 dB per bit of rate)
#: and n = r d leave the range of float64 long before any run or formula could use them.
MAX_RATE = 1e300


def _numeric(arr: np.ndarray, name: str, what: str) -> None:
    """ValueError when ``arr`` holds text, bytes, objects or records instead of numbers (NumPy would
    say only that it cannot convert them, or convert numeric text silently), or complex numbers."""
    if arr.dtype.kind not in "biufc":
        held = {"U": "text", "S": "bytes", "O": "Python objects", "V": "records"}.get(arr.dtype.kind, "dates or times")
        raise ValueError(f"{name} holds {held} (dtype {arr.dtype}), not numbers; expected {what}")
    _not_complex(arr, name, what)


def _not_complex(x, name: str, what: str) -> None:
    """ValueError when ``x`` (an array, or anything NumPy reads as one) holds complex numbers.

    NumPy would cast them to float64 with only a ``ComplexWarning``, dropping the imaginary parts; every
    quantity here (covariances, encoders, decoders, rates, data) is real, so they are refused, even
    when every imaginary part is 0.
    """
    dtype = getattr(x, "dtype", None)
    if dtype is None and isinstance(x, (list, tuple, complex)):
        try:
            dtype = np.asarray(x).dtype
        except (TypeError, ValueError):  # ragged or mixed: the conversion that follows says what is wrong
            return
    if dtype is not None and np.dtype(dtype).kind == "c":
        raise ValueError(
            f"{name} holds complex numbers (dtype {np.dtype(dtype)}); expected {what}: use its real part "
            "(x.real) if the imaginary parts are meant to be 0"
        )


def _scale_fits(arr: np.ndarray, name: str) -> None:
    """ValueError when the squared norm of a row of the finite matrix ``arr`` overflows float64."""
    with np.errstate(over="ignore"):
        squares = np.einsum("ij,ij->i", arr, arr)
    if not np.all(np.isfinite(squares)):
        largest = float(np.max(np.abs(arr)))
        limit = float(np.sqrt(np.finfo(np.float64).max / arr.shape[1]))
        raise ValueError(
            f"{name}: its scale overflows float64 (entries as large as {largest:.3g} square to inf, and so would "
            f"products such as B Sigma B^T); entries below about {limit:.2g} are accepted: rescale it"
        )


def _check_max_rate(largest: float, name: str) -> None:
    if largest > MAX_RATE:
        raise ValueError(f"{name} must be at most {MAX_RATE:g} (r = n/d), got {largest:g}")


def as_matrix(x, name: str, *, shape: tuple | None = None) -> np.ndarray:
    """Return ``x`` as a finite float64 2-D array, or raise ``ValueError``.

    Parameters
    ----------
    x : array_like
        The matrix.
    name : str
        How the messages name it.
    shape : tuple, optional
        Expected shape; an entry None accepts any size on that axis (default: any shape).

    Returns
    -------
    ndarray
        ``numpy.asarray(x, dtype=float64)`` (not copied when already such an array).

    Raises
    ------
    ValueError
        If ``x`` is not numeric (or is complex), not 2-D, empty, of the wrong shape, or has NaN or inf entries.

    Examples
    --------
    >>> as_matrix([[1, 2], [3, 4]], "B", shape=(None, 2)).dtype
    dtype('float64')
    """
    if isinstance(x, np.ndarray):
        _numeric(x, name, "a real matrix")
    _not_complex(x, name, "a real matrix")
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
    _scale_fits(arr, name)
    return arr


def as_spectrum(spectrum, name: str = "spectrum") -> np.ndarray:
    """Return eigenvalues as a finite, non-negative float64 vector with a positive sum.

    Parameters
    ----------
    spectrum : array_like
        A non-empty 1-D vector of eigenvalues (any order).
    name : str
        How the messages name it (default "spectrum").

    Returns
    -------
    ndarray
        A float64 copy, in the given order, with negatives down to -1e-12 max(1, max |lambda|) set to 0.

    Raises
    ------
    ValueError
        If it is not numeric (or is complex), not a non-empty 1-D vector, has NaN or inf, a more negative entry,
        or a zero sum.

    Examples
    --------
    >>> as_spectrum([2, 1, -1e-15]).tolist()
    [2.0, 1.0, 0.0]
    """
    if isinstance(spectrum, np.ndarray):
        _numeric(spectrum, name, "a vector of eigenvalues")
    _not_complex(spectrum, name, "a vector of real eigenvalues")
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
    with np.errstate(over="ignore"):
        total = arr.sum()
    if not np.isfinite(total):
        raise ValueError(
            f"{name} has eigenvalues as large as {arr.max():.3g}, whose sum overflows float64 (about 1.8e+308); "
            "rescale them (every risk is relative to their sum, so dividing by the largest changes nothing)"
        )
    if total <= 0:
        raise ValueError(f"{name} must have a positive sum (the source has zero variance)")
    return arr


def as_covariance(cov, d: int | None = None, name: str = "cov") -> np.ndarray:
    """Return a symmetric positive semi-definite float64 ``d x d`` matrix, or raise.

    Parameters
    ----------
    cov : array_like
        The covariance matrix (see :func:`as_matrix`).
    d : int, optional
        The required size (default: any).
    name : str
        How the messages name it (default "cov").

    Returns
    -------
    ndarray
        (cov + cov^T) / 2 (eigenvalues are not clipped).

    Raises
    ------
    ValueError
        If it is not a finite square matrix (of size ``d``), is not symmetric (to about 1e-8 relative),
        has an eigenvalue below -1e-9 max(1, max |entry|), or has a trace <= 0.

    Examples
    --------
    >>> as_covariance([[2, 1], [1, 2]], d=2).shape
    (2, 2)
    """
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
    """Return ``value`` as a finite float > 0, or raise ``ValueError`` naming ``name``.

    Parameters
    ----------
    value : object
        Anything ``float()`` accepts.
    name : str
        How the messages name it.
    hint : str
        Text added after the expected form in the messages (default none).

    Returns
    -------
    float
        ``float(value)``.

    Raises
    ------
    ValueError
        If ``float(value)`` fails, or the number is not finite or is <= 0.

    Examples
    --------
    >>> as_positive("2.5", "lr")
    2.5
    """
    try:
        x = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a positive number{hint}, got {value!r}") from exc
    if not np.isfinite(x) or x <= 0:
        raise ValueError(f"{name} must be a finite number > 0{hint}, got {value!r}")
    return x


def as_nonnegative(value, name: str) -> float:
    """Return ``value`` as a finite float >= 0, or raise ``ValueError`` naming ``name``.

    Examples
    --------
    >>> as_nonnegative("0", "weight_decay")
    0.0
    """
    try:
        x = float(value)
    except (TypeError, ValueError):
        x = float("nan")
    if not np.isfinite(x) or x < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return x


def as_rate(rate, name: str = "rate") -> float:
    """Return a finite positive compression rate r = n/d.

    Parameters
    ----------
    rate : object
        Anything ``float()`` accepts.
    name : str
        How the messages name it (default "rate").

    Returns
    -------
    float
        ``float(rate)``.

    Raises
    ------
    ValueError
        If it is not a finite number > 0 (see :func:`as_positive`) or is above :data:`MAX_RATE`.
    """
    r = as_positive(rate, name, " (r = n/d)")
    _check_max_rate(r, name)
    return r


def as_rates(rates, name: str = "rate") -> np.ndarray:
    """Vector version of :func:`as_rate` (scalars become shape ``()`` arrays).

    Parameters
    ----------
    rates : float or array_like
        One or more rates, any shape.
    name : str
        How the messages name them (default "rate").

    Returns
    -------
    ndarray
        float64, the shape of ``rates``.

    Raises
    ------
    ValueError
        If ``rates`` is not numeric (or is complex), is empty, or has an entry that is not finite, is <= 0 or is above
        :data:`MAX_RATE`.

    Examples
    --------
    >>> as_rates([0.5, 1]).tolist(), as_rates(2).shape
    ([0.5, 1.0], ())
    """
    _not_complex(rates, name, "positive real numbers (r = n/d)")
    try:
        arr = np.asarray(rates, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be positive numbers, got {rates!r}") from exc
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        bad = arr[~(np.isfinite(arr) & (arr > 0))].ravel()[0]
        raise ValueError(f"{name} must be finite and > 0 (r = n/d), got {bad!r}")
    _check_max_rate(float(arr.max()), name)
    return arr


def as_size(value, name: str, *, minimum: int = 1) -> int:
    """Return a positive integer size (d, n, steps, ...).

    Parameters
    ----------
    value : object
        An integer, or a number equal to one (``4.0`` is accepted); ``bool`` and strings are refused.
    name : str
        How the messages name it.
    minimum : int
        The smallest accepted value (default 1).

    Returns
    -------
    int
        ``int(value)``.

    Raises
    ------
    ValueError
        If ``value`` is a bool, not convertible by ``int``, not equal to its integer, or below ``minimum``.

    Examples
    --------
    >>> as_size(4.0, "d"), as_size(0, "seed", minimum=0)
    (4, 0)
    """
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    try:
        as_int = int(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}") from exc
    if as_int != value or as_int < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return as_int
