r"""Spectra of Gaussian sources given as text: ``isotropic``, ``powerlaw:ALPHA`` or ``FILE.npy``.

One reader for the command line, the sweep specs and the Python API:

* ``isotropic`` -- the identity covariance (no array: the exact isotropic formulas apply);
* ``powerlaw:ALPHA`` -- eigenvalues lambda_k = k^-ALPHA, k = 1..d (ALPHA >= 0);
* a ``.npy`` file -- a 1-D vector of eigenvalues or a 2-D covariance matrix.
"""

from __future__ import annotations

import math
import os

import numpy as np

#: accepted forms, for error messages and help texts.
ACCEPTS = "isotropic, powerlaw:ALPHA (eigenvalues k^-ALPHA), or a .npy file of eigenvalues (1-D) or a covariance (2-D)"


def parse_spectrum(text) -> tuple[str, float | None]:
    """Split a spectrum string into ``("isotropic", None)``, ``("powerlaw", alpha)`` or ``("file", None)``.

    Parameters
    ----------
    text : str
        The spectrum as written by the user (case and surrounding spaces ignored).

    Returns
    -------
    (kind, alpha) : tuple
        ``alpha`` is the power-law exponent, None for the other kinds.

    Raises
    ------
    ValueError
        Naming the accepted forms. A ``.npy`` path is recognised by its suffix only; it is
        opened by :func:`load_spectrum`.

    Examples
    --------
    >>> parse_spectrum(" Isotropic "), parse_spectrum("powerlaw:1.5"), parse_spectrum("eig.npy")
    (('isotropic', None), ('powerlaw', 1.5), ('file', None))
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"expected {ACCEPTS}; got {text!r}")
    s = text.strip()
    if s.lower().endswith(".npy"):
        return "file", None
    kind, sep, arg = s.partition(":")
    kind = kind.strip().lower()
    if kind == "isotropic" and not sep:
        return "isotropic", None
    if kind == "powerlaw" and sep:
        try:
            alpha = float(arg)
        except ValueError:
            alpha = float("nan")
        if not math.isfinite(alpha) or alpha < 0:
            raise ValueError(f"powerlaw:ALPHA needs a finite ALPHA >= 0, got {arg!r} in {text!r}")
        return "powerlaw", alpha
    raise ValueError(f"expected {ACCEPTS}; got {text!r}")


def normalise_spectrum(text) -> str:
    """One spelling per spectrum (``powerlaw:1.0`` -> ``powerlaw:1``, ``Isotropic`` -> ``isotropic``).

    A file must exist (paths are relative to the current directory). Raises ``ValueError``.

    Parameters
    ----------
    text : str
        ``isotropic``, ``powerlaw:ALPHA`` or the path of a ``.npy`` file (``~`` expanded for the check).

    Returns
    -------
    str
        ``isotropic``, ``powerlaw:ALPHA`` (an integral ALPHA without ``.0``) or the path as given, stripped.

    Raises
    ------
    ValueError
        An unknown form (see :func:`parse_spectrum`) or a file that does not exist (its contents are not read).

    Examples
    --------
    >>> normalise_spectrum("powerlaw:1.0"), normalise_spectrum("Isotropic")
    ('powerlaw:1', 'isotropic')
    """
    kind, alpha = parse_spectrum(text)
    s = text.strip()
    if kind == "file":
        if not os.path.isfile(os.path.expanduser(s)):
            raise ValueError(f"spectrum file {s!r} not found (paths are relative to the current directory); "
                             f"expected {ACCEPTS}")
        return s
    if kind == "powerlaw":
        return f"powerlaw:{int(alpha) if alpha.is_integer() else alpha!r}"
    return kind


def load_spectrum(text, d: int | None = None) -> tuple[str, np.ndarray | None]:
    """Resolve a spectrum string -> ``("spectrum", eigenvalues)``, ``("cov", matrix)`` or ``("spectrum", None)``.

    Parameters
    ----------
    text : str
        ``isotropic``, ``powerlaw:ALPHA`` or the path of a ``.npy`` file.
    d : int or None
        The input dimension. Needed for ``powerlaw``; for a file, the file's size must match
        it (None: take the file's size).

    Returns
    -------
    (name, array) : tuple
        ``name`` is the :func:`twolayer.simulations.train` keyword the array goes to; the array
        is None for ``isotropic`` (the identity). ``powerlaw``: float64 eigenvalues k^-ALPHA,
        k = 1..d; a 1-D file: checked by :func:`~twolayer._validation.as_spectrum` (tiny negatives
        set to 0), in the file's order; a 2-D file: checked and symmetrised by
        :func:`~twolayer._validation.as_covariance`.

    Raises
    ------
    ValueError
        An unknown form, ``powerlaw`` without ``d``, a missing or unreadable file, an array that is
        neither 1-D nor square 2-D or is not a valid spectrum or covariance, or a size that does not match ``d``.

    Examples
    --------
    >>> load_spectrum("powerlaw:2", 3)[1].tolist()
    [1.0, 0.25, 0.1111111111111111]
    """
    from ._validation import as_covariance, as_spectrum
    from .data.formats import is_npy

    kind, alpha = parse_spectrum(text)
    if kind == "isotropic":
        return "spectrum", None
    if kind == "powerlaw":
        if d is None:
            raise ValueError(f"spectrum {text!r} needs the input dimension d (give --d)")
        return "spectrum", np.arange(1, d + 1, dtype=np.float64) ** (-alpha)
    path = os.path.expanduser(text.strip())
    if not os.path.isfile(path):
        raise ValueError(f"spectrum file {text!r} not found (expected a .npy file of eigenvalues or a covariance)")
    if not is_npy(path):
        raise ValueError(f"spectrum file {text!r} is not a .npy file (it does not start with the .npy signature); "
                         "expected eigenvalues or a covariance saved with numpy.save")
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as exc:  # numpy raises several types for a bad file
        raise ValueError(f"could not read {text!r} as a .npy array ({exc}); save one with numpy.save") from None
    if arr.ndim == 1:
        if d is not None and arr.size != d:
            raise ValueError(f"spectrum file {text!r} has {arr.size} eigenvalues but d = {d}; they must match")
        return "spectrum", as_spectrum(arr, name=f"spectrum in {text}")
    if arr.ndim == 2 and arr.shape[0] == arr.shape[1]:
        if d is not None and arr.shape[0] != d:
            raise ValueError(f"spectrum file {text!r} holds a {arr.shape[0]} x {arr.shape[0]} covariance but d = {d}")
        return "cov", as_covariance(arr, name=f"covariance in {text}")
    raise ValueError(
        f"{text!r} holds an array of shape {arr.shape}; expected a 1-D vector of eigenvalues or a square covariance"
    )


def eigenvalues(text, d: int | None = None) -> np.ndarray | None:
    """The eigenvalues (descending) of a spectrum string, None for ``isotropic``.

    Parameters
    ----------
    text : str
        ``isotropic``, ``powerlaw:ALPHA`` or the path of a ``.npy`` file (see :func:`load_spectrum`).
    d : int or None
        The input dimension, as for :func:`load_spectrum`.

    Returns
    -------
    ndarray or None
        None for ``isotropic``; otherwise the eigenvalues in descending order (a covariance's
        clipped at 0).

    Raises
    ------
    ValueError
        As :func:`load_spectrum`.

    Examples
    --------
    >>> eigenvalues("powerlaw:1", 4).tolist(), eigenvalues("isotropic") is None
    ([1.0, 0.5, 0.3333333333333333, 0.25], True)
    """
    name, arr = load_spectrum(text, d)
    if arr is None:
        return None
    if name == "spectrum":
        return np.sort(arr)[::-1]
    return np.linalg.eigvalsh(arr)[::-1].clip(0.0)
