"""Reproduce-figure scripts: ``twolayer figure NAME`` and ``twolayer reproduce``.

Each figure function ``make(out, *, quick, workers, progress) -> FigureOutput`` runs its
sweep spec from ``simulations/`` (resumable, cached in ``out/*.sqlite``) and writes
``NAME.png``, ``NAME.pdf`` and ``NAME.csv`` (the plotted numbers) into ``out``.
"""

from .common import FigureOutput
from .dynamics import learning_curves
from .gaussian import anisotropic, features, finite_size, risk_vs_rate
from .regularised import regularised
from .structured import phase_transition, sparse_decoders
from .universality import universality

FIGURES = {
    "risk-vs-rate": risk_vs_rate,
    "finite-size": finite_size,
    "features": features,
    "anisotropic": anisotropic,
    "universality": universality,
    "phase-transition": phase_transition,
    "sparse-decoders": sparse_decoders,
    "learning-curves": learning_curves,
    "regularised": regularised,
}

__all__ = ["FIGURES", "FigureOutput"]
