"""Parse data set spec strings such as ``digits``, ``patches:16:5000`` or ``mnist:~/data``.

Grammar (the kind is case-insensitive; everything after the first ``:`` is its argument,
so paths may themselves contain ``:``)::

    gaussian                 synthetic source, handled by the simulations, not by load_dataset
    digits                   scikit-learn's bundled 8x8 handwritten digits (1797 x 64)
    lfw                      scikit-image's lfw_subset (200 x 25 x 25)
    patches:P[:N]            N (default 20000) P x P gray patches of scikit-image photographs
    mnist:PATH               IDX images file (gzipped or not, detected from its bytes), or a
                             folder holding train-images-idx3-ubyte[.gz]: a folder gives the
                             60000 TRAINING images (name the t10k file to get the test ones)
    fashion-mnist:PATH       same format and folder rule as mnist
    cifar10:PATH             CIFAR-10 python version (cifar-10-python.tar.gz, its extracted
                             cifar-10-batches-py folder, or one batch file): the 50000
                             training images of data_batch_1..5, luminance
                             0.299 R + 0.587 G + 0.114 B, d = 1024, item_shape (32, 32)
    cifar10-rgb:PATH         same, colour: d = 3072 in (row, col, channel) order,
                             item_shape (32, 32, 3)
    npy:PATH                 any .npy array, samples first
    npz:PATH[:KEY]           one array of an .npz archive (default: the only or the first)
"""

from __future__ import annotations

import os

from .errors import DatasetError, where_to_get

DEFAULT_PATCH_COUNT = 20000

#: kind -> one-line description, used in error messages and --help texts.
SPEC_KINDS = {
    "gaussian": "gaussian (synthetic; handled by the simulations)",
    "digits": "digits",
    "lfw": "lfw",
    "patches": "patches:P[:N]",
    "mnist": "mnist:PATH",
    "fashion-mnist": "fashion-mnist:PATH",
    "cifar10": "cifar10:PATH",
    "cifar10-rgb": "cifar10-rgb:PATH",
    "npy": "npy:PATH",
    "npz": "npz:PATH[:KEY]",
}
_NO_ARGUMENT = ("gaussian", "digits", "lfw")
_PATH_KINDS = ("mnist", "fashion-mnist", "cifar10", "cifar10-rgb", "npy", "npz")


def accepted_specs() -> str:
    """Comma-separated list of the accepted spec forms.

    Returns
    -------
    str
        The values of :data:`SPEC_KINDS`, joined by ``", "``.
    """
    return ", ".join(SPEC_KINDS.values())


def _positive_int(text: str, what: str, spec: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1 or str(value) != text.strip().lstrip("+"):
        raise DatasetError(f"data spec {spec!r}: {what} must be a positive integer, got {text!r}")
    return value


def parse_spec(spec: str) -> tuple[str, dict]:
    """Split a data spec into ``(kind, args)``.

    ``args`` is a dict: ``{}`` for gaussian/digits/lfw, ``{"size": P, "count": N}`` for
    patches, ``{"path": PATH}`` for the file kinds, plus ``"key"`` (str or None) for npz.
    Paths are returned with ``~`` expanded; their existence is checked by the loaders.
    Raises :class:`DatasetError` (a ``ValueError``) naming the accepted forms.

    Parameters
    ----------
    spec : str
        A spec of the grammar in the module docstring.

    Returns
    -------
    kind : str
        The lower-cased kind, a key of :data:`SPEC_KINDS`.
    args : dict
        Its arguments (see above).

    Raises
    ------
    DatasetError
        If ``spec`` is empty, not a string, of an unknown kind, or has bad arguments.

    Examples
    --------
    >>> parse_spec("patches:16:5000")
    ('patches', {'size': 16, 'count': 5000})
    >>> parse_spec("Digits")
    ('digits', {})
    """
    if not isinstance(spec, str) or not spec.strip():
        raise DatasetError(f"a data spec must be a non-empty string; accepted: {accepted_specs()}")
    text = spec.strip()
    kind, sep, rest = text.partition(":")
    kind = kind.strip().lower()
    if kind not in SPEC_KINDS:
        raise DatasetError(f"unknown data spec kind {kind!r} in {spec!r}; accepted: {accepted_specs()}")
    if kind in _NO_ARGUMENT:
        if sep:
            raise DatasetError(f"data spec {spec!r}: {kind} takes no argument (write just {kind!r})")
        return kind, {}
    if kind == "patches":
        parts = rest.split(":") if sep else []
        if not 1 <= len(parts) <= 2:
            raise DatasetError(
                f"data spec {spec!r}: expected patches:P or patches:P:N (P the patch side in "
                f"pixels, N the number of patches, default {DEFAULT_PATCH_COUNT})"
            )
        size = _positive_int(parts[0], "the patch side P", spec)
        count = _positive_int(parts[1], "the patch count N", spec) if len(parts) == 2 else DEFAULT_PATCH_COUNT
        return kind, {"size": size, "count": count}
    # file kinds
    rest = rest.strip()
    if not rest:
        raise DatasetError(
            f"data spec {spec!r}: {kind} needs a path, write {SPEC_KINDS[kind]}." + where_to_get(kind)
        )
    if kind == "npz":
        path, key = rest, None
        if not os.path.exists(os.path.expanduser(rest)) and ":" in rest:
            path, key = rest.rsplit(":", 1)
            if not key:
                raise DatasetError(f"data spec {spec!r}: empty key after the last ':'")
        return kind, {"path": os.path.expanduser(path), "key": key}
    return kind, {"path": os.path.expanduser(rest)}
