"""twolayer: theory-validation simulator for two-layer autoencoders x_hat = A sigma(B x).

The public API (used by the CLI, the figure scripts and the tests alike):

* :mod:`twolayer.theory` -- exact population risks, proportional-regime limits,
  minimizers and compression limits for Gaussian sources;
* :mod:`twolayer.activations` -- Gaussian moments and kernels of activations;
* :class:`RunConfig` and :func:`run` -- one run (train, compare with the theory), configured
  by the one option table :data:`twolayer.config.OPTIONS`;
* :mod:`twolayer.simulations` -- gradient descent at growing d, compared with the theory;
* :mod:`twolayer.data` -- standard datasets and preprocessing.

Importing twolayer changes no global state: the theory runs in NumPy float64, and the
JAX code chooses its precision per call (float32 or float64 under a scoped
``jax.enable_x64``), so JAX's and matplotlib's settings stay as the user left them.
"""

from . import activations, theory
from ._version import __version__
from .activations import get_activation
from .config import RunConfig
from .experiment import run
from .theory import (
    min_risk,
    minimizer,
    optimal_allocation,
    optimal_decoder,
    pca_risk,
    population_risk,
    rate_distortion,
    shannon_gap,
)

__all__ = [
    "RunConfig",
    "__version__",
    "activations",
    "get_activation",
    "min_risk",
    "minimizer",
    "optimal_allocation",
    "optimal_decoder",
    "pca_risk",
    "population_risk",
    "rate_distortion",
    "run",
    "shannon_gap",
    "theory",
]
