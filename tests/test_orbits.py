"""Orbit encoders (:mod:`twolayer.theory.orbits`) against independent sources.

* the block-diagonalisation (module docstring): the Walsh-character formula against the exact
  ``population_risk`` of the encoder built explicitly, for random amplitudes, several (P, k),
  n > d included; and the group structure itself (overlaps depend on g xor h only);
* the isotropic theorem 1 - 2r/pi (r <= 1), reached by the family (an orthonormal frame);
* the exact one-neuron optimum 1 - (2/pi) sigma_1 / tr Sigma (n = 1);
* a direct L-BFGS minimisation of the exact risk over all encoders (small d, default suite) and
  the stored multi-start references of benchmarks/ (slow): the family's minimum is the exact
  risk of an encoder, so it can only be above the optimum, and is measured within 1 % of it.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
from test_spiked import _lbfgs_min_risk

from twolayer.theory import population_risk
from twolayer.theory.orbits import (
    _assigned_variances,
    orbit_encoder,
    orbit_min_risk,
    orbit_risk,
    orbit_shape,
    orbit_structure,
)

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")


def _exact(U, sigma):
    """population_risk of whitened unit rows U for covariance diag(sigma) (B = U diag(sigma)^(-1/2))."""
    return population_risk(U / np.sqrt(sigma)[None, :], cov=np.diag(sigma))


@pytest.mark.parametrize("P,k,d", [(1, 3, 12), (3, 2, 20), (2, 4, 40), (5, 0, 9), (4, 2, 10)])
def test_block_diagonalisation_is_the_exact_risk(P, k, d):
    """Proposition (theory/spiked.md, orbit encoders): R = 1 - 2^k sum_s tr(Lambda_s^-1 A_s S_s A_s^T) / tr Sigma."""
    rng = np.random.default_rng(P * 100 + k)
    sigma = np.sort(rng.uniform(0.2, 3.0, d) ** 2)[::-1]
    N = 2**k
    perm = np.concatenate([[0], 1 + rng.permutation(N - 1)])
    A = rng.standard_normal((N, P, P))
    S = _assigned_variances(sigma, P, k, perm)
    U = orbit_encoder(A, perm, sigma)
    assert U.shape == (N * P, d)
    np.testing.assert_allclose(np.linalg.norm(U, axis=1), 1.0, rtol=1e-13)
    formula = orbit_risk(A, S, sigma.sum())
    assert formula == pytest.approx(_exact(U, sigma), rel=1e-11, abs=1e-13)


def test_overlaps_depend_on_the_group_difference_only():
    rng = np.random.default_rng(3)
    P, k, d = 2, 3, 16
    N = 2**k
    U = orbit_encoder(rng.standard_normal((N, P, P)), np.arange(N), np.ones(d)).reshape(N, P, d)
    for g in range(N):
        for h in range(N):
            np.testing.assert_allclose(U[g] @ U[h].T, U[0] @ U[g ^ h].T, atol=1e-14)


@pytest.mark.parametrize("rate", [0.25, 0.5, 1.0])
def test_isotropic_theorem(rate):
    """Isotropic sign optimum 1 - 2r/pi for r <= 1 (an orthonormal frame; proved in the core, limits.md)."""
    assert orbit_min_risk(rate, np.ones(16), starts=2) == pytest.approx(1.0 - 2.0 * rate / math.pi, abs=1e-9)


def test_one_neuron_is_the_top_principal_component():
    sigma = np.array([5.0, 2.0, 1.0, 0.5])
    st = orbit_structure(0.25, sigma, starts=1)
    assert (st["n"], st["P"], st["k"]) == (1, 1, 0)
    assert st["risk"] == pytest.approx(1.0 - (2.0 / math.pi) * 5.0 / sigma.sum(), rel=1e-12)


@pytest.mark.parametrize("n,orbits,shape", [(128, 8, (8, 4)), (128, 4, (4, 5)), (26, 8, (13, 1)), (13, 8, (13, 0)),
                                            (6, 8, (6, 0)), (16, 1, (1, 4)), (1, 8, (1, 0))])
def test_orbit_shape(n, orbits, shape):
    P, k = orbit_shape(n, orbits)
    assert (P, k) == shape and P * 2**k == n


def test_spiked_spectrum_against_direct_minimisation():
    """d = 16, n = 8, spectrum k^-2: the family's minimum is the exact risk of its encoder, above the
    direct minimum of the exact risk over all encoders (best of three L-BFGS starts) and within 1 % of it."""
    sigma = np.arange(1, 17, dtype=float) ** -2.0
    direct = min(_lbfgs_min_risk(sigma, 8, seed, 3000) for seed in range(3))
    st = orbit_structure(0.5, sigma, orbits=2, starts=3)
    assert (st["P"], st["k"]) == (2, 2)
    assert st["risk"] == pytest.approx(_exact(st["encoder"], sigma), rel=1e-11)
    assert st["risk"] >= direct * (1 - 1e-6)
    assert st["risk"] <= direct * 1.01


def test_same_seed_same_numbers():
    sigma = np.arange(1, 17, dtype=float) ** -1.5
    a = orbit_structure(0.5, sigma, orbits=2, starts=2, seed=7)
    b = orbit_structure(0.5, sigma, orbits=2, starts=2, seed=7)
    assert a["risk"] == b["risk"] and np.array_equal(a["encoder"], b["encoder"])


@pytest.mark.parametrize("kwargs,match", [({"orbits": 0}, "orbits"), ({"starts": 1.5}, "starts"),
                                          ({"rate": 0.01}, "rounds to 0 neurons"), ({"rate": -1.0}, "rate")])
def test_bad_input(kwargs, match):
    args = {"rate": 0.5, "spectrum": np.ones(8), **kwargs}
    with pytest.raises(ValueError, match=match):
        orbit_structure(args.pop("rate"), args.pop("spectrum"), **args)


@pytest.mark.slow
@pytest.mark.parametrize("spec,rate", [("powerlaw:2", 1.0), ("patches:8", 1.0), ("patches:16", 0.25)])
def test_within_one_percent_of_the_multistart_references(spec, rate):
    """The stored multi-start optima (benchmarks/results-spiked-multistart.json, GPU, 16-32 starts)."""
    import sys

    sys.path.insert(0, BENCH)
    from spiked import load

    with open(os.path.join(BENCH, "results-spiked-multistart.json")) as fh:
        ref = {(r["spectrum"], r["rate"]): r["risk"] for r in json.load(fh)["rows"]}[(spec, rate)]
    sigma = load(spec)
    got = orbit_min_risk(rate, sigma)
    assert ref * (1 - 1e-6) <= got <= ref * 1.01


# ----------------------------------------------------------------------------- the option `orbits`
def test_theory_command_orbit_column(capsys):
    """`twolayer theory --orbits`: the isotropic theorem at r <= 1, and on a spectrum the exact risk of the encoder."""
    from test_cli import run_cli

    code, out, _ = run_cli(capsys, "theory", "--rate", "0.25", "0.5", "--d", "16", "--orbits", "2", "--json")
    assert code == 0
    for rec in json.loads(out):
        assert rec["orbit_risk"] == pytest.approx(1 - 2 * rec["rate"] / math.pi, abs=1e-9)
    code, out, _ = run_cli(capsys, "theory", "--rate", "0.5", "--spectrum", "powerlaw:2", "--d", "16", "--orbits", "2")
    assert code == 0 and "orbit encoder" in out
    sigma = np.arange(1, 17, dtype=float) ** -2.0
    value = float(out.split("\n")[3].split()[2])  # the table's first row: rate, min risk, orbit encoder
    st = orbit_structure(0.5, sigma, orbits=2)
    assert value == pytest.approx(_exact(st["encoder"], sigma), abs=5e-7)  # printed to 6 decimals


def test_train_record_carries_the_orbit_prediction():
    """A Gaussian run with orbits: predicted_risk_orbit is the isotropic theorem; off for other activations."""
    from twolayer.config import RunConfig
    from twolayer.experiment import run

    rec = run(RunConfig(d=16, rate=0.5, steps=20, orbits=2))
    assert rec["predicted_risk_orbit"] == pytest.approx(1 - 1 / math.pi, abs=1e-9)
    assert rec["relative_gap_orbit"] == pytest.approx(rec["final_risk"] / rec["predicted_risk_orbit"] - 1, rel=1e-12)
    relu = run(RunConfig(d=16, rate=0.5, steps=5, orbits=2, activation="relu"))
    assert relu.get("predicted_risk_orbit") is None


def test_data_record_carries_the_orbit_prediction():
    """A data run with orbits: the exact Gaussian risk, for the training covariance, of the orbit encoder."""
    from twolayer.universality import data_experiment

    rec = data_experiment("digits", 0.125, steps=5, controls=False, orbits=2, record_spectrum=True)
    spectrum = np.sort(np.asarray(rec["spectrum"]))[::-1]
    st = orbit_structure(rec["n"] / spectrum.size, spectrum, orbits=2)
    kept = spectrum > 1e-12 * spectrum[0]  # digits has pixels that never vary: no weight there
    assert np.all(st["encoder"][:, ~kept] == 0)
    exact = _exact(st["encoder"][:, kept], spectrum[kept])
    assert rec["predicted_risk_orbit"] == pytest.approx(exact, rel=1e-9)
    assert rec["predicted_risk_orbit_mixture"] == pytest.approx(1 - rec["kappa"] * (1 - rec["predicted_risk_orbit"]))
