r"""One entry point, :func:`train`: gradient methods on x_hat = A sigma(B x), compared with the theory.

The optimiser minimises d R (see :mod:`.estimators`) in chunks of ``record_every`` (or 100)
steps: each chunk is one ``jax.lax.scan`` inside one ``jax.jit``-compiled function, built
once per configuration and shape and cached, so a second run with the same configuration
(another seed, say) compiles nothing. The last, partial chunk masks its surplus steps
instead of compiling a shorter scan. float32 runs are traced with JAX's 64-bit mode off
(the theory functions otherwise promote some of their constants to float64).

Stopping: after the step budget, or -- with ``tol`` -- as soon as the relative improvement
of the risk over the last ``TOL_WINDOW`` steps is below ``tol``: (R_{t-w} - R_t) / R_t for the
population method (R is the exact risk of the current parameters), and the same on the
means of the last two windows of minibatch losses for the samples method.
"""

from __future__ import annotations

import functools
import math
import sys
import time
import warnings
from dataclasses import dataclass, replace

import numpy as np

from .._resources import check_memory
from .._validation import as_nonnegative, as_positive, as_size
from ..activations import get_activation
from ..theory import code_moments, optimal_decoder, population_risk
from ..theory.regularised import code_penalties, penalty_warning
from . import threads
from .empirical import heldout_risk, least_squares_decoder
from .estimators import SIGN_SMOOTHING, population_loss, sample_loss, support_loss
from .metrics import compare_with_theory
from .model import INITS, PARAMETRIZATIONS, THEORY_INIT_PARAMETRIZATIONS, check_choice, decoder, init_params, tied_scale
from .optim import DEFAULT_OPTIMIZER, DEFAULT_SCHEDULE, OPTIMIZERS, SCHEDULES, check_lr, make_optimizer
from .sources import make_source

METHODS = ("population", "samples")
DTYPES = ("float32", "float64")
#: steps per compiled chunk when ``record_every`` is 0.
CHUNK = 100
#: window (steps) of the ``tol`` stopping rule.
TOL_WINDOW = 100
#: seconds before the progress bar appears (short runs stay silent).
PROGRESS_DELAY = 2.0
#: absolute jitter added to the kernel matrix M before the decoder's solve
#: (optimal-decoder parametrisation; M has an O(1) diagonal there).
JITTER = {"float32": 1e-6, "float64": 1e-12}


