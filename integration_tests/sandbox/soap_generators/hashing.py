"""Deterministic pseudo-randomness: event i of type T is a hash of (seed, T, i), never a stream of draws."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

M64 = (1 << 64) - 1


def splitmix(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def salt_for(seed: int, label: str) -> int:
    h = splitmix(seed & M64)
    for ch in label.encode():
        h = splitmix(h ^ ch)
    return h


def hash_at(salt: int, i: int) -> int:
    return splitmix((salt + i * 0xD1B54A32D192ED03) & M64)


def fraction(h: int) -> float:
    return (h >> 11) / float(1 << 53)


def guid(h: int) -> str:
    x = f"{h:016x}{splitmix(h):016x}"
    return f"{x[:8]}-{x[8:12]}-4{x[13:16]}-a{x[17:20]}-{x[20:32]}"


def choose(h: int, options: Sequence[T]) -> T:
    return options[h % len(options)]
