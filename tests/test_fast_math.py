"""The two speed pieces that replace a JAX function on the hot path, against the function itself.

* ``twolayer.theory._fast_math.arcsin`` (a Cephes-style rational approximation; XLA's CPU asin is
  not vectorised) against numpy.arcsin of the same float64 inputs, in units in the last place.
* ``twolayer.simulations.fast_normal.normal`` (Threefry written out; JAX's CPU lowering rolls it
  into a loop) against ``jax.random.normal``: identical bit for bit, or the samples of a seed
  would change."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from twolayer.simulations.fast_normal import normal, threefry2x32
from twolayer.theory._fast_math import arcsin


def _grid(dtype):
    ends = 1.0 - np.logspace(-17, 0, 20001)  # the steep ends, down to the last float below 1
    return np.concatenate([np.linspace(-1.0, 1.0, 400001), ends, -ends, np.logspace(-30, 0, 2001)]).astype(dtype)


@pytest.mark.parametrize("dtype, ulps", [("float32", 3.0), ("float64", 2.5)])
def test_arcsin_within_a_few_ulps_of_numpy(dtype, ulps):
    """|arcsin(x) - asin(x)| <= 3 ulp (float32) / 2.5 ulp (float64) of the result on 440,000 points of
    [-1, 1] including both ends; exact at 0 and +-1 (as floats); odd."""
    with jax.enable_x64(dtype == "float64"):
        x = _grid(dtype)
        got = np.asarray(jax.jit(arcsin)(jnp.asarray(x)), dtype=np.float64)
        want = np.arcsin(x.astype(np.float64))
        ulp = np.spacing(np.abs(want).astype(dtype)).astype(np.float64)
        assert np.max(np.abs(got - want) / ulp) <= ulps
        ends = np.asarray(arcsin(jnp.asarray(np.array([0.0, 1.0, -1.0], dtype))))
        np.testing.assert_array_equal(ends, np.array([0.0, np.pi / 2, -np.pi / 2], dtype))
        np.testing.assert_array_equal(np.asarray(arcsin(jnp.asarray(-x))), -np.asarray(arcsin(jnp.asarray(x))))


def test_threefry_known_answer():
    """Threefry-2x32 (20 rounds) on the known-answer vectors of Salmon et al.'s Random123 suite, as
    JAX's own tests use them: key (0x13198a2e, 0x03707344), counts (0x243f6a88, 0x85a308d3)."""
    y = threefry2x32(np.uint32(0x13198A2E), np.uint32(0x03707344), jnp.uint32(0x243F6A88), jnp.uint32(0x85A308D3))
    assert (int(y[0]), int(y[1])) == (0xC4923A9C, 0x483DF7A0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(256, 784), (7,), (3, 4, 5), (1, 1)])
def test_fast_normal_is_jax_random_normal_bit_for_bit(dtype, shape):
    """normal(key, shape, dtype) == jax.random.normal(key, shape, dtype) exactly, for raw and typed
    threefry keys and folded keys, jitted as in training."""
    with jax.enable_x64(dtype == "float64"):
        keys = [jax.random.PRNGKey(0), jax.random.fold_in(jax.random.PRNGKey(7), 123), jax.random.key(3)]
        for key in keys:
            want = np.asarray(jax.jit(lambda k: jax.random.normal(k, shape, dtype))(key))
            got = np.asarray(jax.jit(lambda k: normal(k, shape, dtype))(key))
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)


def test_fast_normal_hands_other_keys_to_jax():
    """A key of another generator (rbg) is passed to jax.random.normal: the same draws."""
    key = jax.random.key(5, impl="rbg")
    np.testing.assert_array_equal(np.asarray(normal(key, (4, 6), jnp.float32)),
                                  np.asarray(jax.random.normal(key, (4, 6), jnp.float32)))
