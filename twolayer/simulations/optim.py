r"""Optimisers (optax) and learning-rate schedules.

Schedules over a budget of T steps, from the base rate lr:

* ``"constant"``    -- lr;
* ``"cosine"``      -- lr (1 + cos(pi t / T)) / 2, down to 1% of lr at t = T;
* ``"exponential"`` -- lr 0.01^(t / T) (a factor 100 over the run).

Optimisers: ``"sgd"``, ``"momentum"`` (heavy ball, 0.9), ``"adam"``.

The scalar of the tied decoder A = alpha B^T gets its gradient divided by ||B||_F^2 (the
squared norm of dA/dalpha) before the optimiser: the curvature of the risk in alpha is
~||B||_F^2 = O(n) times that in one entry of A, so without it plain gradient descent needs a
learning rate ~1/n. This is a fixed metric, not a change of the minimiser.
"""

from __future__ import annotations

import math

from .._validation import as_positive
from .model import check_choice

OPTIMIZERS = ("sgd", "momentum", "adam")
SCHEDULES = ("constant", "cosine", "exponential")
#: final learning rate of the decaying schedules, as a fraction of lr.
FINAL_FRACTION = 0.01

#: default optimiser and schedule per method (see theory/simulations.md for the measurements):
#: plain gradient descent for the exact risk -- the dynamics the theory describes (Adam
#: reaches the same risk but is not rotation equivariant, so its features drift from the
#: polar factor of the start) -- and Adam with a cosine decay for minibatches.
DEFAULT_OPTIMIZER = {"population": "sgd", "samples": "adam"}
DEFAULT_SCHEDULE = {"population": "constant", "samples": "cosine"}
#: default base rates per (method, optimizer), for objectives in units of the mean
#: coordinate variance (d R). Adam's step is a step per entry, whatever the gradient's size,
#: and the entries of B are ~1/sqrt(d): its default is DEFAULT_LR / sqrt(d).
DEFAULT_LR = {
    ("population", "sgd"): 0.3,
    ("population", "momentum"): 0.03,
    ("population", "adam"): 0.03,
    ("samples", "sgd"): 0.05,
    ("samples", "momentum"): 5e-3,
    ("samples", "adam"): 0.016,
}


def check_lr(lr, method: str, optimizer: str, d: int) -> float:
    """The learning rate: ``lr`` if a finite number > 0, else the default for (method, optimizer, d).

    Parameters
    ----------
    lr : float or None
        The base rate, or None for :data:`DEFAULT_LR` (divided by sqrt(d) for Adam).
    method : {"population", "samples"}
        The training method.
    optimizer : {"sgd", "momentum", "adam"}
        The optimiser.
    d : int
        Input dimension.

    Returns
    -------
    float
        The base learning rate.

    Raises
    ------
    ValueError
        If ``lr`` is given and is not a finite number > 0.
    KeyError
        If ``lr`` is None and (method, optimizer) is not a key of :data:`DEFAULT_LR`.

    Examples
    --------
    >>> check_lr(None, "samples", "adam", 64)  # 0.016 / sqrt(64)
    0.002
    >>> check_lr(0.5, "population", "sgd", 64)
    0.5
    """
    if lr is None:
        base = DEFAULT_LR[(method, optimizer)]
        return base / math.sqrt(d) if optimizer == "adam" else base
    return as_positive(lr, "lr", " or None (the default)")


def make_schedule(lr: float, schedule: str, steps: int):
    """optax schedule (or constant float) for ``schedule`` over ``steps`` steps.

    Parameters
    ----------
    lr : float
        The base rate.
    schedule : {"constant", "cosine", "exponential"}
        The schedule (module docstring).
    steps : int
        The step budget T.

    Returns
    -------
    float or callable
        ``lr`` for "constant", else an optax schedule, step -> rate.

    Raises
    ------
    ValueError
        If ``schedule`` is not accepted.

    Examples
    --------
    >>> make_schedule(0.1, "constant", 100)
    0.1
    >>> round(float(make_schedule(1.0, "cosine", 100)(100)), 6)  # FINAL_FRACTION at t = T
    0.01
    """
    import optax

    check_choice(schedule, SCHEDULES, "schedule")
    if schedule == "constant":
        return lr
    if schedule == "cosine":
        return optax.cosine_decay_schedule(lr, decay_steps=steps, alpha=FINAL_FRACTION)
    return optax.exponential_decay(lr, transition_steps=steps, decay_rate=FINAL_FRACTION)


def make_optimizer(optimizer: str, lr: float, schedule: str, steps: int):
    """optax.GradientTransformation for the named optimiser with the scheduled rate.

    The gradient of a tied decoder's ``"alpha"`` is first divided by ||B||_F^2 (module
    docstring).

    Parameters
    ----------
    optimizer : {"sgd", "momentum", "adam"}
        The optimiser.
    lr : float
        The base rate.
    schedule : {"constant", "cosine", "exponential"}
        The schedule (:func:`make_schedule`).
    steps : int
        The step budget.

    Returns
    -------
    optax.GradientTransformation
        For parameter dicts (``"B"``, and ``"A"`` or ``"alpha"``).

    Raises
    ------
    ValueError
        If ``optimizer`` or ``schedule`` is not accepted.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> tx = make_optimizer("sgd", 0.1, "constant", 10)
    >>> params = {"B": jnp.ones((2, 2)), "alpha": jnp.asarray(1.0)}
    >>> grads = {"B": jnp.ones((2, 2)), "alpha": jnp.asarray(4.0)}
    >>> updates, _ = tx.update(grads, tx.init(params), params)
    >>> round(float(updates["B"][0, 0]), 6), round(float(updates["alpha"]), 6)  # alpha: -0.1 * 4 / ||B||^2
    (-0.1, -0.1)
    """
    import optax

    check_choice(optimizer, OPTIMIZERS, "optimizer")
    rate = make_schedule(lr, schedule, steps)
    if optimizer == "sgd":
        base = optax.sgd(rate)
    elif optimizer == "momentum":
        base = optax.sgd(rate, momentum=0.9)
    else:
        base = optax.adam(rate)
    return optax.chain(_tied_scalar_metric(), base)


def _tied_scalar_metric():
    """Divide the gradient of "alpha" (tied decoder) by ||B||_F^2; other leaves pass unchanged."""
    import jax.numpy as jnp
    import optax

    def update(updates, state, params=None):
        if "alpha" in updates:
            updates = dict(updates, alpha=updates["alpha"] / jnp.sum(params["B"] ** 2))
        return updates, state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)
