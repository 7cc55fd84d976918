"""Readers for the on-disk formats: IDX (MNIST), CIFAR-10 python batches, .npy and .npz.

Each reader returns ``(X, item_shape, detail)``: ``X`` a float64 ``N x d`` array of the raw
values (one ``astype(float64)`` of the decoded bytes, nothing else), ``item_shape`` the shape
of one item and ``detail`` a short description for ``Dataset.source``. Any problem raises
:class:`DatasetError` naming the file, what was expected and where to get it.
"""

from __future__ import annotations

import gzip
import io
import lzma
import os
import pickle
import tarfile
import zipfile
import zlib

import numpy as np

from .errors import DatasetError, where_to_get

GZIP_MAGIC = b"\x1f\x8b"

# --------------------------------------------------------------------------------------
# IDX (http://yann.lecun.com/exdb/mnist/, "FILE FORMATS FOR THE MNIST DATABASE")
# magic = 0x00 0x00 <type code> <number of dimensions>, then one big-endian uint32 per
# dimension, then the values in C order (big-endian for multi-byte types).
# --------------------------------------------------------------------------------------
IDX_TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
NPY_MAGIC = b"\x93NUMPY"
IDX_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions (N, rows, cols)


def _check_file(path: str, kind: str, what: str) -> None:
    if not os.path.exists(path):
        raise DatasetError(f"{kind}: file {path!r} does not exist (expected {what})." + where_to_get(kind))
    if not os.path.isfile(path):
        raise DatasetError(f"{kind}: {path!r} is not a regular file (expected {what})." + where_to_get(kind))


def starts_with(path: str, magic: bytes) -> bool:
    """True when the file at ``path`` begins with the bytes ``magic`` (OSError if it cannot be opened)."""
    with open(path, "rb") as fh:
        return fh.read(len(magic)) == magic


def is_gzip(path: str) -> bool:
    """True when the file starts with the gzip magic bytes 1f 8b (whatever its extension).

    Parameters
    ----------
    path : str
        Path of a readable file.

    Returns
    -------
    bool
        Whether the first two bytes are 1f 8b.

    Raises
    ------
    OSError
        If the file cannot be opened.
    """
    return starts_with(path, GZIP_MAGIC)


def is_npy(path: str) -> bool:
    """True when the file starts with the .npy signature (93 'NUMPY'); numpy itself takes any other file
    for a pickle and says so, which misleads about a file of random bytes or of text.

    Parameters
    ----------
    path : str
        Path of a readable file.

    Returns
    -------
    bool
        Whether the first six bytes are the .npy signature.

    Raises
    ------
    OSError
        If the file cannot be opened.
    """
    return starts_with(path, NPY_MAGIC)


def _read_exact(fh, nbytes: int) -> bytes:
    """Read up to ``nbytes`` (fewer only at end of file)."""
    return fh.read(nbytes)


def read_idx(path: str, *, kind: str = "mnist", max_items: int | None = None):
    """Read an IDX file (gzipped or not, detected from the magic bytes).

    Accepts any IDX value type with at least 2 dimensions (MNIST and Fashion-MNIST image
    files have magic 0x00000803: unsigned bytes, dims N x 28 x 28). Only the first
    ``max_items`` items are decoded when given. Returns ``(X, item_shape, detail)``.

    Parameters
    ----------
    path : str
        The IDX file.
    kind : str, optional
        Data set kind used in error messages (default ``"mnist"``).
    max_items : int, optional
        Decode at most this many items (default: all).

    Returns
    -------
    X : ndarray
        N x prod(item_shape) float64 raw values.
    item_shape : tuple
        Shape of one item, e.g. ``(28, 28)``.
    detail : str
        Path, compression and header dimensions.

    Raises
    ------
    DatasetError
        If the file is missing, not IDX, 1-D, truncated, empty or unreadable (a
        ``ValueError``).
    """
    what = "an IDX images file such as train-images-idx3-ubyte[.gz], magic 0x00000803"
    _check_file(path, kind, what)
    gz = is_gzip(path)
    try:
        with (gzip.open(path, "rb") if gz else open(path, "rb")) as fh:
            head = _read_exact(fh, 4)
            if len(head) < 4:
                raise DatasetError(
                    f"{kind}: {path!r} is truncated: it has {len(head)} bytes, less than the 4-byte "
                    f"IDX magic number (expected {what})." + where_to_get(kind)
                )
            magic = int.from_bytes(head, "big")
            zero, type_code, ndim = head[0] << 8 | head[1], head[2], head[3]
            if zero != 0 or type_code not in IDX_TYPES or ndim == 0:
                raise DatasetError(
                    f"{kind}: {path!r} is not an IDX file: magic number 0x{magic:08x}, expected "
                    f"0x{IDX_IMAGES_MAGIC:08x} for images ({what})." + where_to_get(kind)
                )
            if ndim < 2:
                raise DatasetError(
                    f"{kind}: {path!r} is a 1-D IDX file (magic 0x{magic:08x}, probably labels); "
                    f"expected the images ({what})." + where_to_get(kind)
                )
            raw_dims = _read_exact(fh, 4 * ndim)
            if len(raw_dims) < 4 * ndim:
                raise DatasetError(
                    f"{kind}: {path!r} is truncated inside its header: expected {ndim} big-endian "
                    f"uint32 dimensions after the magic number." + where_to_get(kind)
                )
            dims = tuple(int(v) for v in np.frombuffer(raw_dims, dtype=">u4"))
            dtype = IDX_TYPES[type_code]
            n_total, item_shape = dims[0], dims[1:]
            item_size = int(np.prod(item_shape))
            n = n_total if max_items is None else min(n_total, max_items)
            need = n * item_size * dtype.itemsize
            data = _read_exact(fh, need)
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(
            f"{kind}: cannot read {path!r} ({'gzip' if gz else 'file'} error: {exc}); expected "
            f"{what}; the download may be incomplete." + where_to_get(kind)
        ) from exc
    if len(data) < need:
        raise DatasetError(
            f"{kind}: {path!r} is truncated: its header announces {n_total} items of shape "
            f"{item_shape} ({need} bytes of {dtype.name} values needed for {n}) but only "
            f"{len(data)} bytes follow." + where_to_get(kind)
        )
    if n == 0 or item_size == 0:
        raise DatasetError(f"{kind}: {path!r} holds no data (dimensions {dims}).")
    X = np.frombuffer(data, dtype=dtype, count=n * item_size).reshape(n, item_size).astype(np.float64)
    detail = f"{path} (IDX{', gzip' if gz else ''}, {n_total} items of {'x'.join(map(str, item_shape))})"
    return X, tuple(item_shape), detail


