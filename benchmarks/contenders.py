"""Plain implementations of twolayer's two training steps, for side-by-side timing in ``run.py``.

Each contender is written from the formula the way a researcher would write it without
twolayer, and does exactly the work of one step of ``twolayer.simulations.train``:

* population step (sign, r = n/d, optimal decoder, Sigma = I, plain gradient descent at lr on
  d R(B)):  U = rows of B normalised, Q = U U^T, M = (2/pi) arcsin(Q) off the diagonal and
  1 + jitter on it, C^T = sqrt(2/pi) U, R = 1 - tr(C M^{-1} C^T) / d; the gradient by automatic
  differentiation through a general solve (``jnp.linalg.solve`` / ``torch.linalg.solve``);
* samples step (sign replaced by the smoothed sign erf(z / (sqrt 2 tau s)), untied A and B,
  Adam, batch of fresh standard Gaussian rows): the same loss as ``train(method="samples")``.

``make_*`` functions return ``(state, step)``; ``step(state) -> state`` runs one step and blocks
until its result is ready, so that a wall-clock timer around it measures the step. PyTorch is
optional: :func:`torch_available` says whether it can be imported.
"""

from __future__ import annotations

import math

import numpy as np

TWO_OVER_PI = 2.0 / math.pi
SLOPE = math.sqrt(2.0 / math.pi)
JITTER = {"float32": 1e-6, "float64": 1e-12}  # as twolayer.simulations.training.JITTER


def initial_encoder(n: int, d: int, seed: int = 0) -> np.ndarray:
    """The common start: B with i.i.d. N(0, 1/d) entries (float64; each contender casts it)."""
    return np.random.default_rng(seed).standard_normal((n, d)) / math.sqrt(d)


def torch_available() -> bool:
    """True if PyTorch can be imported (it is an optional benchmark dependency)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


# ----------------------------------------------------------------------------- population step
def make_jax_population(B0: np.ndarray, dtype: str, lr: float = 0.3):
    """Plain JAX: autodiff of d R(B) through ``jnp.linalg.solve``, one jitted GD step."""
    import jax
    import jax.numpy as jnp

    n, d = B0.shape
    jitter = JITTER[dtype]

    def objective(B):
        U = B / jnp.linalg.norm(B, axis=1, keepdims=True)
        off = 1.0 - jnp.eye(n, dtype=B.dtype)
        M = TWO_OVER_PI * jnp.arcsin(jnp.clip(U @ U.T * off, -1.0, 1.0)) + (1.0 + jitter) * jnp.eye(n, dtype=B.dtype)
        Ct = SLOPE * U
        return d - jnp.sum(Ct * jnp.linalg.solve(M, Ct))  # d R

    @jax.jit
    def step(B):
        return B - lr * jax.grad(objective)(B)

    def run(B):
        return step(B).block_until_ready()

    return jnp.asarray(B0, dtype=dtype), run


def make_torch_population(B0: np.ndarray, dtype: str, lr: float = 0.3):
    """Plain PyTorch: autograd of d R(B) through ``torch.linalg.solve``, one GD step."""
    import torch

    n, d = B0.shape
    tdtype = getattr(torch, dtype)
    jitter = JITTER[dtype]
    off = 1.0 - torch.eye(n, dtype=tdtype)
    eye = (1.0 + jitter) * torch.eye(n, dtype=tdtype)

    def run(B):
        B = B.detach().requires_grad_(True)
        U = B / torch.linalg.vector_norm(B, dim=1, keepdim=True)
        M = TWO_OVER_PI * torch.asin(torch.clamp(U @ U.T * off, -1.0, 1.0)) + eye
        Ct = SLOPE * U
        value = d - torch.sum(Ct * torch.linalg.solve(M, Ct))
        value.backward()
        with torch.no_grad():
            return B - lr * B.grad

    return torch.tensor(B0, dtype=tdtype), run


def make_twolayer_population(B0: np.ndarray, dtype: str, lr: float = 0.3, steps_per_call: int = 1):
    """twolayer's own compiled chunk of ``train(method="population")`` (sign, optimal decoder, GD).

    ``steps_per_call`` steps run in one call, as ``train`` runs them; the runner divides the
    time by it.
    """
    import jax.numpy as jnp

    from twolayer.simulations.training import _Spec

    n, d = B0.shape
    spec = _Spec("sign", "population", "optimal-decoder", "sgd", lr, "constant", 10**9, steps_per_call, 0, d, dtype)
    return _chunk_runner(spec, {"B": jnp.asarray(B0, dtype=dtype)}, seed=0)


def _chunk_runner(spec, params: dict, seed: int):
    """(state, run) for train's compiled chunk of ``spec``: run(state) advances it by spec.chunk steps."""
    import jax

    from twolayer.simulations.training import _compiled

    tx, compiled = _compiled(spec)
    key, consts = jax.random.PRNGKey(seed), {"cov": None}
    state = {"params": params, "opt": tx.init(params), "t": 0}

    def run(state):
        params, opt, values = compiled(state["params"], state["opt"], state["t"], key, consts)
        values.block_until_ready()
        return {"params": params, "opt": opt, "t": state["t"] + spec.chunk}

    return state, run


