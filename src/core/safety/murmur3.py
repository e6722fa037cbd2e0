"""MurmurHash3 x86 32-bit, in pure Python: the hash flags bucket users with.

The same function as Unleash's (and the ``mmh3`` package's ``hash(..., signed=False)``),
so a user lands in the same bucket here as there for the same group id. Evaluation
caches bucket numbers, so this runs once per (flag, user) in a process; an adapter may
inject a C implementation instead (``adapters.mmh3``).
"""

from __future__ import annotations

from collections.abc import Callable

Hash32 = Callable[[bytes, int], int]

_C1 = 0xCC9E2D51
_C2 = 0x1B873593
_MASK = 0xFFFFFFFF


def murmur3_32(data: bytes, seed: int = 0) -> int:
    """The unsigned 32-bit MurmurHash3 (x86) of ``data``."""
    h = seed & _MASK
    length = len(data)
    blocks = length - length % 4
    for i in range(0, blocks, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * _C1) & _MASK
        k = ((k << 15) | (k >> 17)) & _MASK
        k = (k * _C2) & _MASK
        h ^= k
        h = ((h << 13) | (h >> 19)) & _MASK
        h = (h * 5 + 0xE6546B64) & _MASK
    tail = length & 3
    if tail:
        k = int.from_bytes(data[blocks:], "little")
        k = (k * _C1) & _MASK
        k = ((k << 15) | (k >> 17)) & _MASK
        k = (k * _C2) & _MASK
        h ^= k
    h ^= length
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _MASK
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _MASK
    h ^= h >> 16
    return h