# --------------------------------------------------------------------------------------
# CIFAR-10, python version (https://www.cs.toronto.edu/~kriz/cifar.html): each batch is a
# pickled dict with b'data' a 10000 x 3072 uint8 array, one row per image, the 1024 red,
# then 1024 green, then 1024 blue values of a 32 x 32 image in row-major order.
# --------------------------------------------------------------------------------------
CIFAR_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_FOLDER = "cifar-10-batches-py"
LUMINANCE = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma weights for R, G, B

# The only globals a CIFAR batch pickle needs (numpy arrays and their dtypes). Anything else
# is refused, so that a malicious pickle cannot run code.
_SAFE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _SAFE_GLOBALS:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR batch")
        if module.startswith("numpy.core") and hasattr(np, "_core"):
            module = "numpy._core" + module[len("numpy.core"):]  # numpy >= 2 name, no warning
        return super().find_class(module, name)


def _load_batch(raw: bytes, where: str, kind: str) -> np.ndarray:
    """Unpickle one CIFAR batch and return its uint8 ``n x 3072`` data array."""
    try:
        batch = _SafeUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as exc:  # pickle raises many types on garbage
        raise DatasetError(
            f"{kind}: {where} is not a CIFAR-10 python batch (unpickling failed: {exc})."
            + where_to_get(kind)
        ) from exc
    data = None
    if isinstance(batch, dict):
        data = batch.get(b"data", batch.get("data"))
    if data is None:
        keys = sorted(map(repr, batch)) if isinstance(batch, dict) else type(batch).__name__
        raise DatasetError(
            f"{kind}: {where} has no b'data' entry (found {keys}); expected a dict with b'data' "
            f"an N x 3072 uint8 array (CIFAR-10 python version)." + where_to_get(kind)
        )
    data = np.asarray(data)
    if data.ndim != 2 or data.shape[1] != 3072 or data.dtype != np.uint8:
        raise DatasetError(
            f"{kind}: {where}: b'data' has shape {data.shape} and dtype {data.dtype}; expected an "
            f"N x 3072 uint8 array (32 x 32 x 3, channel-major)." + where_to_get(kind)
        )
    return data


#: what a damaged or cut-short archive raises while it is read (tarfile, gzip, bz2, lzma).
_ARCHIVE_ERRORS = (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError)


def _is_tar(path: str) -> bool:
    """``tarfile.is_tarfile``, but True for a compressed stream that breaks off (a damaged archive)."""
    try:
        return tarfile.is_tarfile(path)
    except _ARCHIVE_ERRORS:
        return True


