r"""The model x_hat = A sigma(B x): initialisations and parametrisations of the decoder.

Parametrisations (the trained parameters, a dict of arrays):

* ``"untied"``          -- {"A": d x n, "B": n x d}, both trained;
* ``"tied"``            -- {"alpha": scalar, "B": n x d}, A = alpha B^T;
* ``"optimal-decoder"`` -- {"B": n x d}; A = A*(B) = C M^{-1} is the exact optimal decoder
  for the Gaussian source (population method only; see :mod:`.estimators`);
* ``"skip"``            -- {"A": d x n, "B": n x d, "b": scalar}, x_hat = b x~ + A sigma(B x~): a trainable
  skip connection from the (noisy) input, as in the denoising autoencoders of Cui & Zdeborova
  (NeurIPS 2023); b starts at 0. The skip passes x~ uncompressed, so it is a denoiser, not a code.

Initialisations of an n x d matrix (rows of norm ~1, so that pre-activations are O(1)):

* ``"gaussian"``   -- iid N(0, 1/d);
* ``"orthogonal"`` -- Haar-random orthonormal rows (n <= d), or orthonormal columns scaled
  by sqrt(n/d) (n > d), so that B^T B = (n/d) I and the mean squared row norm is 1;
* ``"flat"``       -- orthonormal rows with every entry +-1/sqrt(d), rows of a randomised
  Hadamard matrix (:func:`twolayer.theory.structured.flat_frame`; d a power of 2, n <= d): the
  orthonormal start whose projections of i.i.d. non-Gaussian data are closest to Gaussian
  (theory/structured.md, "Where the finite-d excess comes from");
* ``"theory"``     -- not random: the theory encoder for the source's covariance (Adam on the exact
  Gaussian risk) with its Gaussian optimal decoder; made by
  :func:`twolayer.simulations.training.train`, which has the source.

Both are multiplied by ``init_scale`` (eps: B(0) = eps G / sqrt(d) for "gaussian"). The
"untied" decoder starts from its own draw (``start="independent"``) or from A(0) = B(0)^T
(``start="tied"``: the balanced start of the exact linear learning curves,
:mod:`twolayer.theory.linear_dynamics`).

Initial values are drawn in float64 with NumPy from ``seed``, so a seed fixes the start
independently of the training dtype.
"""

from __future__ import annotations

import numpy as np

PARAMETRIZATIONS = ("untied", "tied", "optimal-decoder", "skip")
#: random starts (:func:`init_matrix`), and "theory": the theory encoder, built by
#: :func:`twolayer.simulations.training.train` from the source's covariance.
RANDOM_INITS = ("gaussian", "orthogonal", "flat")
INITS = RANDOM_INITS + ("theory",)
#: parametrisations that "theory" can start (B and, for "untied", A = A*(B)).
THEORY_INIT_PARAMETRIZATIONS = ("untied", "optimal-decoder")
#: how the decoder of the "untied" parametrisation starts: drawn on its own, or A(0) = B(0)^T.
STARTS = ("independent", "tied")


def check_choice(value, accepted, what: str) -> str:
    """Return ``value`` if it is one of ``accepted`` (strings), else a ValueError naming them.

    Parameters
    ----------
    value : object
        The choice to check.
    accepted : sequence of str
        The accepted strings.
    what : str
        What is chosen, for the error message.

    Returns
    -------
    str
        ``value``.

    Raises
    ------
    ValueError
        If ``value`` is not a string in ``accepted``.

    Examples
    --------
    >>> check_choice("tied", PARAMETRIZATIONS, "parametrization")
    'tied'
    """
    if not isinstance(value, str) or value not in accepted:
        raise ValueError(f"unknown {what} {value!r}; accepted: {', '.join(accepted)}")
    return value