class PenaltyWarning(UserWarning):
    """An encoder-only penalty that a rescaling of the weights can drive to 0 (:func:`~twolayer.theory.regularised.penalty_warning`)."""


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite during training (usually: the learning rate is too large).

    A subclass of ``RuntimeError``; the message names the step and suggests a smaller ``lr``.
    """


@dataclass
class TrainResult:
    """Outcome of :func:`train`: float64 (A, B), the initial encoder B0, history, and the theory comparison.

    ``steps`` is the number of steps run, ``seconds`` the wall time (compilation included),
    ``metrics`` the dict of :func:`~twolayer.simulations.metrics.compare_with_theory` (plus
    the trained-decoder risks of a samples run), ``stopped`` "budget" or "tol".

    ``history`` has lists "step", "loss" (training objective / d: the risk for the population
    method, the minibatch risk for samples) and "risk" (exact population risk: of the trained
    parameters for population, of B with the optimal decoder for samples from a Gaussian
    source; None for a data matrix), recorded every ``record_every`` steps (empty if 0).

    Parameters
    ----------
    A : ndarray
        d x n decoder (float64).
    B : ndarray
        n x d trained encoder (float64).
    B0 : ndarray
        n x d initial encoder, as trained (rounded to ``dtype``), for the source itself.
    history : dict
        Lists "step", "loss" and "risk" (above).
    steps : int
        Steps run.
    seconds : float
        Wall time, compilation included.
    metrics : dict
        The theory comparison (above).
    config : dict
        The resolved configuration (d, n, rate, activation, method, optimizer, lr, ...).
    stopped : str, optional
        ``"budget"`` (default) or ``"tol"``.
    """

    A: np.ndarray
    B: np.ndarray
    B0: np.ndarray
    history: dict
    steps: int
    seconds: float
    metrics: dict
    config: dict
    stopped: str = "budget"

    def as_record(self) -> dict:
        """A flat JSON-serialisable dict: the configuration, steps, seconds and every metric.

        Numpy scalars become Python numbers and non-finite floats None; the arrays
        (A, B, B0) and the history are left out.

        Returns
        -------
        dict
            ``config``, then ``steps``, ``seconds``, ``stopped``, then ``metrics``.
        """
        record = dict(self.config)
        record.update(steps=int(self.steps), seconds=float(self.seconds), stopped=self.stopped)
        record.update(self.metrics)
        return {k: _plain(v) for k, v in record.items()}


def _plain(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class _Spec:
    """Everything the compiled chunk function depends on, besides array shapes (hashable)."""

    activation: object
    method: str
    parametrization: str
    optimizer: str
    lr: float
    schedule: str
    steps: int
    chunk: int
    batch_size: int
    d: int
    dtype: str
    law: object = None
    noise: float = 0.0
    weight_decay: float = 0.0
    l1: float = 0.0
    contractive: float = 0.0
    fallback: bool = False  # the LU branch of the optimal decoder's solve; off on the hot path (_run)


@functools.lru_cache(maxsize=32)
def _compiled(spec: _Spec):
    """(optax transformation, jitted run(params, opt_state, start, key, consts) -> (params, opt_state, losses))."""
    import jax
    import jax.numpy as jnp
    import optax

    act = get_activation(spec.activation)
    tx = make_optimizer(spec.optimizer, spec.lr, spec.schedule, spec.steps)
    if spec.method == "population" and spec.law is not None:
        loss = support_loss(act, spec.law)
    elif spec.method == "population":
        loss = population_loss(act, spec.parametrization, JITTER[spec.dtype], spec.noise, spec.fallback)
    else:
        loss = sample_loss(
            act, d=spec.d, batch_size=spec.batch_size, steps=spec.steps, dtype=jnp.dtype(spec.dtype), law=spec.law,
            smoothing=SIGN_SMOOTHING, noise=spec.noise, l1=spec.l1, contractive=spec.contractive,
        )
    exact_penalties = spec.method == "population" and (spec.l1 or spec.contractive)

    def objective(params, t, key, consts):
        """d R + code penalties + gamma (|A|^2 + |B|^2); the value reported is d R."""
        value = loss(params, t, key, consts)
        total, value = value if isinstance(value, tuple) else (value, value)  # samples: (objective, risk)
        if exact_penalties:  # exact Gaussian values of the code penalties (theory.regularised.code_penalties)
            pen = code_penalties(params["B"], activation=act, cov=consts.get("cov"), noise=spec.noise, xp=jnp)
            total = total + spec.l1 * pen["l1"] + (spec.contractive * pen["contractive"] if spec.contractive else 0.0)
        if spec.weight_decay:
            total = total + spec.weight_decay * (jnp.sum(params["B"] ** 2) + jnp.sum(decoder(params, jnp) ** 2))
        return total, value

    grad = jax.value_and_grad(objective, has_aux=True)

    def one_step(carry, t, key, consts):
        params, opt_state = carry
        (_, value), g = grad(params, t, key, consts)
        updates, new_state = tx.update(g, opt_state, params)
        new_params = optax.apply_updates(params, updates)
        live = t < spec.steps  # the surplus steps of a last, partial chunk change nothing
        keep = functools.partial(jax.tree_util.tree_map, lambda new, old: jnp.where(live, new, old))
        return (keep(new_params, params), keep(new_state, opt_state)), value

    @jax.jit
    def run(params, opt_state, start, key, consts):
        ts = start + jnp.arange(spec.chunk)
        (params, opt_state), values = jax.lax.scan(
            lambda c, t: one_step(c, t, key, consts), (params, opt_state), ts
        )
        return params, opt_state, values

    return tx, run


def _check_regularisers(noise, weight_decay, parametrization, data, law, l1=0.0, contractive=0.0, act=None):
    """(noise, weight_decay, l1, contractive) as floats >= 0; ValueError where they are not built or meaningless."""
    values = []
    for name, value in (("noise", noise), ("weight_decay", weight_decay), ("l1", l1), ("contractive", contractive)):
        value = 0.0 if value is None or value == 0 else as_positive(value, name, " or 0")
        values.append(value)
    noise, weight_decay, l1, contractive = values
    if (noise or weight_decay or l1 or contractive) and (data is not None or law is not None):
        raise ValueError("noise, weight_decay, l1 and contractive are built for the Gaussian source so far (not for "
                         "a data matrix or a structured law)")
    if (l1 or contractive) and act is not None:
        check_penalties(act, parametrization, l1, contractive)
    if weight_decay and parametrization == "optimal-decoder":
        raise ValueError("weight_decay penalises the trained parameters; with parametrization 'optimal-decoder' the "
                         "decoder is not one of them (and R(B) does not depend on the scale of B's rows): use untied")
    return noise, weight_decay, l1, contractive


def check_penalties(act, parametrization: str, l1: float, contractive: float) -> None:
    """ValueError for a code penalty that is meaningless for this activation and parametrisation (see the messages)."""
    if act.name == "sign":
        if l1:
            raise ValueError("l1 on a sign code is meaningless: |sign| = 1, so the penalty is the constant n")
        raise ValueError("contractive on a sign code is meaningless: sign' = 0 almost everywhere, so the penalty is 0")
    if parametrization == "optimal-decoder" and act.homogeneous:
        raise ValueError(f"a code penalty with parametrization optimal-decoder and {act.name} is degenerate: R(B) "
                         "ignores the row norms of B while the penalty shrinks with them, so B -> 0 at no cost; use "
                         "parametrization untied with weight_decay, or erf/tanh")
    if contractive:
        act.derivative(np.zeros(1))  # ValueError for an activation without a derivative here


def _check_options(method, parametrization, optimizer, schedule, dtype, init, tol, data, law=None):
    check_choice(method, METHODS, "method")
    if data is not None and method != "samples":
        raise ValueError("a data matrix can only be used with method='samples' (population needs a covariance)")
    if law is not None and method == "population" and not law.is_gaussian_mixture:
        raise ValueError(f"method 'population' on a structured source needs a law that is Gaussian given its "
                         f"support (bernoulli-gaussian:P); {law.spec} is trained with method='samples'")
    if parametrization is None:
        parametrization = "optimal-decoder" if method == "population" and law is None else "untied"
    if (law is not None or data is not None) and parametrization == "skip":
        raise ValueError("parametrization 'skip' is built for the Gaussian source so far (its exact risk and the "
                         "closed-form skip weight); use untied")
    if law is not None and parametrization == "optimal-decoder":
        raise ValueError("parametrization 'optimal-decoder' needs the exact Gaussian risk; a structured source "
                         "trains the decoder ('untied' or 'tied')")
    check_choice(parametrization, PARAMETRIZATIONS, "parametrization")
    if method == "samples" and parametrization == "optimal-decoder":
        raise ValueError(
            "parametrization 'optimal-decoder' needs the exact population risk; with method='samples' "
            "use 'untied' (the decoder is refitted at the end) or 'tied'"
        )
    optimizer = DEFAULT_OPTIMIZER[method] if optimizer is None else optimizer
    schedule = DEFAULT_SCHEDULE[method] if schedule is None else schedule
    check_choice(optimizer, OPTIMIZERS, "optimizer")
    check_choice(schedule, SCHEDULES, "schedule")
    check_choice(dtype, DTYPES, "dtype")
    check_choice(init, INITS, "init")
    if init == "theory" and parametrization not in THEORY_INIT_PARAMETRIZATIONS:
        raise ValueError(f"init theory starts B at the theory encoder and A at its optimal decoder: it needs "
                         f"parametrization {' or '.join(THEORY_INIT_PARAMETRIZATIONS)}, got {parametrization!r}")
    if tol is not None:
        tol = as_positive(tol, "tol", " or None")
    return parametrization, optimizer, schedule, tol


def train(
    d,
    n,
    *,
    activation="sign",
    method="population",
    cov=None,
    spectrum=None,
    data=None,
    law=None,
    rotation=None,
    steps=2000,
    optimizer=None,
    lr=None,
    schedule=None,
    batch_size=256,
    tol=None,
    parametrization=None,
    init="gaussian",
    init_scale=1.0,
    start="independent",
    noise=0.0,
    weight_decay=0.0,
    l1=0.0,
    contractive=0.0,
    seed=0,
    validation=0.0,
    dtype="float32",
    record_every=0,
    progress=False,
    blas_threads=threads.DEFAULT_BLAS_THREADS,
) -> TrainResult:
    r"""Train x_hat = A sigma(B x) on an n-neuron code of d-dimensional inputs; compare with the theory.

    Parameters
    ----------
    d : int
        Input dimension, >= 1.
    n : int
        Code size (number of neurons), >= 1; the rate is n / d.
    activation : str, Activation or callable, optional
        The code's non-linearity sigma (default ``"sign"``; anything
        :func:`~twolayer.activations.get_activation` accepts).
    method : {"population", "samples"}, optional
        "population" (default) -- gradient descent on the exact risk of a Gaussian source
        N(0, cov); "samples" -- minibatch gradients on ``batch_size`` fresh samples per step
        (or rows of a fixed ``data`` matrix, N x d, drawn with replacement); sign is trained
        through its Gaussian smoothing (:mod:`.estimators`).
    cov, spectrum, data : array_like, optional
        The source (at most one; ``spectrum`` = a diagonal covariance); none = the isotropic
        N(0, I). ``data`` (N x d) needs method "samples".
    law, rotation : Law and array_like, optional
        A structured source instead: x = Q z with z i.i.d. of ``law`` (a
        :class:`twolayer.theory.priors.Law`, unit variance) and Q = ``rotation`` (d x d
        orthogonal; None: the identity); method "samples" (fresh samples, smoothed sign) or,
        for Bernoulli-Gaussian, "population" (exact Gaussian risks on fresh supports,
        :func:`~.estimators.support_loss`). The decoder is returned as trained, and the metrics
        are those of the Gaussian with the same second moments (I); the risk under the law
        itself is :func:`twolayer.theory.structured.structured_risk`.
    steps : int, optional
        Step budget, >= 1 (default 2000).
    optimizer : {"sgd", "momentum", "adam"} or None, optional
        None: "sgd" -- plain gradient descent -- for population, "adam" for samples.
    lr : float or None, optional
        Base rate, finite and > 0 (None: the default per method and optimizer,
        :data:`twolayer.simulations.optim.DEFAULT_LR`; :func:`~.optim.check_lr`).
    schedule : {"constant", "cosine", "exponential"} or None, optional
        None: "constant" for population, "cosine" for samples.
    batch_size : int, optional
        Samples per step of method "samples" (default 256).
    tol : float or None, optional
        Stop early (module docstring); None (default): run the whole budget.
    parametrization : {"optimal-decoder", "untied", "tied"} or None, optional
        "optimal-decoder" (population default: gradient on B of R(A*(B), B)), "untied"
        (samples default: A and B trained), "tied" (A = alpha B^T). At the end A is: A*(B)
        for "optimal-decoder"; for "untied" with samples, refitted -- the exact A*(B) for a
        Gaussian source, least squares on the data for a data matrix; otherwise the trained
        decoder.
    init : {"gaussian", "orthogonal", "flat", "theory"}, optional
        Initialisation of B (and A for "untied"; default "gaussian"). "theory": the theory encoder
        for the source's covariance (its second-moment matrix for data; :func:`theory_start`,
        Adam on the exact Gaussian risk) and, for "untied", its Gaussian optimal decoder;
        ``init_scale`` and ``start`` do not apply.
    init_scale : float, optional
        eps > 0 multiplying the initial B (and A): B(0) = eps G / sqrt(d) for "gaussian" (default 1).
    start : {"independent", "tied"}, optional
        For "untied": A(0) drawn on its own (default) or A(0) = B(0)^T (the start of the exact
        linear learning curves, :mod:`twolayer.theory.linear_dynamics`).
    noise : float, optional
        Denoising: input-noise variance tau^2 >= 0 relative to the per-coordinate variance; the
        encoder sees x + tau eps and the target is x (default 0). Gaussian source only.
    weight_decay : float, optional
        gamma >= 0: the objective is d R + gamma (||A||_F^2 + ||B||_F^2) on the standardised source
        (= 2 L with L of theory/dynamics.md; default 0). Not with "optimal-decoder".
    l1, contractive : float, optional
        Code penalties added to d R: l1 E sum_i |sigma(z_i)| and contractive E sum_i sigma'(z_i)^2 ||b_i||^2
        (exact Gaussian values for population, :func:`twolayer.theory.regularised.code_penalties`; minibatch
        values for samples; default 0). Refused for sign, and with "optimal-decoder" for relu and linear;
        a :class:`PenaltyWarning` for the rescaling degeneracy (relu, linear without weight_decay).
    seed : int, optional
        Fixes the initialisation and the samples; same seed, same numbers (default 0).
    validation : float, optional
        Early stopping for a ``data`` matrix (method "samples"): this fraction of its rows, in
        [0, 1), drawn with ``default_rng([seed, VALIDATION_STREAM])``, is held out; training sees
        the rest, and every :data:`CHUNK` steps the encoder is scored on the held-out rows by
        :func:`validation_risk` (least-squares decoder fitted on the training rows, the pipeline
        of the data runs). The best encoder is returned (``metrics["validation_risk"]``,
        ``metrics["validation_step"]``: steps at that point; ``B`` and the trained decoder of
        that point). 0 (default): off, the last encoder.
    dtype : {"float32", "float64"}, optional
        Precision of the training (default "float32"); results are returned in float64.
    record_every : int, optional
        Record the history every so many steps (0, the default: none).
    progress : bool, optional
        tqdm on stderr (shown after :data:`PROGRESS_DELAY` seconds; default False).
    blas_threads : int or None, optional
        OpenBLAS threads while the compiled chunks run (None: leave OpenBLAS alone; see
        :mod:`.threads`; default :data:`~.threads.DEFAULT_BLAS_THREADS`).

    Returns
    -------
    TrainResult
        The trained (A, B), the initial B0, the history and the comparison with the theory.

    Raises
    ------
    ValueError
        For invalid arguments, or a size that cannot fit in memory (:func:`twolayer._resources.check_memory`).
    TrainingDivergedError
        When the loss becomes non-finite.

    References
    ----------
    .. [1] A. Shevchenko, K. Kögler, H. Hassani and M. Mondelli, "Fundamental limits of
       two-layer autoencoders, and achieving them with gradient methods", ICML 2023
       (PMLR 202), arXiv:2212.13468.
    """
    d = as_size(d, "d (input dimension)")
    n = as_size(n, "n (code size)")
    check_memory(d, n)  # before anything of size n x d is allocated
    threads.check_limit(blas_threads)
    act = get_activation(activation)
    parametrization, optimizer, schedule, tol = _check_options(
        method, parametrization, optimizer, schedule, dtype, init, tol, data, law
    )
    noise, weight_decay, l1, contractive = _check_regularisers(noise, weight_decay, parametrization, data, law, l1,
                                                              contractive, act)
    degenerate = penalty_warning(act, parametrization, weight_decay, l1, contractive)
    if degenerate:
        warnings.warn(degenerate, PenaltyWarning, stacklevel=2)
    steps = as_size(steps, "steps")
    batch_size = as_size(batch_size, "batch_size")
    record_every = as_size(record_every, "record_every", minimum=0)
    seed = as_size(seed, "seed", minimum=0)
    lr = check_lr(lr, method, optimizer, d)
    data, held_out = _validation_split(data, validation, method, seed)
    source = make_source(d, cov=cov, spectrum=spectrum, data=data, law=law, rotation=rotation)
    monitor = None if held_out is None else _validation_monitor(source, held_out, act)

    if init == "theory":
        params0 = theory_start(d, n, act, source.standardised()["cov"], parametrization, seed, dtype)
    else:
        params0 = init_params(d, n, parametrization=parametrization, init=init, seed=seed, init_scale=init_scale,
                              start=start)  # for the standardised source
    if parametrization == "tied":
        C, M, _ = code_moments(params0["B"], source.standardised()["cov"], act)
        params0["alpha"] = np.float64(tied_scale(params0["B"], C, M))
    chunk = min(record_every or CHUNK, steps)
    spec = _Spec(
        activation if isinstance(activation, str) else act,
        method, parametrization, optimizer, lr, schedule, steps, chunk, batch_size, d, dtype, law, noise, weight_decay,
        l1, contractive,
    )

    start_time = time.perf_counter()
    with threads.blas_threads(blas_threads):
        params, history, steps_run, stopped, best = _run(spec, params0, source, seed, tol, record_every, progress, act,
                                                         monitor)
    A, extra = _final_decoder(params, parametrization, method, source, act, noise * source.variance)
    B0 = params0["B"].astype(dtype).astype(np.float64) / np.sqrt(source.variance)  # the start as trained
    metrics = compare_with_theory(A, params["B"], activation=act, cov=source.cov, B0=B0)
    metrics.update(extra)
    if best is not None:
        metrics["validation_risk"], metrics["validation_step"] = best
        metrics["validation_rows"] = int(held_out.shape[0])
    skip = params.get("b")
    if skip is not None:  # x_hat = b x~ + A sigma(B x~): its own risk; the closed-form weight (isotropic)
        metrics["final_risk"] = extra["trained_network_risk"]
        if source.isotropic:
            metrics["predicted_skip_weight"] = 1.0 / (1.0 + noise)
    if (l1 or contractive or act.name in ("linear", "relu", "erf", "tanh")) and source.law is None \
            and source.data is None:
        # exact values of the code penalties of the trained encoder, on the source itself (also unpenalised runs)
        pen = code_penalties(params["B"], activation=act, cov=source.cov, noise=noise * source.variance)
        metrics["final_l1_penalty"], metrics["final_contractive_penalty"] = pen["l1"], pen["contractive"]
    if noise:  # the objective's own risk: the encoder sees x + tau eps (tau^2 relative to the variance)
        metrics["final_risk_denoising"] = population_risk(params["B"], A, activation=act, cov=source.cov,
                                                          noise=noise * source.variance, skip=skip)
    seconds = time.perf_counter() - start_time

    config = {
        "d": d, "n": n, "rate": n / d, "activation": act.name, "method": method,
        "parametrization": parametrization, "optimizer": optimizer, "lr": lr, "schedule": schedule,
        "batch_size": batch_size if method == "samples" else None, "init": init, "init_scale": float(init_scale),
        "start": start if parametrization == "untied" else None, "noise": noise, "weight_decay": weight_decay,
        "l1": l1, "contractive": contractive,
        "seed": seed,
        "dtype": dtype, "tol": tol, "step_budget": steps,
        "source": ("structured" if source.law is not None else "data" if source.data is not None
                   else "isotropic" if source.isotropic else "covariance"),
    }
    return TrainResult(A, params["B"], B0, history, steps_run, seconds, metrics, config, stopped)


#: optimiser of the theory encoder (``init="theory"`` and the data runs' control): Adam reaches the
#: Gaussian optimum on spiked spectra in 2000 steps (within 2.7 % of the best orbit encoder on raw-patch
#: spectra), where plain gradient descent, the population default, is up to 61 % above it
#: (benchmarks/training_gap.py; theory/universality.md, "The theory encoder converges").
THEORY_OPTIMIZER = "adam"
#: population steps of the theory encoder that ``init="theory"`` starts from.
THEORY_START_STEPS = 2000


def theory_start(d, n, act, cov, parametrization, seed, dtype) -> dict:
    """Parameters at the theory encoder: B from Adam on the exact Gaussian risk R(A*(B), B) of N(0, cov).

    ``cov`` is the standardised source's covariance (None: I); A = A*(B) = C M^{-1} for
    "untied". Same seed, same start.
    """
    pop = train(d, n, activation=act, method="population", cov=cov, steps=THEORY_START_STEPS,
                optimizer=THEORY_OPTIMIZER, seed=seed, dtype=dtype)
    params = {"B": pop.B}
    if parametrization == "untied":
        params["A"] = optimal_decoder(pop.B, activation=act, cov=cov)
    return params


#: second entry of the seed sequence of the validation rows: default_rng([seed, VALIDATION_STREAM]).
VALIDATION_STREAM = 2


def _validation_split(data, validation, method, seed):
    """(training rows, held-out rows or None): ``validation`` of the rows of ``data`` held out (see :func:`train`)."""
    if validation is None:
        return data, None
    fraction = as_nonnegative(validation, "validation (a fraction of the data rows)")
    if fraction >= 1:
        raise ValueError(f"validation must be a number >= 0 and < 1 (a fraction of the data rows), got {validation!r}")
    if fraction == 0:
        return data, None
    validation = fraction
    if data is None or method != "samples":
        raise ValueError("validation holds out rows of a data matrix: it needs data and method 'samples'")
    X = np.asarray(data, dtype=np.float64)
    count = int(round(validation * X.shape[0]))
    if count < 1 or X.shape[0] - count < 2:
        raise ValueError(f"validation = {validation:g} of {X.shape[0]} rows leaves {count} held-out and "
                         f"{X.shape[0] - count} training rows; each side needs rows (>= 1 and >= 2)")
    order = np.random.default_rng([int(seed), VALIDATION_STREAM]).permutation(X.shape[0])
    return X[order[count:]], X[order[:count]]


def validation_risk(X_val, X_fit, B, activation="sign") -> float:
    """R_val = sum ||x - A sigma(Bx)||^2 / sum ||x||^2 over the held-out rows, A = least squares on X_fit."""
    return heldout_risk(X_val, B, least_squares_decoder(X_fit, B, activation=activation), activation=activation)


def _validation_monitor(source, held_out, act):
    """params (standardised) -> validation risk, on the standardised rows (the ratio is scale-free)."""
    fit = source.standardised()["data"]
    held_out = held_out / np.sqrt(source.variance)
    return lambda params: validation_risk(held_out, fit, np.asarray(params["B"], dtype=np.float64), act)


def _run(spec, params0, source, seed, tol, record_every, progress, act, monitor=None):
    """The chunk loop: returns (float64 params, history, steps run, why it stopped, (validation risk, step) or None).

    With a ``monitor`` (params -> validation risk) the parameters of its best chunk end are returned.
    """
    import jax
    import jax.numpy as jnp
    from tqdm.auto import tqdm

    with jax.enable_x64(spec.dtype == "float64"):
        dt = jnp.dtype(spec.dtype)

        def put(x):
            return None if x is None else jnp.asarray(x, dtype=dt)

        tx, run = _compiled(spec)
        params = {k: put(v) for k, v in params0.items()}
        opt_state = tx.init(params)
        std = source.standardised()
        names = ("cov", "rotation") if spec.method == "population" else ("data", "scale", "rotation")
        consts = {k: put(std[k]) for k in names}
        key = jax.random.fold_in(jax.random.PRNGKey(seed), 1)

        history = {"step": [], "loss": [], "risk": []}
        losses = np.empty(0)
        stopped = "budget"
        best = None  # (validation risk, steps, float64 params) of the best chunk end
        bar = tqdm(total=spec.steps, disable=not progress, file=sys.stderr, desc=f"train d={spec.d}", delay=PROGRESS_DELAY)
        with bar:
            while losses.size < spec.steps:
                done = losses.size
                start_risk = _exact_risk(params, spec, source, act) if record_every else None
                before = params, opt_state
                params, opt_state, values = run(params, opt_state, done, key, consts)
                if _needs_fallback(spec, params, values):  # a Cholesky breakdown: redo the chunk with LU there
                    spec = replace(spec, fallback=True)
                    tx, run = _compiled(spec)
                    params, opt_state, values = run(*before, done, key, consts)
                values = np.asarray(values, dtype=np.float64)[: spec.steps - done] / spec.d
                _check_finite(values, done, spec)
                losses = np.concatenate([losses, values])
                bar.update(values.size)
                if record_every:
                    _record(history, losses, done, record_every, spec, start_risk)
                if monitor is not None:
                    value = monitor(params)  # a non-finite value (a diverging chunk) is never kept
                    if math.isfinite(value) and (best is None or value < best[0]):
                        best = (value, losses.size, {k: np.asarray(v, dtype=np.float64) for k, v in params.items()})
                if tol is not None and _converged(losses, tol, spec.method):
                    stopped = "tol"
                    break
        out = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()} if best is None else best[2]
    if not all(np.all(np.isfinite(v)) for v in out.values()):
        _check_finite(np.array([np.nan]), losses.size, spec)
    chosen = None if best is None else (float(best[0]), int(best[1]))
    return _unstandardise(out, source.variance), history, int(losses.size), stopped, chosen


def _needs_fallback(spec, params, values) -> bool:
    """True if a chunk solved for the optimal decoder without the LU fallback and came out non-finite.

    The compiled step leaves the LU branch out (:func:`~twolayer.theory._jax_linalg.psd_solve`,
    ``fallback=False``), so a Cholesky breakdown gives NaN; :func:`_run` then reruns the chunk
    with the fallback, which gives the same numbers as a step that had it all along. A chunk
    that is still non-finite with it has diverged (:func:`_check_finite` says so).
    """
    if spec.fallback or spec.method != "population" or spec.parametrization != "optimal-decoder":
        return False
    import jax.numpy as jnp

    return not (bool(jnp.all(jnp.isfinite(values))) and all(bool(jnp.all(jnp.isfinite(p))) for p in params.values()))


def _unstandardise(params, v):
    """Parameters for the source itself from those for x / sqrt(v): B / sqrt(v), A sqrt(v), alpha v, b as it is."""
    factor = {"B": 1.0 / np.sqrt(v), "A": np.sqrt(v), "alpha": v, "b": 1.0}
    return {k: p * factor[k] for k, p in params.items()}


def _check_finite(values, done, spec):
    """TrainingDivergedError naming the first step of a chunk whose loss is not finite or has blown up.

    ``values`` are the losses (risks relative to E||x||^2) of steps ``done``, ``done + 1``, ...; a loss
    has blown up when it is above :data:`DIVERGED_RISK` times max(1, the chunk's first loss) (see
    :func:`_blown_up`; the first chunk's first loss is the start's).
    """
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    bad = np.flatnonzero(~finite | _blown_up(values))
    if bad.size:
        step = done + int(bad[0])
        value = values[bad[0]]
        if finite[bad[0]]:
            what = (f"the loss (the risk relative to E|x|^2, which the zero decoder scores 1) rose to "
                    f"{value:.3g}, more than {DIVERGED_RISK:g} times max(1, its value {values[0]:.3g} at step {done})")
        else:
            what = f"the loss became {value}"
        raise TrainingDivergedError(
            f"training diverged at step {step}: {what} "
            f"(method={spec.method!r}, optimizer={spec.optimizer!r}, lr={spec.lr:g}); "
            f"try a smaller learning rate, e.g. lr={spec.lr / 10:g}"
        )


def _exact_risk(params, spec, source, act):
    """Exact risk of B with the optimal decoder (samples from a Gaussian source), else None."""
    if spec.method != "samples" or source.data is not None or source.law is not None:
        return None
    B = np.asarray(params["B"], dtype=np.float64)  # for the standardised source: same risk
    return population_risk(B, activation=act, cov=source.standardised()["cov"])


def _record(history, losses, done, every, spec, start_risk):
    """Append steps t in [done, losses.size) with t % every == 0 (the parameters after t updates).

    The population loss is the exact risk itself; for samples the exact risk is known at the
    chunk's start, which is the recorded step because chunks are ``every`` steps long.
    """
    for t in range(done, losses.size):
        if t % every == 0:
            history["step"].append(t)
            history["loss"].append(float(losses[t]))
            exact = float(losses[t]) if spec.method == "population" else (start_risk if t == done else None)
            history["risk"].append(exact)


def _converged(losses, tol, method) -> bool:
    w = TOL_WINDOW
    if method == "population":
        if losses.size <= w:
            return False
        now, before = losses[-1], losses[-1 - w]
    else:
        if losses.size < 2 * w:
            return False
        now, before = losses[-w:].mean(), losses[-2 * w : -w].mean()
    return (before - now) / abs(now) < tol


def _final_decoder(params, parametrization, method, source, act, noise=0.0):
    """The reported decoder A (see :func:`train`) and extra metrics on the trained one.

    A denoising run (``noise`` = tau^2 in the source's units) reports the decoder of its objective:
    the optimal (or refitted) decoder for the noisy input x + tau eps.

    A samples run's trained network (its encoder with the decoder as trained) is checked first
    (:func:`_check_trained`): a diverged one raises :class:`TrainingDivergedError`, whatever the
    refitted decoder would make of its encoder. ``trained_network_risk`` is the exact risk of the
    network as trained (for a data matrix: under the Gaussian with the data's second moments) and
    ``refitted_decoder_risk`` that of its encoder with the refitted decoder A*(B) (Gaussian source);
    ``final_risk_trained_decoder`` is the older name of the first.
    """
    B = params["B"]
    if parametrization == "optimal-decoder":
        return optimal_decoder(B, activation=act, cov=source.cov, noise=noise), {}
    trained = decoder(params)
    if parametrization == "skip":  # the network as trained, skip connection included
        b = float(params["b"])
        risk = population_risk(B, trained, activation=act, cov=source.cov, skip=b)  # clean input
        if method == "samples":
            _check_trained(B, trained, act, source, risk)
        return trained, {"skip_weight": b, "trained_network_risk": risk}
    if method != "samples":
        return trained, {}
    risk = _check_trained(B, trained, act, source)
    if parametrization != "untied" or source.law is not None:
        return trained, {} if source.law is not None else {"trained_network_risk": risk}
    extra = {"final_risk_trained_decoder": risk, "trained_network_risk": risk}
    if source.data is None:
        extra["refitted_decoder_risk"] = population_risk(B, activation=act, cov=source.cov, noise=noise)
        return optimal_decoder(B, activation=act, cov=source.cov, noise=noise), extra
    X = source.data
    A = least_squares_decoder(X, B, activation=act)
    extra["empirical_risk"] = heldout_risk(X, B, A, activation=act)
    extra["empirical_risk_trained_decoder"] = heldout_risk(X, B, trained, activation=act)
    _check_trained(B, trained, act, source, extra["empirical_risk_trained_decoder"])
    return A, extra


# ----------------------------------------------------------------------------- divergence
#: a risk (E||x - x_hat||^2 / E||x||^2) above DIVERGED_RISK times a reference means the training diverged.
#: The zero decoder (x_hat = 0) scores 1 and an untied network at its random start about 1 + r/2, so the
#: references are max(1, the loss at the first step of a chunk) for the loss of every training step
#: (:func:`_check_finite`) and max(1, r) for the exact risk of a samples run's trained network
#: (:func:`_check_trained`): a network a thousand times worse than outputting nothing, and than where
#: it started, has left any sensible trajectory (e.g. lr = 1e3 with sgd at d = 32: 8e40). NaN and inf diverge too.
DIVERGED_RISK = 1e3


def _blown_up(values: np.ndarray) -> np.ndarray:
    """Which finite losses of one chunk are above DIVERGED_RISK x max(1, the chunk's first loss)."""
    if values.size == 0 or not np.isfinite(values[0]):
        return np.zeros(values.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        return np.isfinite(values) & (values > DIVERGED_RISK * max(1.0, float(values[0])))


def _check_trained(B, A, act, source, risk=None) -> float:
    """The exact risk of the network (A, B) as trained; TrainingDivergedError when it diverged.

    ``risk`` is a risk already measured (the empirical risk on a data matrix); None: the exact risk
    under N(0, cov) of the source (inf when B or A overflows float64). Diverged: not finite, or
    above DIVERGED_RISK x max(1, r) (r = n/d; the zero decoder scores 1).
    """
    if risk is None:
        try:
            risk = population_risk(B, A, activation=act, cov=source.cov)
        except ValueError:  # B or A so large that their products overflow float64: diverged
            risk = math.inf
    n, d = B.shape
    bound = DIVERGED_RISK * max(1.0, n / d)
    if not (math.isfinite(risk) and risk <= bound):
        on = "on the training rows" if source.data is not None else "(exact)"
        raise TrainingDivergedError(
            f"training diverged: the network as trained has risk {risk:.3g} {on} after the last step, above "
            f"{bound:g} (= {DIVERGED_RISK:g} x max(1, r); the zero decoder scores 1); try a smaller learning rate (lr)"
        )
    return float(risk)
