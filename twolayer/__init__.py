"""twolayer: theory-validation simulator for two-layer autoencoders x_hat = A sigma(B x).

The public API (used by the CLI, the figure scripts and the tests alike):

* :mod:`twolayer.theory` -- exact population risks, proportional-regime limits,
  minimizers and compression limits for Gaussian sources;
* :mod:`twolayer.activations` -- Gaussian moments and kernels of activations;
* :mod:`twolayer.simulations` -- gradient descent at growing d, compared with the theory;
* :mod:`twolayer.data` -- standard datasets and preprocessing.

Importing twolayer enables 64-bit floats in JAX (theory is float64); the simulations
choose float32 or float64 explicitly per run.
"""

import jax

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
