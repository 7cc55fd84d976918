"""The one exception raised for unusable data, and where each data set can be obtained."""

from __future__ import annotations

#: Where to download the file-based data sets (nothing is ever fetched automatically).
WHERE_TO_GET = {
    "mnist": "http://yann.lecun.com/exdb/mnist/ (or a mirror, e.g. "
    "https://ossci-datasets.s3.amazonaws.com/mnist/)",
    "fashion-mnist": "https://github.com/zalandoresearch/fashion-mnist (folder data/fashion)",
    "cifar10": "https://www.cs.toronto.edu/~kriz/cifar.html (the 'CIFAR-10 python version', "
    "cifar-10-python.tar.gz)",
}
WHERE_TO_GET["cifar10-rgb"] = WHERE_TO_GET["cifar10"]


class DatasetError(ValueError):
    """A data set spec, file or archive cannot be used.

    The message names the offending spec, file or key, says what was expected, and for
    the downloadable data sets where to get them. A subclass of ``ValueError``, so that
    callers that catch bad input catch it too.
    """


def where_to_get(kind: str) -> str:
    """A ' Get it from ...' suffix for error messages ('' for kinds with no download).

    Parameters
    ----------
    kind : str
        A data spec kind such as ``"mnist"`` or ``"digits"``.

    Returns
    -------
    str
        ``" Get it from URL."`` for a kind in :data:`WHERE_TO_GET`, else ``""``.

    Examples
    --------
    >>> where_to_get("digits")
    ''
    """
    url = WHERE_TO_GET.get(kind)
    return f" Get it from {url}." if url else ""
