"""Data sets bundled with scikit-learn and scikit-image (no download, no network).

* ``digits``: sklearn.datasets.load_digits, 1797 images of 8 x 8, values 0..16.
* ``lfw``: skimage.data.lfw_subset, 200 faces of 25 x 25, values in [0, 1].
* ``patches:P[:N]``: P x P patches of the grayscale versions of :data:`PATCH_IMAGES`.
"""

from __future__ import annotations

import functools

import numpy as np

from .errors import DatasetError

#: Natural photographs shipped inside scikit-image (loaded offline). hubble_deep_field is
#: left out on purpose: it is mostly black sky, so its patches are nearly all constant.
PATCH_IMAGES = (
    "camera", "moon", "coins", "clock", "brick", "grass", "gravel",
    "astronaut", "chelsea", "coffee", "rocket",
)


def load_digits_array():
    """scikit-learn's handwritten digits as ``(X 1797 x 64 float64, (8, 8), source)``.

    Returns
    -------
    X : ndarray
        1797 x 64 float64 raw pixel values in 0..16.
    item_shape : tuple
        ``(8, 8)``.
    source : str
        Where the data came from.
    """
    from sklearn.datasets import load_digits

    X = np.asarray(load_digits().data, dtype=np.float64)
    return X, (8, 8), "scikit-learn load_digits (bundled, values 0..16)"


def load_lfw_array():
    """scikit-image's lfw_subset as ``(X 200 x 625 float64, (25, 25), source)``.

    Returns
    -------
    X : ndarray
        200 x 625 float64 values in [0, 1].
    item_shape : tuple
        ``(25, 25)``.
    source : str
        Where the data came from.
    """
    from skimage import data

    faces = np.asarray(data.lfw_subset(), dtype=np.float64)
    return faces.reshape(faces.shape[0], -1), tuple(faces.shape[1:]), "scikit-image data.lfw_subset (bundled)"


@functools.lru_cache(maxsize=1)
def gray_photographs() -> tuple:
    """The :data:`PATCH_IMAGES` as read-only float64 gray images in [0, 1].

    Gray uint8 images are divided by 255; colour ones go through skimage.color.rgb2gray
    (0.2125 R + 0.7154 G + 0.0721 B on values scaled to [0, 1]).

    Returns
    -------
    tuple of ndarray
        One read-only 2-D float64 image per name in :data:`PATCH_IMAGES`, in that order
        (cached: the same arrays on every call).
    """
    from skimage import color, data

    images = []
    for name in PATCH_IMAGES:
        img = getattr(data, name)()
        if img.ndim == 3:
            img = color.rgb2gray(img[..., :3])
        else:
            img = img / 255.0
        img = np.ascontiguousarray(img, dtype=np.float64)
        img.setflags(write=False)
        images.append(img)
    return tuple(images)


def sample_patches(size: int, count: int, *, seed: int = 0) -> np.ndarray:
    """``count`` x ``size**2`` array of gray patches, flattened row-major.

    Sampler (numpy ``default_rng(seed)``): draw ``U = rng.random((count, 3))``; patch ``i``
    comes from photograph ``floor(U[i,0] K)`` (each of the K photographs equally likely)
    at top-left corner ``(floor(U[i,1] (H-P+1)), floor(U[i,2] (W-P+1)))``, i.e. uniform over
    the positions of that photograph. Same seed, same patches; and the first ``k`` patches
    of a larger draw are the ``k`` patches of a smaller one (prefix stable).

    Parameters
    ----------
    size : int
        Patch side P in pixels, between 1 and the short side of the smallest photograph.
    count : int
        Number of patches.
    seed : int, optional
        Seed of ``numpy.random.default_rng`` (default 0).

    Returns
    -------
    ndarray
        ``count`` x ``size**2`` float64 array, values in [0, 1].

    Raises
    ------
    DatasetError
        If ``size`` is out of range (a ``ValueError``).
    """
    images = gray_photographs()
    smallest = min(min(img.shape) for img in images)
    if not 1 <= size <= smallest:
        raise DatasetError(
            f"patches:{size}: the patch side must be between 1 and {smallest} pixels "
            f"(the smallest photograph is {smallest} pixels on its short side)"
        )
    rng = np.random.default_rng(seed)
    u = rng.random((count, 3))
    which = np.minimum((u[:, 0] * len(images)).astype(np.int64), len(images) - 1)
    out = np.empty((count, size * size), dtype=np.float64)
    for k, img in enumerate(images):
        sel = np.flatnonzero(which == k)
        if sel.size == 0:
            continue
        n_rows, n_cols = img.shape[0] - size + 1, img.shape[1] - size + 1
        rows = np.minimum((u[sel, 1] * n_rows).astype(np.int64), n_rows - 1)
        cols = np.minimum((u[sel, 2] * n_cols).astype(np.int64), n_cols - 1)
        windows = np.lib.stride_tricks.sliding_window_view(img, (size, size))
        out[sel] = windows[rows, cols].reshape(sel.size, size * size)
    return out


def load_patches_array(size: int, count: int, *, seed: int = 0):
    """``(X count x size**2, (size, size), source)`` from :func:`sample_patches`.

    Parameters
    ----------
    size : int
        Patch side P in pixels.
    count : int
        Number of patches.
    seed : int, optional
        Seed of the patch sampler (default 0).

    Returns
    -------
    X : ndarray
        ``count`` x ``size**2`` float64 patches.
    item_shape : tuple
        ``(size, size)``.
    source : str
        Description of the photographs, patch size, count and seed.

    Raises
    ------
    DatasetError
        If ``size`` is out of range (a ``ValueError``).
    """
    X = sample_patches(size, count, seed=seed)
    source = (
        f"scikit-image photographs ({', '.join(PATCH_IMAGES)}) in gray, [0, 1]: "
        f"{count} patches of {size}x{size}, default_rng({seed})"
    )
    return X, (size, size), source
