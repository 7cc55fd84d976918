"""Data loaders: real file formats written in tmp_path, bundled data sets, error messages."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
import tarfile

import numpy as np
import pytest

from twolayer.data import DatasetError, load_dataset, parse_spec

# -- writers for the real formats -----------------------------------------------------------


def idx_bytes(images: np.ndarray) -> bytes:
    """IDX images: magic 0x00000803, then N, rows, cols as big-endian uint32, then uint8 pixels."""
    assert images.dtype == np.uint8 and images.ndim == 3
    return struct.pack(">I", 0x00000803) + struct.pack(">3I", *images.shape) + images.tobytes()


def write_idx(path, images, *, gz=False):
    raw = idx_bytes(images)
    with (gzip.open(path, "wb") if gz else open(path, "wb")) as fh:
        fh.write(raw)
    return str(path)


def cifar_batches(rng, sizes=(3, 2, 4, 2, 3)):
    """Python-2-style CIFAR batches: dicts with b'data' (n x 3072 uint8) and b'labels'."""
    batches = []
    for i, n in enumerate(sizes):
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        batches.append({
            b"batch_label": f"training batch {i + 1} of 5".encode(),
            b"labels": [int(v) for v in rng.integers(0, 10, n)],
            b"data": data,
            b"filenames": [f"img_{i}_{j}.png".encode() for j in range(n)],
        })
    return batches


def write_cifar_folder(folder, batches):
    folder.mkdir(parents=True, exist_ok=True)
    for i, batch in enumerate(batches, start=1):
        with open(folder / f"data_batch_{i}", "wb") as fh:
            pickle.dump(batch, fh, protocol=2)
    with open(folder / "batches.meta", "wb") as fh:
        pickle.dump({b"label_names": [b"airplane"]}, fh, protocol=2)
    return folder


def write_cifar_tar(path, batches):
    with tarfile.open(path, "w:gz") as tar:
        for i, batch in enumerate(batches, start=1):
            raw = pickle.dumps(batch, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/data_batch_{i}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return str(path)


@pytest.fixture
def images():
    return np.random.default_rng(0).integers(0, 256, size=(7, 5, 4), dtype=np.uint8)


# -- parse_spec -------------------------------------------------------------------------------


def test_parse_spec_forms(tmp_path):
    assert parse_spec("gaussian") == ("gaussian", {})
    assert parse_spec(" Digits ") == ("digits", {})
    assert parse_spec("patches:16") == ("patches", {"size": 16, "count": 20000})
    assert parse_spec("patches:8:500") == ("patches", {"size": 8, "count": 500})
    assert parse_spec("mnist:/data/mnist") == ("mnist", {"path": "/data/mnist"})
    assert parse_spec("cifar10-rgb:/c/x.tar.gz") == ("cifar10-rgb", {"path": "/c/x.tar.gz"})
    assert parse_spec("npz:/a/b.npz:images") == ("npz", {"path": "/a/b.npz", "key": "images"})
    assert parse_spec("npz:/a/b.npz") == ("npz", {"path": "/a/b.npz", "key": None})
    assert parse_spec("npy:~/x.npy")[1]["path"] == os.path.expanduser("~/x.npy")
    # a path with a colon that exists is kept whole
    odd = tmp_path / "a:b.npz"
    np.savez(odd, x=np.zeros((2, 2)))
    assert parse_spec(f"npz:{odd}") == ("npz", {"path": str(odd), "key": None})


@pytest.mark.parametrize(
    "spec, words",
    [
        ("imagenet:/x", ["unknown data spec kind 'imagenet'", "mnist:PATH", "patches:P[:N]"]),
        ("patches", ["patches:P"]),
        ("patches:0", ["positive integer"]),
        ("patches:8:x", ["patch count"]),
        ("mnist", ["needs a path", "yann.lecun.com"]),
        ("cifar10:", ["needs a path", "cs.toronto.edu/~kriz/cifar.html"]),
        ("digits:3", ["takes no argument"]),
        ("", ["non-empty"]),
    ],
)
def test_parse_spec_errors(spec, words):
    with pytest.raises(DatasetError) as err:
        parse_spec(spec)
    for word in words:
        assert word in str(err.value)
    assert isinstance(err.value, ValueError)


def test_gaussian_is_not_a_file_dataset():
    with pytest.raises(ValueError, match="synthetic source handled by the simulations") as err:
        load_dataset("gaussian")
    assert "twolayer train --data gaussian" in str(err.value)


# -- IDX --------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("kind", ["mnist", "fashion-mnist"])
def test_idx_file_roundtrip(tmp_path, images, gz, kind):
    # the gzip test uses no .gz suffix: compression is detected from the magic bytes
    path = write_idx(tmp_path / "images-idx3-ubyte", images, gz=gz)
    data = load_dataset(f"{kind}:{path}")
    assert data.X.dtype == np.float64
    assert data.X.shape == (7, 20) and data.item_shape == (5, 4)
    np.testing.assert_array_equal(data.X, images.reshape(7, 20))
    np.testing.assert_array_equal(data.X[3].reshape(data.item_shape), images[3])
    assert data.name == kind and path in data.source
    assert load_dataset(f"{kind}:{path}", max_items=3).X.shape == (3, 20)
    np.testing.assert_array_equal(load_dataset(f"{kind}:{path}", max_items=3).X, images[:3].reshape(3, 20))


@pytest.mark.parametrize("name", ["train-images-idx3-ubyte.gz", "train-images-idx3-ubyte", "train-images.idx3-ubyte"])
def test_idx_folder_loads_training_images(tmp_path, images, name):
    write_idx(tmp_path / name, images, gz=name.endswith(".gz"))
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images[:2], gz=True)
    data = load_dataset(f"mnist:{tmp_path}")
    np.testing.assert_array_equal(data.X, images.reshape(7, 20))
    assert name in data.source


def test_idx_folder_without_training_file(tmp_path, images):
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images, gz=True)
    with pytest.raises(DatasetError) as err:
        load_dataset(f"fashion-mnist:{tmp_path}")
    msg = str(err.value)
    assert str(tmp_path) in msg and "train-images-idx3-ubyte" in msg and "t10k" in msg
    assert "github.com/zalandoresearch/fashion-mnist" in msg


@pytest.mark.parametrize("gz", [False, True])
def test_idx_truncated(tmp_path, images, gz):
    raw = idx_bytes(images)[:-7]
    path = tmp_path / "train-images-idx3-ubyte"
    with (gzip.open(path, "wb") if gz else open(path, "wb")) as fh:
        fh.write(raw)
    with pytest.raises(DatasetError) as err:
        load_dataset(f"mnist:{path}")
    msg = str(err.value)
    assert str(path) in msg and "truncated" in msg and "7 items" in msg and "yann.lecun.com" in msg


def test_idx_truncated_header_and_broken_gzip(tmp_path, images):
    short = tmp_path / "short"
    short.write_bytes(idx_bytes(images)[:10])
    with pytest.raises(DatasetError, match="truncated inside its header"):
        load_dataset(f"mnist:{short}")
    broken = tmp_path / "broken.gz"
    broken.write_bytes(gzip.compress(idx_bytes(images))[:40])
    with pytest.raises(DatasetError) as err:
        load_dataset(f"mnist:{broken}")
    assert str(broken) in str(err.value) and "gzip" in str(err.value)


def test_idx_wrong_magic(tmp_path, images):
    bad = tmp_path / "not-idx"
    bad.write_bytes(b"\x12\x34\x56\x78" + idx_bytes(images)[4:])
    with pytest.raises(DatasetError) as err:
        load_dataset(f"mnist:{bad}")
    msg = str(err.value)
    assert str(bad) in msg and "0x12345678" in msg and "0x00000803" in msg
    labels = tmp_path / "train-labels-idx1-ubyte"
    labels.write_bytes(struct.pack(">II", 0x00000801, 3) + bytes([1, 2, 3]))
    with pytest.raises(DatasetError, match="labels"):
        load_dataset(f"mnist:{labels}")


def test_missing_files_name_the_path_and_the_source(tmp_path):
    missing = tmp_path / "nope"
    for spec, url in [
        (f"mnist:{missing}", "yann.lecun.com/exdb/mnist"),
        (f"fashion-mnist:{missing}", "zalandoresearch/fashion-mnist"),
        (f"cifar10:{missing}", "cs.toronto.edu/~kriz/cifar.html"),
        (f"npy:{missing}", "does not exist"),
        (f"npz:{missing}", "does not exist"),
    ]:
        with pytest.raises(DatasetError) as err:
            load_dataset(spec)
        assert str(missing) in str(err.value) and url in str(err.value), spec


def test_idx_other_value_types(tmp_path):
    """A big-endian int16 IDX (type 0x0B) decodes with the right byte order."""
    values = np.arange(-6, 6, dtype=">i2").reshape(3, 2, 2)
    path = tmp_path / "int16-idx"
    path.write_bytes(struct.pack(">I", 0x00000B03) + struct.pack(">3I", 3, 2, 2) + values.tobytes())
    np.testing.assert_array_equal(load_dataset(f"mnist:{path}").X, values.reshape(3, 4).astype(float))


# -- CIFAR-10 -----------------------------------------------------------------------------------


def _expected_cifar(batches, color):
    data = np.concatenate([b[b"data"] for b in batches]).astype(np.float64)
    planes = data.reshape(-1, 3, 32, 32)
    if color == "gray":
        return (0.299 * planes[:, 0] + 0.587 * planes[:, 1] + 0.114 * planes[:, 2]).reshape(-1, 1024)
    return planes.transpose(0, 2, 3, 1).reshape(-1, 3072)


@pytest.mark.parametrize("layout", ["tar", "folder", "parent"])
@pytest.mark.parametrize("color", ["gray", "rgb"])
def test_cifar10_roundtrip(tmp_path, layout, color):
    batches = cifar_batches(np.random.default_rng(1))
    if layout == "tar":
        path = write_cifar_tar(tmp_path / "cifar-10-python.tar.gz", batches)
    else:
        write_cifar_folder(tmp_path / "cifar-10-batches-py", batches)
        path = tmp_path / "cifar-10-batches-py" if layout == "folder" else tmp_path
    spec = f"cifar10:{path}" if color == "gray" else f"cifar10-rgb:{path}"
    data = load_dataset(spec)
    expected = _expected_cifar(batches, color)
    assert data.X.shape == expected.shape == (14, 1024 if color == "gray" else 3072)
    np.testing.assert_allclose(data.X, expected, rtol=0, atol=1e-12)
    assert data.item_shape == ((32, 32) if color == "gray" else (32, 32, 3))
    if color == "rgb":  # pixel (row 5, col 7) of image 4 has the R, G, B of the channel planes
        raw = np.concatenate([b[b"data"] for b in batches])[4].reshape(3, 32, 32)
        np.testing.assert_array_equal(data.X[4].reshape(32, 32, 3)[5, 7], raw[:, 5, 7])
    head = load_dataset(spec, max_items=4)
    np.testing.assert_allclose(head.X, expected[:4], atol=1e-12)


def test_cifar10_single_batch_file(tmp_path):
    batches = cifar_batches(np.random.default_rng(2), sizes=(3,))
    path = tmp_path / "test_batch"
    path.write_bytes(pickle.dumps(batches[0], protocol=2))
    data = load_dataset(f"cifar10:{path}")
    np.testing.assert_allclose(data.X, _expected_cifar(batches, "gray"), atol=1e-12)


def test_cifar10_errors(tmp_path):
    batches = cifar_batches(np.random.default_rng(3))
    # a batch without b'data'
    broken = [dict(b) for b in batches]
    del broken[2][b"data"]
    tar = write_cifar_tar(tmp_path / "broken.tar.gz", broken)
    with pytest.raises(DatasetError) as err:
        load_dataset(f"cifar10:{tar}")
    msg = str(err.value)
    assert "data_batch_3" in msg and "b'data'" in msg and "cifar.html" in msg and "b'labels'" in msg
    # an archive missing batches
    partial = write_cifar_tar(tmp_path / "partial.tar.gz", batches[:2])
    with pytest.raises(DatasetError) as err:
        load_dataset(f"cifar10:{partial}")
    assert "data_batch_3" in str(err.value) and "data_batch_5" in str(err.value) and partial in str(err.value)
    # a folder missing batches
    folder = write_cifar_folder(tmp_path / "cifar-10-batches-py", batches[:4])
    with pytest.raises(DatasetError, match="lacks data_batch_5"):
        load_dataset(f"cifar10:{folder}")
    # wrong shape of b'data'
    bad = tmp_path / "bad_batch"
    bad.write_bytes(pickle.dumps({b"data": np.zeros((2, 100), np.uint8)}, protocol=2))
    with pytest.raises(DatasetError, match="3072 uint8"):
        load_dataset(f"cifar10:{bad}")
    # not a pickle at all
    junk = tmp_path / "junk"
    junk.write_bytes(b"this is not a pickle")
    with pytest.raises(DatasetError, match="not a CIFAR-10 python batch"):
        load_dataset(f"cifar10:{junk}")


def test_cifar10_refuses_code_in_pickles(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = tmp_path / "evil_batch"
    path.write_bytes(pickle.dumps({b"data": Evil()}, protocol=2))
    with pytest.raises(DatasetError, match="not allowed"):
        load_dataset(f"cifar10:{path}")


# -- npy / npz ----------------------------------------------------------------------------------


def test_npy_items_are_flattened(tmp_path):
    arr = np.random.default_rng(4).standard_normal((6, 4, 4)).astype(np.float32)
    path = tmp_path / "items.npy"
    np.save(path, arr)
    data = load_dataset(f"npy:{path}")
    assert data.X.shape == (6, 16) and data.item_shape == (4, 4) and data.X.dtype == np.float64
    np.testing.assert_array_equal(data.X, arr.reshape(6, 16).astype(np.float64))
    assert data.name == "items"
    np.testing.assert_array_equal(load_dataset(f"npy:{path}", max_items=2).X, arr[:2].reshape(2, 16))


def test_npz_keys(tmp_path):
    rng = np.random.default_rng(5)
    a, b = rng.integers(0, 9, (5, 3)), rng.standard_normal((4, 2, 3))
    path = tmp_path / "several.npz"
    np.savez(path, first=a, second=b)
    data = load_dataset(f"npz:{path}")
    np.testing.assert_array_equal(data.X, a)
    assert "'first'" in data.source and "first of 2" in data.source
    data = load_dataset(f"npz:{path}:second")
    np.testing.assert_array_equal(data.X, b.reshape(4, 6))
    assert data.item_shape == (2, 3)
    with pytest.raises(DatasetError) as err:
        load_dataset(f"npz:{path}:third")
    msg = str(err.value)
    assert "'third'" in msg and str(path) in msg and "first, second" in msg
    one = tmp_path / "one.npz"
    np.savez(one, only=a)
    assert "only array" in load_dataset(f"npz:{one}").source


def test_npy_npz_format_mixups_and_bad_values(tmp_path):
    npz = tmp_path / "arch.npz"
    np.savez(npz, x=np.zeros((2, 2)))
    with pytest.raises(DatasetError, match="npz archive"):
        load_dataset(f"npy:{npz}")
    npy = tmp_path / "arr.npy"
    np.save(npy, np.zeros((2, 2)))
    with pytest.raises(DatasetError, match="single .npy array"):
        load_dataset(f"npz:{npy}")
    nan = tmp_path / "nan.npy"
    np.save(nan, np.array([[1.0, np.nan]]))
    with pytest.raises(DatasetError, match="NaN"):
        load_dataset(f"npy:{nan}")
    text = tmp_path / "text.npy"
    np.save(text, np.array([["a", "b"]]))
    with pytest.raises(DatasetError, match="dtype"):
        load_dataset(f"npy:{text}")


def test_max_items_validation():
    with pytest.raises(ValueError, match="max_items"):
        load_dataset("digits", max_items=0)


# -- bundled data sets --------------------------------------------------------------------------


def test_digits():
    data = load_dataset("digits")
    assert data.X.shape == (1797, 64) and data.item_shape == (8, 8)
    assert data.X.dtype == np.float64 and data.X.min() == 0 and data.X.max() == 16
    assert "load_digits" in data.source
    assert load_dataset("digits", max_items=10).X.shape == (10, 64)


def test_lfw():
    data = load_dataset("lfw")
    assert data.X.shape == (200, 625) and data.item_shape == (25, 25)
    assert 0.0 <= data.X.min() and data.X.max() <= 1.0


def test_patches_deterministic_and_shaped():
    a = load_dataset("patches:8:2000", seed=3)
    b = load_dataset("patches:8:2000", seed=3)
    c = load_dataset("patches:8:2000", seed=4)
    assert a.X.shape == (2000, 64) and a.item_shape == (8, 8) and a.name == "patches8"
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(a.X, c.X)
    assert 0.0 <= a.X.min() and a.X.max() <= 1.0
    # prefix stable: fewer patches are the first ones of the bigger draw
    np.testing.assert_array_equal(load_dataset("patches:8:2000", seed=3, max_items=50).X, a.X[:50])
    np.testing.assert_array_equal(load_dataset("patches:8:50", seed=3).X, a.X[:50])
    assert load_dataset("patches:5").X.shape == (20000, 25)


def test_patches_are_pieces_of_the_photographs():
    from twolayer.data.builtin import gray_photographs

    patch = load_dataset("patches:6:1", seed=9).X[0].reshape(6, 6)
    found = False
    for img in gray_photographs():
        windows = np.lib.stride_tricks.sliding_window_view(img, (6, 6))
        if np.any(np.all(windows == patch, axis=(2, 3))):
            found = True
    assert found


def test_patches_too_large():
    with pytest.raises(DatasetError, match="between 1 and 300"):
        load_dataset("patches:400:10")
