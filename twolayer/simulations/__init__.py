"""Gradient methods on x_hat = A sigma(B x) at growing d, compared with the theory.

>>> from twolayer.simulations import train
>>> result = train(64, 32, activation="sign", steps=300)      # population GD, sign, r = 1/2
>>> record = result.as_record()                                # doctest: +SKIP
>>> record["relative_gap"], record["polar_alignment"]          # doctest: +SKIP

Modules: :mod:`.model` (initialisation, parametrisations), :mod:`.sources` (Gaussian or
data), :mod:`.estimators` (objectives; Gaussian smoothing for sign), :mod:`.optim`
(optax optimisers and schedules), :mod:`.training` (:func:`train`), :mod:`.metrics`
(comparison with the theory), :mod:`.sweep_dims` (growing dimensions).
"""

from .metrics import (
    allocation_profile,
    compare_with_theory,
    decoder_distance,
    frame_spectrum_error,
    polar_alignment,
)
from .sweep_dims import fit_finite_size, growing_dimensions
from .training import TrainingDivergedError, TrainResult, train

__all__ = [
    "TrainResult",
    "TrainingDivergedError",
    "allocation_profile",
    "compare_with_theory",
    "decoder_distance",
    "fit_finite_size",
    "frame_spectrum_error",
    "growing_dimensions",
    "polar_alignment",
    "train",
]
