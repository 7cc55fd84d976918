"""Verify the compression limits (twolayer.theory.compression) against independent sources.

* Shannon's distortion-rate function of a Gaussian source, against reverse water-filling
  implemented here by bisection on the water level theta;
* the converse of the source coding theorem: a sign autoencoder with n neurons emits n bits, so
  neither the limit min_risk nor any exact finite-d risk can go below D(n/d);
* the 1-bit scalar quantiser by Monte Carlo.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from twolayer.theory import (
    ONE_BIT_SCALAR_QUANTISER_RISK,
    min_risk,
    minimizer,
    pca_risk,
    population_risk,
    rate_distortion,
    shannon_gap,
)


def reverse_water_filling(R, sigma):
    """D(R) / sum(sigma): theta found by bisection on log theta so that
    (1/d) sum_j max(0, 1/2 log2(sigma_j / theta)) = R; D = sum_j min(theta, sigma_j)."""
    sigma = np.asarray(sigma, dtype=float)
    d, pos = sigma.size, sigma[sigma > 0]
    rate = lambda log_t: np.sum(np.maximum(0.0, 0.5 * (np.log2(pos) - log_t / math.log(2)))) / d
    lo, hi = math.log(pos.min()) - 2 * math.log(2) * R * d - 1.0, math.log(pos.max())
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if rate(mid) > R else (lo, mid)
    theta = math.exp(0.5 * (lo + hi))
    return float(np.sum(np.minimum(theta, sigma)) / sigma.sum())


def _spectra(d=64):
    k = np.arange(1, d + 1, dtype=float)
    rng = np.random.default_rng(0)
    return {
        "1/k": 1 / k,
        "k^-0.5": k**-0.5,
        "spiked": np.r_[100.0, np.ones(d - 1)],
        "unsorted-ties-zeros": rng.permutation(np.r_[np.repeat([2.0, 1.0, 0.5], 16), np.zeros(16)]),
    }


SPECTRA = _spectra()


def test_rate_distortion_isotropic_is_two_to_minus_two_R():
    """Isotropic Gaussian source: D(R) = 2^(-2R) (scalar and array; also as a flat spectrum)."""
    R = np.logspace(-4, 1.5, 300)
    np.testing.assert_allclose(rate_distortion(R), 2.0 ** (-2 * R), rtol=1e-14)
    np.testing.assert_allclose(rate_distortion(R, spectrum=np.full(9, 2.5)), 2.0 ** (-2 * R), rtol=1e-12)
    assert isinstance(rate_distortion(1.0), float) and rate_distortion(1.0) == 0.25


@pytest.mark.parametrize("name", sorted(SPECTRA))
def test_rate_distortion_is_reverse_water_filling(name):
    """Shannon (Cover & Thomas 10.3.3): D(R) = sum_j min(theta, sigma_j) / sum_j sigma_j with
    R = (1/d) sum_j max(0, 1/2 log2(sigma_j/theta)); against bisection on theta, on a dense grid of rates
    (water level crossing many eigenvalues, ties and zero eigenvalues included). D decreases from 1;
    once every positive direction is active, D = d_+ GM(sigma_+) 2^(-2 R d / d_+) / sum sigma."""
    sigma = SPECTRA[name]
    R = np.logspace(-4, 1, 400)
    got = rate_distortion(R, spectrum=sigma)
    want = [reverse_water_filling(r, sigma) for r in R]
    np.testing.assert_allclose(got, want, rtol=1e-10)
    assert np.all(np.diff(got) < 0) and got[0] < 1 and got[0] > 0.99
    pos = sigma[sigma > 0]
    R_high = 20.0
    gm = math.exp(np.mean(np.log(pos)))
    high = pos.size * gm * 2.0 ** (-2 * R_high * sigma.size / pos.size) / sigma.sum()
    assert rate_distortion(R_high, spectrum=sigma) == pytest.approx(high, rel=1e-9)


def test_sign_autoencoder_above_shannon_isotropic():
    """Converse of the source coding theorem: n sign neurons are n bits, so min_risk(r) > D(r) = 2^(-2r)
    at every rate (dense grid 1e-4 .. 30; the ratio -> 1 only as r -> 0)."""
    R = np.logspace(-4, math.log10(30), 3000)
    best, shannon = min_risk(R), rate_distortion(R)
    assert np.all(best > shannon)
    assert (best / shannon).min() > 1.0


@pytest.mark.parametrize("name", ["1/k", "k^-0.5", "spiked"])
def test_sign_autoencoder_above_shannon_spectra(name):
    """Same with a spectrum (d = 64) on a dense grid of rates with at least one neuron (n = r d >= 1,
    up to r = 8)."""
    sigma = SPECTRA[name]
    d = sigma.size
    R = np.unique(np.concatenate([np.linspace(1 / d, 8, 2000), np.arange(1, 8 * d + 1) / d]))
    best, shannon = min_risk(R, spectrum=sigma), rate_distortion(R, spectrum=sigma)
    assert np.all(best > shannon), R[best <= shannon][:5]


def test_min_risk_with_spectrum_respects_shannon_below_one_neuron():
    """Same statement for rates with fewer than one neuron, r < 1/d (the isotropic closed form
    satisfies it at every r > 0).

    Regression test: the allocation formula with p = 1 active direction at a fractional code size
    n = r d < 1, F = c sigma_1/(n + c) + tail, has slope -sigma_1/c = -1.75 sigma_1 at n = 0, steeper
    than Shannon's -2 ln2 sigma_1 = -1.39 sigma_1, and went below D(r) (ratio 0.99575 at n = 0.1,
    d = 64, sigma_k = 1/k). min_risk now interpolates linearly between n = 0 (risk 1) and n = 1
    (time sharing, as pca_risk does between integers).
    """
    d = 64
    sigma = SPECTRA["1/k"]
    R = np.array([0.01, 0.1, 0.3, 0.6]) / d
    best, shannon = min_risk(R, spectrum=sigma), rate_distortion(R, spectrum=sigma)
    assert np.all(best > shannon), best / shannon


@pytest.mark.parametrize("name", [None, "1/k"])
def test_exact_risks_of_concrete_encoders_above_shannon(name, random_cov):
    """The converse holds for every actual encoder at finite d: the exact population risk of the
    constructed minimizer and of random encoders (d = 32, n = 1..96) is above D(n/d)."""
    d = 32
    sigma = None if name is None else 1 / np.arange(1, d + 1)
    cov = None if sigma is None else random_cov(sigma, 1)
    rng = np.random.default_rng(0)
    for n in (1, 4, 16, 32, 96):
        shannon = rate_distortion(n / d, spectrum=sigma)
        _, B = minimizer(d, n, cov=cov)
        assert population_risk(B, cov=cov) > shannon
        assert population_risk(rng.standard_normal((n, d)), cov=cov) > shannon


@pytest.mark.parametrize("name", [None, "1/k", "spiked"])
@pytest.mark.parametrize("rate", [0.1, 0.5, 1.0, 2.0, 4.0])
def test_shannon_gap_fields(name, rate):
    """shannon_gap(r) reports min_risk, rate_distortion, pca_risk and the 1-bit constant at r, with
    ratio = min_risk / D > 1 and gap_db = 10 log10(ratio) > 0."""
    sigma = None if name is None else SPECTRA[name]
    gap = shannon_gap(rate, spectrum=sigma)
    assert gap.rate == rate
    assert gap.min_risk == pytest.approx(min_risk(rate, spectrum=sigma), abs=1e-15)
    assert gap.rate_distortion == pytest.approx(rate_distortion(rate, spectrum=sigma), abs=1e-15)
    assert gap.pca_risk == pytest.approx(pca_risk(rate, spectrum=sigma), abs=1e-15)
    assert gap.one_bit_scalar == ONE_BIT_SCALAR_QUANTISER_RISK
    assert gap.ratio == pytest.approx(gap.min_risk / gap.rate_distortion, rel=1e-14) and gap.ratio > 1
    assert gap.gap_db == pytest.approx(10 * math.log10(gap.ratio), rel=1e-13) and gap.gap_db > 0
    assert set(gap.as_dict()) == {"rate", "min_risk", "rate_distortion", "pca_risk", "one_bit_scalar", "ratio", "gap_db"}


def test_shannon_gap_at_one_bit():
    """r = 1 isotropic: min_risk = 1 - 2/pi = the 1-bit scalar quantiser, D = 1/4: ratio 1.45352, 1.6242 dB."""
    gap = shannon_gap(1.0)
    assert gap.min_risk == pytest.approx(1 - 2 / math.pi, abs=1e-15)
    assert gap.rate_distortion == 0.25
    assert gap.ratio == pytest.approx(4 * (1 - 2 / math.pi), rel=1e-14)
    assert gap.gap_db == pytest.approx(1.6242, abs=1e-4)


def test_one_bit_scalar_quantiser_by_monte_carlo(mc_mean):
    """E (x - sqrt(2/pi) sign x)^2 = 1 - 2/pi for x ~ N(0, 1), and sqrt(2/pi) = E|x| is the best scale:
    10^6-sample Monte Carlo within 4 standard errors. It is also the exact risk of the sign code with
    B = I (orthonormal rows at r = 1)."""
    a = math.sqrt(2 / math.pi)

    def sample(rng, size):
        x = rng.standard_normal(size)
        return np.stack([(x - a * np.sign(x)) ** 2, np.abs(x)], axis=1)

    (risk, abs_mean), (se_risk, se_abs) = mc_mean(sample, 1_000_000, seed=2024)
    assert abs(risk - ONE_BIT_SCALAR_QUANTISER_RISK) <= 4 * se_risk
    assert abs(abs_mean - a) <= 4 * se_abs
    assert ONE_BIT_SCALAR_QUANTISER_RISK == pytest.approx(1 - 2 / math.pi, abs=1e-16)
    assert population_risk(np.eye(5)) == pytest.approx(ONE_BIT_SCALAR_QUANTISER_RISK, abs=1e-14)


@pytest.mark.parametrize("rate", [0, -0.5, np.nan, np.inf])
def test_bad_rates(rate):
    for fn in (rate_distortion, shannon_gap):
        with pytest.raises(ValueError, match=r"rate must be finite and > 0"):
            fn(rate)


def test_bad_spectrum():
    with pytest.raises(ValueError, match="negative eigenvalue"):
        rate_distortion(1.0, spectrum=[1.0, -2.0])
    with pytest.raises(ValueError, match="positive sum"):
        shannon_gap(1.0, spectrum=[0.0, 0.0])
