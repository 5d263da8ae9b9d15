"""Negative type ``truncated``: the chosen answer cut off mid-way, as if generation stopped early.

Teaches the model that an answer which stops mid-thought is worse than a complete one.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from stage1kit import MiningTask, Negative, hookimpl
from stage1kit_negatives.text import describe_miner, differs

_WORD_SPAN = re.compile(r"\S+")


@dataclass
class TruncatedMiner:
    """Keep between ``min_fraction`` and ``max_fraction`` of the words, never ending on a full stop."""

    min_fraction: float = 0.3
    max_fraction: float = 0.7
    min_words: int = 8

    negative_type: ClassVar[str] = "truncated"
    needs_model: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if not 0.0 < self.min_fraction <= self.max_fraction < 1.0:
            raise ValueError(f"need 0 < min_fraction <= max_fraction < 1, got {self.min_fraction}, {self.max_fraction}")

    def mine(self, task: MiningTask, rng: random.Random, model: Any = None) -> list[Negative]:
        spans = list(_WORD_SPAN.finditer(task.best))
        if len(spans) < self.min_words:
            return []  # too short to cut meaningfully
        low = max(1, int(len(spans) * self.min_fraction))
        high = max(low, int(len(spans) * self.max_fraction))
        cut = rng.randint(low, high)
        while cut > 1 and spans[cut - 1].group()[-1] in ".!?":
            cut -= 1  # a cut after a full stop would read as a complete (shorter) answer
        text = task.best[: spans[cut - 1].end()].rstrip(",;:")
        if not differs(text, task.best):
            return []
        return [Negative(text, self.negative_type, {"kept_words": cut, "of_words": len(spans)})]

    def describe(self) -> dict[str, Any]:
        return describe_miner(self)


@hookimpl
def register_negative_miners(register) -> None:
    register("truncated", TruncatedMiner)
