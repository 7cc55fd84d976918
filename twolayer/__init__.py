"""twolayer: theory-validation simulator for two-layer autoencoders x_hat = A sigma(B x).

The public API (used by the CLI, the figure scripts and the tests alike):

* :mod:`twolayer.theory` -- exact population risks, proportional-regime limits,
  minimizers and compression limits for Gaussian sources;
* :mod:`twolayer.activations` -- Gaussian moments and kernels of activations;
* :mod:`twolayer.simulations` -- gradient descent at growing d, compared with the theory;
* :mod:`twolayer.data` -- standard datasets and preprocessing.

Importing twolayer enables 64-bit floats in JAX (theory is float64); the simulations
choose float32 or float64 explicitly per run. It also sets ``OPENBLAS_THREAD_TIMEOUT=4``
unless the environment already sets it: a training step runs on XLA's thread pool and calls
LAPACK (OpenBLAS) for its Cholesky factorisation and triangular solves, and OpenBLAS's
worker threads otherwise spin for ~2^28 cycles after each call, taking the cores that the
step's next matrix products need (measured: a population step at d = 1024 on 2 cores took
1.4x as long in float32, 1.3x in float64). The setting only takes effect if twolayer is
imported before OpenBLAS is loaded (before ``scipy.linalg``); otherwise set it in the shell.
"""

import os

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

from . import activations, theory  # noqa: E402
from .activations import get_activation  # noqa: E402
from .theory import (  # noqa: E402
    min_risk,
    minimizer,
    optimal_allocation,
    optimal_decoder,
    pca_risk,
    population_risk,
    rate_distortion,
    shannon_gap,
)

__version__ = "0.1.0"

__all__ = [
    "activations",
    "get_activation",
    "min_risk",
    "minimizer",
    "optimal_allocation",
    "optimal_decoder",
    "pca_risk",
    "population_risk",
    "rate_distortion",
    "shannon_gap",
    "theory",
]
