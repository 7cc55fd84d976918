"""Exact population risks, proportional-regime limits, minimizers and compression limits.

Everything here is a pure float64 function of its arguments; see ``theory/`` at the
repository root for the derivations and the status (proved / derived / validated) of
each formula.
"""

from .compression import ONE_BIT_SCALAR_QUANTISER_RISK, ShannonGap, rate_distortion, shannon_gap
from .limits import (
    SIGN_C,
    allocation_risk,
    linearised_constant,
    min_risk,
    optimal_allocation,
    pca_risk,
    prediction_status,
)
from .minimizers import equal_norm_frame, minimizer, orthonormal_rows, tight_frame
from .orbits import orbit_min_risk, orbit_structure
from .risk import (
    code_moments,
    optimal_decoder,
    optimal_decoder_jax,
    optimal_decoder_risk_jax,
    population_risk,
    risk_jax,
)
from .spiked import spiked_min_risk, spiked_structure

__all__ = [
    "ONE_BIT_SCALAR_QUANTISER_RISK",
    "SIGN_C",
    "ShannonGap",
    "allocation_risk",
    "code_moments",
    "equal_norm_frame",
    "linearised_constant",
    "min_risk",
    "minimizer",
    "optimal_allocation",
    "optimal_decoder",
    "optimal_decoder_jax",
    "optimal_decoder_risk_jax",
    "orbit_min_risk",
    "orbit_structure",
    "orthonormal_rows",
    "pca_risk",
    "population_risk",
    "prediction_status",
    "rate_distortion",
    "risk_jax",
    "shannon_gap",
    "spiked_min_risk",
    "spiked_structure",
    "tight_frame",
]
