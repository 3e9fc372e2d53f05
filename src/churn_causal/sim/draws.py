"""Counter-based random numbers: each draw is a hash of (seed, customer, week, stream).

A customer's draws in a week do not depend on which other customers are simulated with it, or in
which order, so a counterfactual world that re-simulates some customers sees exactly the draws
of the factual one (common random numbers), at no storage cost.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_BLOCK = 16_384  # customers per block of draws: 14 streams of them are 1.8 MB


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a bijective 64-bit hash (uint64 arithmetic wraps by design).

    Hashes ``z`` in place (callers pass a fresh array), with one temporary."""
    z += _GOLDEN
    for shift, factor in ((30, _M1), (27, _M2)):
        z ^= z >> np.uint64(shift)
        z *= factor
    z ^= z >> np.uint64(31)
    return z


def customer_keys(seed: int, n: int) -> np.ndarray:
    """One 64-bit key per customer; the draws of a customer depend on nothing else."""
    base = _mix(np.array([seed], dtype=np.uint64))
    return _mix(base ^ np.arange(n, dtype=np.uint64))


def world_keys(keys: np.ndarray, world: int) -> np.ndarray:
    """The customers' keys in another draw of the world (``world`` 0: the same keys): the
    same customers with other random numbers."""
    if world == 0:
        return keys
    return _mix(keys ^ _mix(np.array([world], dtype=np.uint64)))


def stream_keys(weeks: int, streams: int) -> np.ndarray:
    """One key per (week, stream); combined with a customer's key by ``uniforms``."""
    grid = np.arange(weeks * streams, dtype=np.uint64).reshape(weeks, streams)
    return _mix(_mix(grid))


def uniforms(keys: np.ndarray, stream_keys_w: np.ndarray) -> np.ndarray:
    """Uniform(0, 1) draws of shape (len(keys), streams) for one week.

    Made ``_BLOCK`` customers at a time: the hash is a dozen passes over its array, about twice
    as fast on a block that stays in the CPU's cache as on a week of a million customers."""
    out = np.empty((len(keys), len(stream_keys_w)))
    for lo in range(0, len(keys), _BLOCK):
        bits = _mix(keys[lo : lo + _BLOCK, None] ^ stream_keys_w[None, :])
        bits >>= np.uint64(11)
        block = out[lo : lo + _BLOCK]
        block[...] = bits
        block += 0.5
        block *= 1.0 / 9007199254740992.0
    return out
