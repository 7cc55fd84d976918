"""``load_dataset(spec)``: one entry point for every data set, returning raw values.

Nothing is fetched from the network: the bundled data sets come from scikit-learn and
scikit-image, the others from files you downloaded (see :data:`errors.WHERE_TO_GET`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from . import builtin, formats
from .errors import DatasetError, where_to_get
from .specs import parse_spec

#: Names tried, in order, when an MNIST-style PATH is a folder (training images only; pass
#: the t10k file itself to load the test images). The dotted variant is used by some mirrors.
IDX_TRAIN_NAMES = (
    "train-images-idx3-ubyte",
    "train-images-idx3-ubyte.gz",
    "train-images.idx3-ubyte",
    "train-images.idx3-ubyte.gz",
)


@dataclass(frozen=True, eq=False)
class Dataset:
    """Raw data: ``X`` (N x d float64, not preprocessed), ``name``, ``item_shape``, ``source``.

    ``X[i].reshape(item_shape)`` is item ``i`` (an image for the image data sets).

    Attributes
    ----------
    X : ndarray
        N x d float64 raw values, one item per row.
    name : str
        Short name (``"digits"``, ``"patches16"``, the file stem, ...).
    item_shape : tuple
        Shape of one item.
    source : str
        Where the values came from.
    """

    X: np.ndarray
    name: str
    item_shape: tuple
    source: str

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, X: {self.X.shape[0]} x {self.X.shape[1]}, "
            f"item_shape={self.item_shape}, source={self.source!r})"
        )


def _resolve_idx(path: str, kind: str) -> str:
    """The images file for an MNIST-style PATH (a file, or a folder with the standard names)."""
    if not os.path.isdir(path):
        return path
    for name in IDX_TRAIN_NAMES:
        candidate = os.path.join(path, name)
        if os.path.isfile(candidate):
            return candidate
    test_files = [n for n in ("t10k-images-idx3-ubyte", "t10k-images-idx3-ubyte.gz") if os.path.isfile(os.path.join(path, n))]
    hint = f" (found {test_files[0]}: pass that file itself to load the test images)" if test_files else ""
    raise DatasetError(
        f"{kind}: folder {path!r} has no training images file; expected one of "
        f"{', '.join(IDX_TRAIN_NAMES)}{hint}." + where_to_get(kind)
    )


def _check_max_items(max_items):
    if max_items is None:
        return None
    if isinstance(max_items, bool) or not isinstance(max_items, (int, np.integer)) or max_items < 1:
        raise ValueError(f"max_items must be a positive integer or None, got {max_items!r}")
    return int(max_items)


def load_dataset(spec: str, *, seed: int = 0, max_items: int | None = None) -> Dataset:
    """Load the data set named by ``spec`` (see :mod:`twolayer.data.specs` for the grammar).

    ``max_items`` keeps the first items only (file order; for the file formats only those
    are decoded). ``seed`` drives the patch sampler; the other data sets are read in file
    order and ignore it. ``gaussian`` is refused: it is the simulations' synthetic source.
    Raises :class:`DatasetError` (a ``ValueError``) for a bad spec or an unusable file.

    Parameters
    ----------
    spec : str
        Data set spec, e.g. ``"digits"``, ``"patches:16:5000"``, ``"mnist:PATH"``.
    seed : int, optional
        Non-negative seed of the patch sampler (default 0).
    max_items : int, optional
        Positive number of items to keep (default: all).

    Returns
    -------
    Dataset
        The raw values and their description.

    Raises
    ------
    DatasetError
        If the spec is malformed, is ``gaussian``, or names an unusable file.
    ValueError
        If ``seed`` or ``max_items`` is not an integer of the accepted range.

    Examples
    --------
    >>> data = load_dataset("digits")
    >>> data.X.shape, data.item_shape
    ((1797, 64), (8, 8))
    """
    kind, args = parse_spec(spec)
    max_items = _check_max_items(max_items)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if kind == "gaussian":
        raise DatasetError(
            "gaussian is a synthetic source handled by the simulations (use "
            "`twolayer train --data gaussian`); load_dataset only loads data sets"
        )
    if kind == "digits":
        X, shape, source = builtin.load_digits_array()
        name = "digits"
    elif kind == "lfw":
        X, shape, source = builtin.load_lfw_array()
        name = "lfw"
    elif kind == "patches":
        count = args["count"] if max_items is None else min(args["count"], max_items)
        X, shape, source = builtin.load_patches_array(args["size"], count, seed=seed)
        name = f"patches{args['size']}"
    elif kind in ("mnist", "fashion-mnist"):
        path = _resolve_idx(args["path"], kind)
        X, shape, source = formats.read_idx(path, kind=kind, max_items=max_items)
        name = kind
    elif kind in ("cifar10", "cifar10-rgb"):
        color = "rgb" if kind == "cifar10-rgb" else "gray"
        X, shape, source = formats.read_cifar10(args["path"], color=color, kind=kind, max_items=max_items)
        name = kind
    elif kind == "npy":
        X, shape, source = formats.read_npy(args["path"], max_items=max_items)
        name = os.path.splitext(os.path.basename(args["path"]))[0] or "npy"
    elif kind == "npz":
        X, shape, source = formats.read_npz(args["path"], args["key"], max_items=max_items)
        name = os.path.splitext(os.path.basename(args["path"]))[0] or "npz"
    else:  # pragma: no cover - parse_spec only returns the kinds above
        raise DatasetError(f"unhandled data spec kind {kind!r}")
    if max_items is not None and X.shape[0] > max_items:
        X = X[:max_items].copy()
    return Dataset(X=X, name=name, item_shape=tuple(shape), source=source)