def init_matrix(rows: int, cols: int, init: str, rng: np.random.Generator) -> np.ndarray:
    """A rows x cols float64 matrix: iid N(0, 1/cols), or orthonormal rows/columns (see module doc).

    Parameters
    ----------
    rows, cols : int
        Shape.
    init : {"gaussian", "orthogonal", "flat"}
        Initialisation.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    ndarray
        rows x cols float64 matrix.

    Raises
    ------
    ValueError
        If ``init`` is not accepted.
    """
    if init == "theory":
        raise ValueError("init theory is the theory encoder of the source, not a random matrix: train() builds it "
                         "(method population or samples, parametrization untied or optimal-decoder)")
    check_choice(init, RANDOM_INITS, "init")
    if init == "flat":
        from ..theory.structured import flat_frame

        if cols & (cols - 1) or rows > cols:
            raise ValueError(f"init flat needs rows of a Hadamard matrix: d a power of 2 and n <= d; got a "
                             f"{rows} x {cols} matrix (use init orthogonal)")
        return flat_frame(cols, rows, seed=rng)
    G = rng.standard_normal((rows, cols))
    if init == "gaussian":
        return G / np.sqrt(cols)
    if rows <= cols:  # orthonormal rows
        Q, R = np.linalg.qr(G.T)
        return (Q * np.sign(np.diag(R))).T
    Q, R = np.linalg.qr(G)  # orthonormal columns, scaled: B^T B = (rows/cols) I
    return Q * np.sign(np.diag(R)) * np.sqrt(rows / cols)


def init_params(d: int, n: int, *, parametrization: str, init: str, seed: int, init_scale: float = 1.0,
                start: str = "independent") -> dict:
    """Initial float64 parameters for ``parametrization`` (B first from the seed, then A).

    Parameters
    ----------
    d : int
        Input dimension.
    n : int
        Code size.
    parametrization : {"untied", "tied", "optimal-decoder"}
        Which parameters to create.
    init : {"gaussian", "orthogonal", "flat"}
        Initialisation of B (and A for "untied").
    seed : int
        Seed of ``numpy.random.default_rng``.
    init_scale : float, optional
        eps > 0, multiplying B(0) and A(0) (default 1).
    start : {"independent", "tied"}, optional
        For "untied": A(0) drawn on its own (default) or A(0) = B(0)^T.

    Returns
    -------
    dict
        ``{"B": n x d}``, plus ``"A"`` (d x n) for "untied", ``"A"`` and ``"b"`` (0.0) for "skip", or
        ``"alpha"`` (1.0) for "tied".

    Raises
    ------
    ValueError
        If ``parametrization`` or ``init`` is not accepted.

    Examples
    --------
    >>> params = init_params(4, 2, parametrization="untied", init="gaussian", seed=0)
    >>> {k: v.shape for k, v in params.items()}
    {'B': (2, 4), 'A': (4, 2)}
    """
    check_choice(parametrization, PARAMETRIZATIONS, "parametrization")
    check_choice(start, STARTS, "start")
    if not np.isfinite(init_scale) or init_scale <= 0:
        raise ValueError(f"init_scale must be a finite number > 0, got {init_scale!r}")
    rng = np.random.default_rng(seed)
    params = {"B": init_scale * init_matrix(n, d, init, rng)}
    if parametrization in ("untied", "skip"):
        A = params["B"] if start == "tied" else init_scale * init_matrix(n, d, init, rng)
        params["A"] = A.T.copy()  # d x n
    if parametrization == "skip":
        params["b"] = np.float64(0.0)
    elif parametrization == "tied":
        params["alpha"] = np.float64(1.0)  # refined by :func:`tied_scale` once the source is known
    return params


def tied_scale(B: np.ndarray, C: np.ndarray, M: np.ndarray) -> float:
    """alpha* = tr(B C) / tr(B^T M B): the best A = alpha B^T for the risk's moments (C, M).

    Parameters
    ----------
    B : ndarray
        n x d encoder.
    C : ndarray
        d x n matrix E[x sigma(Bx)^T].
    M : ndarray
        n x n kernel E[sigma(Bx) sigma(Bx)^T].

    Returns
    -------
    float
        alpha*.
    """
    return float(np.sum(B.T * C) / np.sum((M @ B) * B))


def decoder(params: dict, xp=np):
    """A of the parametrisation (None for "optimal-decoder": the caller solves for it).

    Parameters
    ----------
    params : dict
        Parameters as made by :func:`init_params`.
    xp : module, optional
        Array namespace (unused; default ``numpy``).

    Returns
    -------
    array or None
        ``params["A"]``, ``alpha B^T``, or None.
    """
    if "A" in params:
        return params["A"]
    if "alpha" in params:
        return params["alpha"] * params["B"].T
    return None


def normalise_rows(B, xp=np):
    """B with each row divided by its Euclidean norm.

    Parameters
    ----------
    B : array
        n x d matrix with non-zero rows.
    xp : module, optional
        Array namespace, ``numpy`` (default) or ``jax.numpy``.

    Returns
    -------
    array
        n x d matrix with unit rows.
    """
    return B / xp.sqrt(xp.sum(B * B, axis=1, keepdims=True))