# ----------------------------------------------------------------------------- samples step
SAMPLES_LR = 0.002  # train(method="samples") defaults: Adam, lr 0.002 (cosine schedule; a constant lr here)
SMOOTHING_WIDTH = 0.5  # tau of the first step (the annealing changes the number, not the work)


def make_jax_samples(d: int, n: int, batch: int, seed: int = 0):
    """Plain JAX + optax: smoothed-sign autoencoder on fresh Gaussian batches, Adam."""
    import jax
    import jax.numpy as jnp
    import jax.scipy.special as jsp
    import optax

    rng = np.random.default_rng(seed)
    params = {"A": jnp.asarray(rng.standard_normal((d, n)) / math.sqrt(n), jnp.float32),
              "B": jnp.asarray(rng.standard_normal((n, d)) / math.sqrt(d), jnp.float32)}
    tx = optax.adam(SAMPLES_LR)

    def loss(p, x):
        z = x @ p["B"].T
        s = jnp.sqrt(jnp.mean(z * z, axis=0, keepdims=True))
        err = x - jsp.erf(z / (math.sqrt(2.0) * SMOOTHING_WIDTH * s)) @ p["A"].T
        return jnp.mean(jnp.sum(err * err, axis=1))

    @jax.jit
    def step(p, opt, key, t):
        x = jax.random.normal(jax.random.fold_in(key, t), (batch, d), jnp.float32)
        g = jax.grad(loss)(p, x)
        updates, opt = tx.update(g, opt, p)
        return optax.apply_updates(p, updates), opt

    key = jax.random.PRNGKey(seed)

    def run(state):
        p, opt, t = state
        p, opt = step(p, opt, key, t)
        jax.block_until_ready(p)
        return p, opt, t + 1

    return (params, tx.init(params), 0), run


def make_torch_samples(d: int, n: int, batch: int, seed: int = 0):
    """Plain PyTorch: the same model and loss, torch.randn batches, torch.optim.Adam."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    A = torch.tensor(rng.standard_normal((d, n)) / math.sqrt(n), dtype=torch.float32, requires_grad=True)
    B = torch.tensor(rng.standard_normal((n, d)) / math.sqrt(d), dtype=torch.float32, requires_grad=True)
    opt = torch.optim.Adam([A, B], lr=SAMPLES_LR)

    def run(state):
        x = torch.randn(batch, d, generator=gen)
        z = x @ B.T
        s = torch.sqrt(torch.mean(z * z, dim=0, keepdim=True))
        err = x - torch.erf(z / (math.sqrt(2.0) * SMOOTHING_WIDTH * s)) @ A.T
        loss = torch.mean(torch.sum(err * err, dim=1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return state

    return None, run


def make_twolayer_samples(d: int, n: int, batch: int, steps_per_call: int, seed: int = 0):
    """twolayer's own compiled chunk of ``train(method="samples")`` (sign, untied, Adam)."""
    import jax.numpy as jnp

    from twolayer.simulations.model import init_params
    from twolayer.simulations.training import _Spec

    spec = _Spec("sign", "samples", "untied", "adam", SAMPLES_LR, "cosine", 10**6, steps_per_call, batch, d, "float32")
    params = {k: jnp.asarray(v, jnp.float32)
              for k, v in init_params(d, n, parametrization="untied", init="gaussian", seed=seed).items()}
    return _chunk_runner(spec, params, seed)
