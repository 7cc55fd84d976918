r"""Preprocessing with statistics from the training part only.

Steps, in order (each optional one off by default):

1. split: ``perm = default_rng(seed).permutation(N)``; the first ``round(test_fraction N)``
   indices form the test part, the rest the training part (both in permuted order);
2. ``remove_item_mean``: x_i <- x_i - mean_j x_ij (each item's own DC level);
3. ``contrast_normalize``: x_i <- x_i / sqrt(var_j x_ij + eps), where
   eps = ``contrast_eps`` * mean over TRAINING items of var_j x_ij (relative, so it does
   not depend on the units; it keeps flat items from being blown up);
4. centring with the TRAINING mean mu: x <- x - mu;
5. ``whiten`` with C = (1/n_train) sum_i x_i x_i^T = V diag(lambda) V^T (eigenvalues
   descending) and the floored eigenvalues lambda~_k = max(lambda_k, whiten_floor lambda_1):

   * ``"pca"``: x <- diag(lambda~)^{-1/2} V^T x (coordinates on the principal axes);
   * ``"zca"``: x <- V diag(lambda~)^{-1/2} V^T x (the symmetric whitener, same space).

   Directions whose variance is below ``whiten_floor`` times the largest are divided by
   sqrt(whiten_floor lambda_1), not by their own tiny std, so near-null directions
   (noise, quantisation, the item-mean direction after step 2) are not blown up: their
   whitened variance is lambda_k / (whiten_floor lambda_1) < 1 instead of 1;
6. scaling by one scalar c so that the TRAINING part has (1/n_train) sum ||x_i||^2 = d,
   i.e. trace of the training covariance = d (the normalisation of the Gaussian theory).

Every statistic (mean, eps, eigenvectors, c) comes from the training rows; the test rows
go through the same map (:meth:`Split.apply`). The covariance uses 1/n_train so that
trace(cov) equals the mean squared norm of the training rows exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .._validation import as_matrix


@dataclass(frozen=True, eq=False)
class Split:
    """Preprocessed data: ``train``, ``test`` (float64, rows are items), ``cov`` (training
    covariance after preprocessing, d x d, trace d), ``spectrum`` (its eigenvalues,
    descending), ``info`` (JSON-serialisable record of what was done), and the fitted
    transform: ``mean`` (training mean subtracted at step 4), ``whitener`` (d x d matrix W
    applied as x W, or None), ``scale`` (the scalar c), ``contrast_epsilon`` (absolute eps),
    ``train_index``/``test_index`` (rows of the input X).

    Attributes
    ----------
    train, test : ndarray
        Preprocessed training and test rows (n_train x d, n_test x d).
    cov : ndarray
        d x d training covariance after preprocessing (trace d).
    spectrum : ndarray
        Its eigenvalues, descending.
    info : dict
        JSON-serialisable record of the options and sizes.
    mean : ndarray
        Training mean subtracted at step 4.
    whitener : ndarray or None
        d x d matrix W applied as x W.
    scale : float
        The scalar c of step 6.
    contrast_epsilon : float or None
        Absolute eps of step 3 (None when off).
    train_index, test_index : ndarray
        Rows of the input X in each part.
    """

    train: np.ndarray
    test: np.ndarray
    cov: np.ndarray
    spectrum: np.ndarray
    info: dict
    mean: np.ndarray = field(repr=False)
    whitener: np.ndarray | None = field(repr=False)
    scale: float
    contrast_epsilon: float | None
    train_index: np.ndarray = field(repr=False)
    test_index: np.ndarray = field(repr=False)

    @property
    def dim(self) -> int:
        """d, the number of columns."""
        return int(self.train.shape[1])

    def apply(self, X) -> np.ndarray:
        """Apply the fitted map (steps 2-6) to new rows ``X`` (N x d); returns a new array.

        Parameters
        ----------
        X : array_like
            N x d rows, finite.

        Returns
        -------
        ndarray
            N x d float64 preprocessed rows (``X`` is not modified).

        Raises
        ------
        ValueError
            If ``X`` is not a finite 2-D array with d columns.
        """
        Y = np.array(as_matrix(X, "X", shape=(None, self.dim)), dtype=np.float64, copy=True)
        return _transform(Y, self)


def _item_steps(Y: np.ndarray, remove_item_mean: bool, contrast_eps_abs: float | None) -> None:
    """Steps 2-3 in place."""
    if remove_item_mean:
        Y -= Y.mean(axis=1, keepdims=True)
    if contrast_eps_abs is not None:
        Y /= np.sqrt(Y.var(axis=1, keepdims=True) + contrast_eps_abs)


def _transform(Y: np.ndarray, split: Split) -> np.ndarray:
    """Steps 2-6 with the fitted statistics of ``split``; ``Y`` is modified in place."""
    _item_steps(Y, split.info["remove_item_mean"], split.contrast_epsilon)
    Y -= split.mean
    if split.whitener is not None:
        Y = Y @ split.whitener
    Y *= split.scale
    return Y


def _check_options(test_fraction, whiten, whiten_floor, contrast_eps):
    try:
        tf = float(test_fraction)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"test_fraction must be a number in [0, 1), got {test_fraction!r}") from exc
    if not 0.0 <= tf < 1.0:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction!r}")
    if whiten not in (None, "pca", "zca"):
        raise ValueError(f"whiten must be None, 'pca' or 'zca', got {whiten!r}")
    floor = float(whiten_floor)
    if not 0.0 < floor <= 1.0:
        raise ValueError(f"whiten_floor must be in (0, 1] (a fraction of the largest eigenvalue), got {whiten_floor!r}")
    eps = float(contrast_eps)
    if not eps > 0.0 or not np.isfinite(eps):
        raise ValueError(f"contrast_eps must be a finite number > 0, got {contrast_eps!r}")
    return tf, floor, eps


def preprocess(
    X,
    *,
    remove_item_mean: bool = False,
    contrast_normalize: bool = False,
    whiten: str | None = None,
    whiten_floor: float = 1e-3,
    test_fraction: float = 0.2,
    seed: int = 0,
    contrast_eps: float = 1e-2,
) -> Split:
    """Split ``X`` (N x d) and preprocess it with training statistics only (see the module
    docstring for the exact steps and formulas). ``X`` itself is never modified; the
    train and test arrays are the only copies made (all later steps work in place, except
    the whitening product). Returns a :class:`Split`.

    Parameters
    ----------
    X : array_like
        N x d data, finite.
    remove_item_mean : bool, optional
        Step 2 (default False).
    contrast_normalize : bool, optional
        Step 3 (default False).
    whiten : {None, "pca", "zca"}, optional
        Step 5 (default None: no whitening).
    whiten_floor : float, optional
        In (0, 1]: eigenvalue floor relative to the largest (default 1e-3).
    test_fraction : float, optional
        In [0, 1): fraction of rows held out (default 0.2).
    seed : int, optional
        Non-negative seed of the split permutation (default 0).
    contrast_eps : float, optional
        Finite, > 0: eps of step 3 relative to the mean training item variance
        (default 1e-2).

    Returns
    -------
    Split
        The preprocessed parts, their statistics and the fitted map.

    Raises
    ------
    ValueError
        If an option is out of range, fewer than 2 training rows remain, or the training
        data has zero variance where a step needs it.

    Examples
    --------
    >>> X = np.random.default_rng(0).standard_normal((10, 3))
    >>> split = preprocess(X, test_fraction=0.2)
    >>> split.train.shape, split.test.shape, round(float(np.trace(split.cov)), 6)
    ((8, 3), (2, 3), 3.0)
    """
    X = as_matrix(X, "X")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer (the split must be reproducible), got {seed!r}")
    tf, floor, eps_rel = _check_options(test_fraction, whiten, whiten_floor, contrast_eps)
    n, d = X.shape
    n_test = int(round(tf * n))
    if n - n_test < 2:
        raise ValueError(
            f"need at least 2 training items, got {n - n_test} (N = {n}, test_fraction = {tf})"
        )
    perm = np.random.default_rng(seed).permutation(n)
    test_index, train_index = perm[:n_test], perm[n_test:]
    train, test = X[train_index], X[test_index]  # fancy indexing: the two copies

    # 2-3: item-level steps; eps from the training items (an item's variance does not
    # depend on whether its mean was removed, so it can be taken before step 2)
    eps_abs = None
    if contrast_normalize:
        mean_var = float(train.var(axis=1).mean())
        if mean_var <= 0.0:
            raise ValueError("contrast_normalize: every training item is constant (zero variance)")
        eps_abs = eps_rel * mean_var
    _item_steps(train, remove_item_mean, eps_abs)
    # 4: centre with the training mean
    mean = train.mean(axis=0)
    train -= mean
    cov = train.T @ train
    cov /= n - n_test
    # 5: whitening
    whitener, n_clamped = None, 0
    if whiten is not None:
        lam, V = np.linalg.eigh(cov)
        lam, V = lam[::-1], V[:, ::-1]
        top = float(lam[0])
        if top <= 0.0:
            raise ValueError("cannot whiten: the training covariance is zero")
        floored = np.maximum(lam, floor * top)
        n_clamped = int(np.sum(lam < floor * top))
        whitener = V / np.sqrt(floored)  # PCA: x -> x V diag(floored)^-1/2
        if whiten == "zca":
            whitener = whitener @ V.T  # V diag^-1/2 V^T (symmetric)
        train = train @ whitener
        cov = whitener.T @ cov @ whitener
        cov = 0.5 * (cov + cov.T)
    # 6: one scalar so that trace(training covariance) = d
    trace = float(np.trace(cov))
    if trace <= 0.0:
        raise ValueError("the training part has zero variance after preprocessing; nothing to scale")
    scale = float(np.sqrt(d / trace))
    train *= scale
    cov *= scale * scale
    spectrum = np.clip(np.linalg.eigvalsh(cov)[::-1], 0.0, None)

    info = {
        "remove_item_mean": bool(remove_item_mean),
        "contrast_normalize": bool(contrast_normalize),
        "contrast_eps": eps_rel if contrast_normalize else None,
        "contrast_eps_absolute": eps_abs,
        "whiten": whiten,
        "whiten_floor": floor if whiten is not None else None,
        "whiten_clamped": n_clamped,
        "test_fraction": tf,
        "seed": int(seed),
        "scale": scale,
        "n_train": int(n - n_test),
        "n_test": int(n_test),
        "d": int(d),
    }
    split = Split(
        train=train, test=test, cov=cov, spectrum=spectrum, info=info, mean=mean,
        whitener=whitener, scale=scale, contrast_epsilon=eps_abs,
        train_index=train_index, test_index=test_index,
    )
    if n_test:
        split = replace(split, test=_transform(test, split))
    return split


def prepare(spec: str, *, seed: int = 0, max_items: int | None = None, **preprocess_kwargs):
    """``load_dataset(spec, seed=seed, max_items=max_items)`` then ``preprocess(X, seed=seed,
    **preprocess_kwargs)``; returns ``(Dataset, Split)`` with the data set's name, item shape
    and source added to ``Split.info``.

    Parameters
    ----------
    spec : str
        Data set spec (see :func:`~twolayer.data.loaders.load_dataset`).
    seed : int, optional
        Seed of both the patch sampler and the split (default 0).
    max_items : int, optional
        Number of items to load (default: all).
    **preprocess_kwargs
        Passed to :func:`preprocess`.

    Returns
    -------
    data : Dataset
        The raw data set.
    split : Split
        Its preprocessed version; ``info`` also holds ``dataset``, ``spec``,
        ``item_shape`` and ``source``.

    Raises
    ------
    ValueError
        As :func:`~twolayer.data.loaders.load_dataset` (including ``DatasetError``) and
        :func:`preprocess`.
    """
    from .loaders import load_dataset

    data = load_dataset(spec, seed=seed, max_items=max_items)
    split = preprocess(data.X, seed=seed, **preprocess_kwargs)
    info = {**split.info, "dataset": data.name, "spec": spec, "item_shape": list(data.item_shape),
            "source": data.source}
    return data, replace(split, info=info)
