r"""The default sample training of the sign autoencoder, run at population level on a Gaussian mixture.

``train(d, n, data=X)`` (method "samples", sign) descends the minibatch loss of the smoothed
network x_hat = A erf(B x / (sqrt 2 tau_t r)) with Adam (rate 0.016 / sqrt(d), cosine decay),
tau_t annealed from 0.5 to 0.01 (:mod:`.estimators`), from a Gaussian start, for 2000 steps.
:func:`train_on_mixture` runs the same optimiser, schedule, annealing and start on the *exact*
loss of that network when x is a Gaussian mixture (:func:`~twolayer.theory.gaussian_mixture.smoothed_sign_loss_jax`):

    (A, B) <- Adam step on E_mixture ||x - A erf(B x / (sqrt 2 tau_t r))||^2,   t = 0 .. T - 1.

It answers "where does the default training stop on this law?" without sampling. Applied to a
mixture model of a data set (the brightness-contrast groups of raw image patches,
:func:`~twolayer.theory.gaussian_mixture.brightness_contrast_mixture`) it reaches a code as good
on the data's test rows as the same training with every row in every batch (raw 8x8 patches, six
cells: within -2.8 % to +0.1 %), which the Gaussian-optimal encoder is not (theory/universality.md,
"The default training on the data model"; ``benchmarks/model_training.py``). On 16x16 patches
(d = 256, 16,000 rows) at n >= 128 its code is 3.5-6.6 % better on the test rows than the training
on the rows, full batch or not, whose held-out risk is 5-12 % above its training risk there
(theory/universality.md, "`bc-train` at every patch cell").

Status: the loss and its gradient are exact for the mixture; the dynamics differ from the sample
training in three ways, none modelled: no minibatch noise (256 rows a step there), the population
scale r_i in place of the minibatch root-mean-square, and float64 in place of float32. The
prediction is as good as the mixture is a model of the data. Cost: each step evaluates
K n (n + 1) / 2 bivariate orthant probabilities (K components) and their closed-form derivatives;
with K = 32 on two cores about 0.025 s a step at d = n = 64 (50 s for 2000 steps) and 0.41 s at
d = n = 256 (14 minutes; ``benchmarks/orthant_gradient.py``).
"""

from __future__ import annotations

import numpy as np

from .._validation import as_size
from .estimators import SIGN_SMOOTHING, smoothing_width
from .model import init_params
from .optim import DEFAULT_OPTIMIZER, DEFAULT_SCHEDULE, check_lr, make_optimizer

#: the orthant-probability rule's order during training (:func:`~twolayer.theory.gaussian_mixture.bivariate_normal_cdf`).
TRAINING_NODES = 16


def train_on_mixture(covariances, weights, means, n: int, *, steps: int = 2000, seed: int = 0, lr=None,
                     optimizer=None, schedule=None, start=None, smoothing=SIGN_SMOOTHING) -> np.ndarray:
    """The encoder B (n x d) that the default sample training reaches on the exact loss of a Gaussian mixture.

    Parameters
    ----------
    covariances, means : sequence of array_like
        The components' d x d covariances and length-d means, of the *standardised* source
        (mean ||x||^2 / d = 1, as training sees the data).
    weights : array_like
        The K weights, non-negative, summing to 1.
    n : int
        Code size.
    steps : int, optional
        Adam steps (default 2000, the samples default).
    seed : int, optional
        Seed of the start (:func:`~.model.init_params`, as ``train``; default 0).
    lr : float or None, optional
        Base rate (None: the samples default for the optimiser, Adam's 0.016 / sqrt(d)).
    optimizer, schedule : str or None, optional
        As :func:`~.training.train` (None: the samples defaults, Adam and cosine decay).
    start : dict or None, optional
        ``{"A": d x n, "B": n x d}`` to start from (None: ``train``'s Gaussian start from ``seed``).
    smoothing : (float, float), optional
        (tau_0, tau_1) of the annealed smoothing (default :data:`~.estimators.SIGN_SMOOTHING`).

    Returns
    -------
    ndarray
        The trained n x d encoder (float64).

    Raises
    ------
    ValueError
        If the shapes or weights are inconsistent, or ``n``, ``steps``, ``seed`` or ``lr`` are invalid.
    """
    import jax
    import jax.numpy as jnp
    import optax

    from ..theory.gaussian_mixture import smoothed_sign_loss_jax

    covs = np.asarray(covariances, dtype=np.float64)
    mus = np.asarray(means, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    if covs.ndim != 3 or covs.shape[1] != covs.shape[2] or mus.shape != covs.shape[:2]:
        raise ValueError(f"covariances: K x d x d and means K x d expected; got {covs.shape} and {mus.shape}")
    if weights.shape != covs.shape[:1] or np.any(weights < 0) or not np.isclose(weights.sum(), 1.0):
        raise ValueError("weights: one non-negative weight per component, summing to 1")
    n, steps, seed = as_size(n, "n"), as_size(steps, "steps"), as_size(seed, "seed", minimum=0)
    d = covs.shape[1]
    optimizer = optimizer or DEFAULT_OPTIMIZER["samples"]
    tx = make_optimizer(optimizer, check_lr(lr, "samples", optimizer, d), schedule or DEFAULT_SCHEDULE["samples"], steps)
    if start is None:
        start = init_params(d, n, parametrization="untied", init="gaussian", seed=seed)
    if np.shape(start["A"]) != (d, n) or np.shape(start["B"]) != (n, d):
        raise ValueError(f"start: A of shape {(d, n)} and B of shape {(n, d)} expected; got "
                         f"{np.shape(start['A'])} and {np.shape(start['B'])}")
    with jax.enable_x64(True):
        consts = tuple(jnp.asarray(v) for v in (covs, weights, mus))
        params = {"A": jnp.asarray(start["A"]), "B": jnp.asarray(start["B"])}
        grad = jax.grad(lambda p, tau: smoothed_sign_loss_jax(p["A"], p["B"], consts[0], consts[1], consts[2], tau,
                                                              TRAINING_NODES))

        def step(carry, t):
            p, state = carry
            updates, state = tx.update(grad(p, smoothing_width(t, steps, smoothing)), state, p)
            return (optax.apply_updates(p, updates), state), None

        (params, _), _ = jax.jit(lambda p: jax.lax.scan(step, (p, tx.init(p)), jnp.arange(steps)))(params)
        return np.asarray(params["B"], dtype=np.float64)
