"""Tests of the sign autoencoder's spectral flow (theory/dynamics.md, section 2; derived, validated here).

The prediction is checked against population gradient descent run by twolayer itself (the default
`train`: sign code, optimal decoder, plain GD), against the exact risk of the start, and against
the theorem's limits at the end of the flow.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from twolayer import RunConfig, run
from twolayer.cli import main
from twolayer.simulations import train
from twolayer.theory import min_risk, population_risk
from twolayer.theory.linear_dynamics import time_of_steps
from twolayer.theory.sign_dynamics import (
    encoder_spectrum,
    limit_curve,
    linearised_sign_risk,
    sign_curve,
    spectral_flow,
    spectral_map,
)


@pytest.mark.parametrize("rate", [0.5, 1.0, 2.0])
def test_spectral_map_keeps_the_trace_and_ends_at_the_theorem(rate):
    """Statement: the map keeps sum_k q_k = n, and its fixed point (equal nonzero q_k) has the theorem's risk,
    1 - 2r/pi (r <= 1) or 1 - r/(r + pi/2 - 1) (r > 1)."""
    d = 64
    n = int(rate * d)
    B0 = np.random.default_rng(0).standard_normal((n, d)) / np.sqrt(d)
    q0, w, rho0 = encoder_spectrum(B0)
    q, rho = spectral_map(q0, w, 300, 0.3, rho0)
    np.testing.assert_allclose(np.sum(q * w, axis=1) * n, n, rtol=1e-12)  # sum of the n eigenvalues
    assert np.all(np.diff(rho) >= 0)  # descent only grows the row norms
    assert linearised_sign_risk(q[-1], w, rate) == pytest.approx(float(min_risk(rate)), abs=1e-9)


def test_linearised_start_risk_matches_the_exact_risk():
    """Statement: from a random start the off-diagonal arcsin is linear to O(d^-1/2): the linearised risk of
    B(0)'s spectrum is the exact risk to within 2e-4 at d = 512 (r = 0.5, 1)."""
    for rate in (0.5, 1.0):
        B0 = np.random.default_rng(1).standard_normal((int(rate * 512), 512)) / np.sqrt(512)
        q0, w, _ = encoder_spectrum(B0)
        assert linearised_sign_risk(q0, w, rate) == pytest.approx(population_risk(B0), abs=2e-4)


@pytest.mark.parametrize("rate, tol", [(0.5, 1e-3), pytest.param(1.0, 2e-3, marks=pytest.mark.slow),
                                       (1.5, 2e-3)])
def test_spectral_map_follows_population_gradient_descent(rate, tol):
    """Statement (derived, theory/dynamics.md): population GD with the optimal decoder (lr 0.3, the default)
    moves the spectrum of U U^T by the spectral map; the risk follows it within `tol` (relative) over the
    run at d = 256 (measured: 0.016 %, 0.081 %, 0.081 %)."""
    d, lr = 256, 0.3
    n = int(rate * d)
    res = train(d, n, lr=lr, steps=31, record_every=1, dtype="float64")
    t = time_of_steps(res.history["step"], lr)
    risk = np.asarray(res.history["risk"])
    q0, w, rho0 = encoder_spectrum(res.B0)
    predicted = sign_curve(q0, w, n / d, t, lr, rho0)
    assert np.max(np.abs(predicted - risk) / risk) < tol
    assert risk[0] - risk[-1] > 0.02  # a real curve, not a flat line


def test_flow_is_the_small_step_limit_of_the_map():
    """Statement: as lr -> 0 the discrete map tends to the flow (gap O(lr))."""
    x0 = np.random.default_rng(3).standard_normal((128, 256)) / 16
    q0, w, rho0 = encoder_spectrum(x0)
    t = 0.2 * np.arange(11)  # multiples of 2 lr for every lr below
    gaps = [np.max(np.abs(sign_curve(q0, w, 0.5, t, lr, rho0) - sign_curve(q0, w, 0.5, t, lr, rho0, discrete=False)))
            for lr in (0.02, 0.01, 0.005)]
    np.testing.assert_allclose(np.array(gaps[:-1]) / np.array(gaps[1:]), 2.0, rtol=0.15)
    q, rho = spectral_flow(q0, w, t, lr=0.0, rho0=rho0)
    np.testing.assert_allclose(rho, rho0)  # the pure flow keeps the row norms


def test_sign_theory_curve_record_and_dynamics_command(capsys):
    """Statement: a `train --theory-curve` sign run records the spectral map of its own start (within 0.2 %),
    and `twolayer dynamics --activation sign` prints the Marchenko-Pastur limit of that map."""
    record = run(RunConfig(d=256, rate=0.5, theory_curve=True, steps=30, dtype="float64"))
    risk = np.asarray(record["curve_risk"])
    assert record["curve_gap_map"] / risk.min() < 2e-3 and record["curve_gap_limit"] / risk.min() < 3e-3
    assert main(["dynamics", "--activation", "sign", "--rate", "0.5", "--lr", "0.3", "--json", "--times", "0", "3"]) == 0
    printed = [rec["risk"] for rec in json.loads(capsys.readouterr().out)]
    np.testing.assert_allclose(printed, limit_curve([0.0, 3.0], 0.5, 0.3), rtol=0, atol=0)


@pytest.mark.parametrize("options, message", [
    ({"theory_curve": True, "activation": "relu"}, "predicted for activation linear or sign"),
    ({"theory_curve": True, "optimizer": "adam"}, "sign autoencoder's learning curve is predicted for"),
    ({"theory_curve": True, "noise": 0.1}, "derived without input noise"),
])
def test_sign_curve_is_refused_where_it_is_not_derived(options, message):
    with pytest.raises(ValueError, match=message):
        RunConfig(rate=0.5, **options)