def _cifar_batches_from_tar(path: str, kind: str) -> list:
    found = {}
    try:
        with tarfile.open(path, "r:gz" if is_gzip(path) else "r:*") as tar:
            for member in tar:  # one sequential pass over the (possibly gzipped) archive
                base = os.path.basename(member.name)
                if member.isfile() and base in CIFAR_BATCHES:
                    found[base] = (f"{path}[{member.name}]", tar.extractfile(member).read())
            while tar.fileobj.read(1 << 20):  # to the end: a damaged stream (bad CRC, cut short) raises here
                pass
    except _ARCHIVE_ERRORS as exc:
        raise DatasetError(
            f"{kind}: cannot read the archive {path!r} ({' '.join(str(exc).split())}): it is damaged, cut short "
            "or not a tar archive; expected cifar-10-python.tar.gz."
            + where_to_get(kind)
        ) from exc
    missing = [b for b in CIFAR_BATCHES if b not in found]
    if missing:
        raise DatasetError(
            f"{kind}: archive {path!r} lacks {', '.join(missing)}; expected the members "
            f"{CIFAR_FOLDER}/data_batch_1..5 of cifar-10-python.tar.gz." + where_to_get(kind)
        )
    return [found[b] for b in CIFAR_BATCHES]


def _cifar_batches_from_folder(path: str, kind: str) -> list:
    folder = path
    if not os.path.exists(os.path.join(folder, CIFAR_BATCHES[0])) and os.path.isdir(
        os.path.join(path, CIFAR_FOLDER)
    ):
        folder = os.path.join(path, CIFAR_FOLDER)
    missing = [b for b in CIFAR_BATCHES if not os.path.isfile(os.path.join(folder, b))]
    if missing:
        raise DatasetError(
            f"{kind}: folder {folder!r} lacks {', '.join(missing)}; expected the extracted "
            f"{CIFAR_FOLDER} folder with data_batch_1..5 (or the .tar.gz itself)." + where_to_get(kind)
        )
    return [(os.path.join(folder, b), None) for b in CIFAR_BATCHES]


def read_cifar10(path: str, *, color: str = "gray", kind: str = "cifar10", max_items: int | None = None):
    """Read the CIFAR-10 training images (data_batch_1..5, 50000 images, in batch order).

    ``path`` is cifar-10-python.tar.gz (read with tarfile, any compression), the extracted
    cifar-10-batches-py folder (or its parent), or one pickled batch file (e.g. test_batch).
    ``color="gray"``: luminance 0.299 R + 0.587 G + 0.114 B, d = 1024, item_shape (32, 32).
    ``color="rgb"``: d = 3072 in (row, col, channel) order, item_shape (32, 32, 3), so that
    ``X.reshape(-1, 32, 32, 3)`` gives the images. Values stay in 0..255.

    Parameters
    ----------
    path : str
        Archive, folder or batch file (see above).
    color : {"gray", "rgb"}, optional
        Luminance (default) or the three channels.
    kind : str, optional
        Data set kind used in error messages (default ``"cifar10"``).
    max_items : int, optional
        Keep at most this many images (later batches are then not read).

    Returns
    -------
    X : ndarray
        N x 1024 (gray) or N x 3072 (rgb) float64 values.
    item_shape : tuple
        ``(32, 32)`` or ``(32, 32, 3)``.
    detail : str
        Path, layout, number of batches and images, colour mode.

    Raises
    ------
    ValueError
        If ``color`` is not ``"gray"`` or ``"rgb"``.
    DatasetError
        If the path is missing, the archive unreadable, or a batch absent or not a
        CIFAR-10 python batch.
    """
    if color not in ("gray", "rgb"):
        raise ValueError(f"color must be 'gray' or 'rgb', got {color!r}")
    what = "cifar-10-python.tar.gz, its extracted cifar-10-batches-py folder, or a batch file"
    if not os.path.exists(path):
        raise DatasetError(f"{kind}: {path!r} does not exist (expected {what})." + where_to_get(kind))
    if os.path.isdir(path):
        sources, layout = _cifar_batches_from_folder(path, kind), "folder"
    elif is_gzip(path) or _is_tar(path):  # a batch file is never compressed
        sources, layout = _cifar_batches_from_tar(path, kind), "tar"
    else:
        sources, layout = [(path, None)], "batch file"
    arrays, total = [], 0
    for where, raw in sources:
        if max_items is not None and total >= max_items:
            break
        if raw is None:
            with open(where, "rb") as fh:
                raw = fh.read()
        data = _load_batch(raw, where, kind)
        if max_items is not None:
            data = data[: max_items - total]
        arrays.append(data)
        total += data.shape[0]
    d = 1024 if color == "gray" else 3072
    X = np.empty((total, d), dtype=np.float64)
    row = 0
    for data in arrays:
        n = data.shape[0]
        planes = data.reshape(n, 3, 1024)
        if color == "gray":
            out = X[row : row + n]
            np.multiply(planes[:, 0], LUMINANCE[0], out=out)
            out += LUMINANCE[1] * planes[:, 1]
            out += LUMINANCE[2] * planes[:, 2]
        else:
            X[row : row + n].reshape(n, 1024, 3)[...] = planes.transpose(0, 2, 1)
        row += n
    shape = (32, 32) if color == "gray" else (32, 32, 3)
    mode = "luminance 0.299R+0.587G+0.114B" if color == "gray" else "RGB, (row, col, channel) order"
    detail = f"{path} (CIFAR-10 python {layout}, {len(arrays)} batch(es), {total} images, {mode})"
    return X, shape, detail


