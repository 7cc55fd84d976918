r"""The model x_hat = A sigma(B x): initialisations and parametrisations of the decoder.

Parametrisations (the trained parameters, a dict of arrays):

* ``"untied"``          -- {"A": d x n, "B": n x d}, both trained;
* ``"tied"``            -- {"alpha": scalar, "B": n x d}, A = alpha B^T;
* ``"optimal-decoder"`` -- {"B": n x d}; A = A*(B) = C M^{-1} is the exact optimal decoder
  for the Gaussian source (population method only; see :mod:`.estimators`).

Initialisations of an n x d matrix (rows of norm ~1, so that pre-activations are O(1)):

* ``"gaussian"``   -- iid N(0, 1/d);
* ``"orthogonal"`` -- Haar-random orthonormal rows (n <= d), or orthonormal columns scaled
  by sqrt(n/d) (n > d), so that B^T B = (n/d) I and the mean squared row norm is 1.

Initial values are drawn in float64 with NumPy from ``seed``, so a seed fixes the start
independently of the training dtype.
"""

from __future__ import annotations

import numpy as np

PARAMETRIZATIONS = ("untied", "tied", "optimal-decoder")
INITS = ("gaussian", "orthogonal")


def check_choice(value, accepted, what: str) -> str:
    """Return ``value`` if it is one of ``accepted`` (strings), else a ValueError naming them."""
    if not isinstance(value, str) or value not in accepted:
        raise ValueError(f"unknown {what} {value!r}; accepted: {', '.join(accepted)}")
    return value


def init_matrix(rows: int, cols: int, init: str, rng: np.random.Generator) -> np.ndarray:
    """A rows x cols float64 matrix: iid N(0, 1/cols), or orthonormal rows/columns (see module doc)."""
    check_choice(init, INITS, "init")
    G = rng.standard_normal((rows, cols))
    if init == "gaussian":
        return G / np.sqrt(cols)
    if rows <= cols:  # orthonormal rows
        Q, R = np.linalg.qr(G.T)
        return (Q * np.sign(np.diag(R))).T
    Q, R = np.linalg.qr(G)  # orthonormal columns, scaled: B^T B = (rows/cols) I
    return Q * np.sign(np.diag(R)) * np.sqrt(rows / cols)


def init_params(d: int, n: int, *, parametrization: str, init: str, seed: int) -> dict:
    """Initial float64 parameters for ``parametrization`` (B first from the seed, then A)."""
    check_choice(parametrization, PARAMETRIZATIONS, "parametrization")
    rng = np.random.default_rng(seed)
    params = {"B": init_matrix(n, d, init, rng)}
    if parametrization == "untied":
        params["A"] = init_matrix(n, d, init, rng).T.copy()  # d x n
    elif parametrization == "tied":
        params["alpha"] = np.float64(1.0)  # refined by :func:`tied_scale` once the source is known
    return params


def tied_scale(B: np.ndarray, C: np.ndarray, M: np.ndarray) -> float:
    """alpha* = tr(B C) / tr(B^T M B): the best A = alpha B^T for the risk's moments (C, M)."""
    return float(np.sum(B.T * C) / np.sum((M @ B) * B))


def decoder(params: dict, xp=np):
    """A of the parametrisation (None for "optimal-decoder": the caller solves for it)."""
    if "A" in params:
        return params["A"]
    if "alpha" in params:
        return params["alpha"] * params["B"].T
    return None


def normalise_rows(B, xp=np):
    """B with each row divided by its Euclidean norm."""
    return B / xp.sqrt(xp.sum(B * B, axis=1, keepdims=True))
