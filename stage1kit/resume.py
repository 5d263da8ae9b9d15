"""Batches laid out so a resumed run writes exactly what an uninterrupted one would.

Sampling and scoring depend on how work is batched: each batch is seeded by its position, and its
padding width follows its longest member. So batches are cut from the *whole* work list, never from
what is left after a crash: a batch whose items are all written is skipped, and a batch a crash cut
short is computed again whole, with only its missing items written.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class ResumeBatch(Generic[T]):
    """One batch of the full work list; ``fresh[i]`` is False where ``items[i]`` is already written."""

    start: int
    items: list[T]
    fresh: list[bool]

    @property
    def new_count(self) -> int:
        return sum(self.fresh)


def resume_batches(items: Sequence[T], size: int, done: Collection[str], key: Callable[[T], str]) -> Iterator[ResumeBatch[T]]:
    """Batches of ``size`` over ``items`` that still hold unwritten work (``key(item) not in done``)."""
    if size < 1:
        raise ValueError(f"batch size must be at least 1, got {size}")
    for start in range(0, len(items), size):
        part = list(items[start : start + size])
        fresh = [key(item) not in done for item in part]
        if any(fresh):
            yield ResumeBatch(start, part, fresh)
