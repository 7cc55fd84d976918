"""train_on_mixture: the default sample training, run at population level on a Gaussian mixture."""

import numpy as np
import pytest

from twolayer.simulations import train
from twolayer.simulations.mixture_training import train_on_mixture


def _mixture_rows(rng, d, N):
    """Two components with means and full / diagonal covariances, and N rows drawn from them."""
    L = rng.standard_normal((d, d)) / np.sqrt(d)
    covs = [L @ L.T + 0.2 * np.eye(d), np.diag(rng.uniform(0.3, 1.5, d))]
    means = [0.8 * rng.standard_normal(d), -0.5 * rng.standard_normal(d)]
    w = np.array([0.3, 0.7])
    pick = rng.random(N) < w[0]
    X = np.where(pick[:, None], rng.standard_normal((N, d)) @ np.linalg.cholesky(covs[0]).T + means[0],
                 rng.standard_normal((N, d)) @ np.linalg.cholesky(covs[1]).T + means[1])
    return covs, w, means, X


def _directions(B):
    return B / np.linalg.norm(B, axis=1, keepdims=True)


def test_it_is_the_sample_training_without_its_minibatch_noise():
    """train(data=X) (samples, sign: Adam, cosine, annealed smoothing, the same start) on 400,000 rows of a
    mixture, against train_on_mixture on the mixture itself (standardised as training standardises),
    50 steps: the encoders' directions differ by 6.8 %, 2.5 %, 0.85 % at batches of 256, 4096, 65536
    (measured), shrinking as 1 / sqrt(batch), the minibatch noise; the population run is its limit."""
    rng = np.random.default_rng(0)
    d, n, steps = 8, 4, 50
    covs, w, means, X = _mixture_rows(rng, d, 400_000)
    v = sum(wk * (np.trace(c) + m @ m) for wk, c, m in zip(w, covs, means)) / d  # mean ||x||^2 / d
    B = train_on_mixture([c / v for c in covs], w, [m / np.sqrt(v) for m in means], n, steps=steps, seed=1)
    gaps = {}
    for batch in (256, 65536):
        sampled = train(d, n, data=X, method="samples", steps=steps, batch_size=batch, seed=1, dtype="float64",
                        progress=False).B
        gaps[batch] = np.linalg.norm(_directions(sampled) - _directions(B)) / np.linalg.norm(_directions(B))
    assert gaps[65536] < 0.02, gaps
    assert gaps[65536] < gaps[256] / 3, gaps  # the difference is the minibatch noise (sqrt(256) = 16 times less)


def test_bad_mixtures_and_starts_are_refused():
    covs, w, means = [np.eye(3)] * 2, np.array([0.5, 0.5]), [np.zeros(3)] * 2
    with pytest.raises(ValueError, match="summing to 1"):
        train_on_mixture(covs, [0.5, 0.6], means, 2, steps=2)
    with pytest.raises(ValueError, match="K x d x d"):
        train_on_mixture(covs, w, [np.zeros(4)] * 2, 2, steps=2)
    with pytest.raises(ValueError, match="start"):
        train_on_mixture(covs, w, means, 2, steps=2, start={"A": np.zeros((3, 2)), "B": np.zeros((3, 3))})
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        train_on_mixture(covs, w, means, 0, steps=2)
