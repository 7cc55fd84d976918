"""Preprocessing: training statistics only, trace normalisation, whitening, splits."""

from __future__ import annotations

import json

import numpy as np
import pytest

from twolayer.data import Split, prepare, preprocess


def correlated(n=600, d=10, seed=0, offset=5.0):
    rng = np.random.default_rng(seed)
    mix = rng.standard_normal((d, d)) * np.geomspace(3.0, 0.1, d)
    return rng.standard_normal((n, d)) @ mix.T + offset * rng.standard_normal(d)


ALL_OPTIONS = [
    {},
    {"remove_item_mean": True},
    {"contrast_normalize": True},
    {"remove_item_mean": True, "contrast_normalize": True, "whiten": "zca"},
    {"whiten": "pca"},
    {"whiten": "zca", "whiten_floor": 0.05},
]


@pytest.mark.parametrize("options", ALL_OPTIONS)
def test_training_trace_is_d(options):
    X = correlated()
    split = preprocess(X, **options)
    n_train, d = split.train.shape
    assert np.mean(np.sum(split.train**2, axis=1)) == pytest.approx(d, rel=1e-12)
    assert np.trace(split.cov) == pytest.approx(d, rel=1e-12)
    np.testing.assert_allclose(split.train.mean(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(split.cov, split.train.T @ split.train / n_train, atol=1e-10)
    np.testing.assert_allclose(split.spectrum, np.sort(np.linalg.eigvalsh(split.cov))[::-1], atol=1e-10)
    assert np.all(np.diff(split.spectrum) <= 1e-12)
    json.dumps(split.info)  # serialisable
    assert split.info["scale"] == split.scale


@pytest.mark.parametrize("options", ALL_OPTIONS)
def test_test_rows_do_not_influence_the_fit(options):
    X = correlated(seed=1)
    first = preprocess(X, seed=5, **options)
    Y = X.copy()
    Y[first.test_index] = 1e3 * np.random.default_rng(9).standard_normal((first.test_index.size, X.shape[1]))
    second = preprocess(Y, seed=5, **options)
    np.testing.assert_array_equal(first.train, second.train)
    np.testing.assert_array_equal(first.mean, second.mean)
    np.testing.assert_array_equal(first.cov, second.cov)
    assert first.scale == second.scale
    if first.whitener is not None:
        np.testing.assert_array_equal(first.whitener, second.whitener)
    # the test part goes through the same map
    np.testing.assert_allclose(first.test, first.apply(X[first.test_index]), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(first.train, first.apply(X[first.train_index]), rtol=1e-10, atol=1e-10)


def test_input_is_not_modified():
    X = correlated()
    before = X.copy()
    preprocess(X, remove_item_mean=True, contrast_normalize=True, whiten="zca")
    np.testing.assert_array_equal(X, before)


def test_pca_whitening_is_identity_above_the_floor():
    rng = np.random.default_rng(6)
    q, _ = np.linalg.qr(rng.standard_normal((12, 12)))
    X = rng.standard_normal((800, 12)) * np.geomspace(3.0, 0.1, 12) @ q.T + 2.0
    split = preprocess(X, whiten="pca", whiten_floor=1e-3)
    assert split.info["whiten_clamped"] == 0
    np.testing.assert_allclose(split.cov, np.eye(12), atol=1e-10)
    assert split.scale == pytest.approx(1.0, rel=1e-12)


def test_whitening_floor_clamps_small_directions():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((2000, 8)) * np.array([10, 8, 6, 5, 4, 3, 1e-3, 1e-4])
    floor = 1e-2
    split = preprocess(X, whiten="pca", whiten_floor=floor)
    assert split.info["whiten_clamped"] == 2
    c = split.scale**2
    # the 6 large directions are whitened (equal variance c), the 2 tiny ones stay tiny
    np.testing.assert_allclose(split.cov[:6, :6], c * np.eye(6), atol=1e-9)
    np.testing.assert_allclose(split.cov[6:, :6], 0.0, atol=1e-9)
    assert np.all(np.diag(split.cov)[6:] < 1e-4)
    assert c == pytest.approx(8 / (6 + np.trace(split.cov[6:, 6:]) / c), rel=1e-9)


def test_zca_is_the_symmetric_whitener():
    X = correlated(d=9, seed=3)
    zca = preprocess(X, whiten="zca", whiten_floor=1e-8)
    W = zca.whitener
    np.testing.assert_allclose(W, W.T, atol=1e-10)
    # W = Sigma^{-1/2}: W Sigma W = I for the centred training covariance Sigma
    raw = X[zca.train_index] - X[zca.train_index].mean(axis=0)
    sigma = raw.T @ raw / raw.shape[0]
    np.testing.assert_allclose(W @ sigma @ W, np.eye(9), atol=1e-9)
    np.testing.assert_allclose(zca.cov, np.eye(9), atol=1e-9)
    # PCA and ZCA differ by a rotation only
    pca = preprocess(X, whiten="pca", whiten_floor=1e-8)
    R = np.linalg.lstsq(pca.train, zca.train, rcond=None)[0]
    np.testing.assert_allclose(R @ R.T, np.eye(9), atol=1e-8)


def test_remove_item_mean_and_contrast():
    X = correlated(d=16, seed=4)
    split = preprocess(X, remove_item_mean=True, test_fraction=0.25)
    raw = X[split.train_index]
    centred = raw - raw.mean(axis=1, keepdims=True)
    # after step 2 rows have zero mean; centring/scaling keep that (the training mean also has it)
    np.testing.assert_allclose(split.train.mean(axis=1), 0.0, atol=1e-10)
    np.testing.assert_allclose(split.test.mean(axis=1), 0.0, atol=1e-10)
    np.testing.assert_allclose(split.train, split.scale * (centred - centred.mean(axis=0)), atol=1e-10)
    assert split.spectrum[-1] < 1e-10  # the all-ones direction is gone
    cn = preprocess(X, contrast_normalize=True, contrast_eps=1e-2)
    raw = X[cn.train_index]
    eps = 1e-2 * raw.var(axis=1).mean()
    assert cn.info["contrast_eps_absolute"] == pytest.approx(eps)
    normed = raw / np.sqrt(raw.var(axis=1, keepdims=True) + eps)
    np.testing.assert_allclose(cn.train, cn.scale * (normed - normed.mean(axis=0)), atol=1e-10)


def test_split_determinism_disjointness_and_sizes():
    X = correlated(n=101)
    a = preprocess(X, seed=3, test_fraction=0.2)
    b = preprocess(X, seed=3, test_fraction=0.2)
    c = preprocess(X, seed=4, test_fraction=0.2)
    assert a.train.shape == (81, 10) and a.test.shape == (20, 10)
    assert a.info["n_train"] == 81 and a.info["n_test"] == 20
    np.testing.assert_array_equal(a.train, b.train)
    np.testing.assert_array_equal(a.test, b.test)
    assert not np.array_equal(a.test_index, c.test_index)
    assert set(a.train_index).isdisjoint(a.test_index)
    assert sorted(np.concatenate([a.train_index, a.test_index])) == list(range(101))
    whole = preprocess(X, test_fraction=0.0)
    assert whole.train.shape == (101, 10) and whole.test.shape == (0, 10)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"test_fraction": 1.0}, "test_fraction"),
        ({"test_fraction": -0.1}, "test_fraction"),
        ({"whiten": "svd"}, "'pca' or 'zca'"),
        ({"whiten_floor": 0.0}, "whiten_floor"),
        ({"contrast_eps": -1.0}, "contrast_eps"),
        ({"seed": None}, "seed"),
    ],
)
def test_bad_options(kwargs, words):
    with pytest.raises(ValueError, match=words):
        preprocess(correlated(), **kwargs)


def test_bad_data():
    with pytest.raises(ValueError, match="2-D"):
        preprocess(np.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        preprocess(np.array([[1.0, np.nan], [0.0, 1.0], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="at least 2 training"):
        preprocess(np.ones((2, 3)), test_fraction=0.5)
    with pytest.raises(ValueError, match="zero variance"):
        preprocess(np.ones((10, 3)))


def test_prepare_on_digits():
    data, split = prepare("digits", remove_item_mean=True, whiten="zca", seed=1)
    assert isinstance(split, Split)
    assert split.train.shape[0] + split.test.shape[0] == data.X.shape[0] == 1797
    assert split.info["dataset"] == "digits" and split.info["item_shape"] == [8, 8]
    assert np.trace(split.cov) == pytest.approx(64, rel=1e-12)
    json.dumps(split.info)