# --------------------------------------------------------------------------------------
# NumPy .npy / .npz: samples along the first axis, items of any shape flattened.
# --------------------------------------------------------------------------------------
def _as_items(arr: np.ndarray, where: str, kind: str, max_items: int | None):
    if arr.ndim == 0:
        raise DatasetError(f"{kind}: {where} holds a scalar; expected an array with samples along axis 0")
    if arr.dtype == np.bool_ or np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating):
        pass
    else:
        raise DatasetError(
            f"{kind}: {where} has dtype {arr.dtype}; expected a real numeric array (int, float or bool)"
        )
    if arr.shape[0] == 0:
        raise DatasetError(f"{kind}: {where} has no samples (shape {arr.shape})")
    if max_items is not None:
        arr = arr[:max_items]
    item_shape = tuple(int(s) for s in arr.shape[1:])
    # astype always copies: one float64 array, never a view of a memory map or of the input
    X = np.asarray(arr.astype(np.float64)).reshape(arr.shape[0], -1)
    if not np.all(np.isfinite(X)):
        raise DatasetError(f"{kind}: {where} contains NaN or inf values; only finite values are accepted")
    return X, item_shape


def read_npy(path: str, *, max_items: int | None = None):
    """Read a .npy array (memory-mapped, so that ``max_items`` reads only what it needs).

    Parameters
    ----------
    path : str
        The .npy file: a real numeric array (int, float or bool), samples along axis 0.
    max_items : int, optional
        Keep at most this many samples (default: all).

    Returns
    -------
    X : ndarray
        N x d float64 copy, items flattened.
    item_shape : tuple
        Shape of one item (the array's shape without axis 0).
    detail : str
        Path and array shape.

    Raises
    ------
    DatasetError
        If the file is missing, not a .npy array, a scalar, empty, of a non-numeric dtype
        or has non-finite values (a ``ValueError``).
    """
    _check_file(path, "npy", "a .npy array with samples along axis 0")
    if zipfile.is_zipfile(path):
        raise DatasetError(f"npy: {path!r} is an .npz archive, not a .npy array; use npz:{path}[:KEY]")
    if not is_npy(path):
        raise DatasetError(f"npy: {path!r} is not a .npy file (it does not start with the .npy signature); "
                           "expected an array saved with numpy.save, samples along axis 0")
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as exc:
        raise DatasetError(f"npy: cannot read {path!r} as a .npy array ({exc})") from exc
    X, item_shape = _as_items(arr, repr(path), "npy", max_items)
    return X, item_shape, f"{path} (npy, shape {arr.shape})"


def read_npz(path: str, key: str | None = None, *, max_items: int | None = None):
    """Read one array of an .npz archive: ``key``, else the only one, else the first one.

    Parameters
    ----------
    path : str
        The .npz archive.
    key : str, optional
        Name of the array to read (default: the only or the first one).
    max_items : int, optional
        Keep at most this many samples (default: all).

    Returns
    -------
    X : ndarray
        N x d float64 copy, items flattened.
    item_shape : tuple
        Shape of one item.
    detail : str
        Path, chosen key and why, array shape.

    Raises
    ------
    DatasetError
        If the archive is missing, unreadable, empty or lacks ``key``, or the array is
        unusable as in :func:`read_npy` (a ``ValueError``).
    """
    _check_file(path, "npz", "an .npz archive")
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise DatasetError(f"npz: cannot read {path!r} as an .npz archive ({exc})") from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DatasetError(f"npz: {path!r} is a single .npy array, not an .npz archive; use npy:{path}")
    with archive:
        keys = list(archive.files)
        if not keys:
            raise DatasetError(f"npz: archive {path!r} holds no arrays")
        if key is None:
            chosen, why = keys[0], "the only array" if len(keys) == 1 else f"first of {len(keys)}: {', '.join(keys)}"
        elif key in keys:
            chosen, why = key, "requested"
        else:
            raise DatasetError(
                f"npz: archive {path!r} has no key {key!r}; available keys: {', '.join(keys)} "
                f"(write npz:{path}:KEY)"
            )
        try:
            arr = archive[chosen]
        except Exception as exc:
            raise DatasetError(f"npz: cannot read key {chosen!r} of {path!r} ({exc})") from exc
    X, item_shape = _as_items(arr, f"key {chosen!r} of {path!r}", "npz", max_items)
    return X, item_shape, f"{path}, key {chosen!r} ({why}; shape {arr.shape})"
