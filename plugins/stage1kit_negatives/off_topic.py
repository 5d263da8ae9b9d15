"""Negative type ``off-topic``: a fluent, good answer -- to a different instruction.

The pool holds the chosen answers of other instructions, so the negative is as well written as
the chosen one and differs only in answering the wrong question: relevance, not style, decides.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, ClassVar

from stage1kit import MiningTask, Negative, hookimpl
from stage1kit_negatives.text import describe_miner, differs, overlap


@dataclass
class OffTopicMiner:
    """Pick ``count`` pool answers sharing at most ``max_overlap`` content words with the instruction."""

    count: int = 1
    max_overlap: float = 0.2

    negative_type: ClassVar[str] = "off-topic"
    needs_model: ClassVar[bool] = False

    def mine(self, task: MiningTask, rng: random.Random, model: Any = None) -> list[Negative]:
        # An answer that shares the instruction's (or chosen answer's) words may well be on topic.
        usable = sorted(
            {
                answer
                for answer in task.pool
                if differs(answer, task.best)
                and overlap(answer, task.instruction) <= self.max_overlap
                and overlap(answer, task.best) <= self.max_overlap
            }
        )
        picked = rng.sample(usable, min(self.count, len(usable)))
        return [
            Negative(answer, self.negative_type, {"overlap_with_instruction": round(overlap(answer, task.instruction), 3)})
            for answer in picked
        ]

    def describe(self) -> dict[str, Any]:
        return describe_miner(self)


@hookimpl
def register_negative_miners(register) -> None:
    register("off-topic", OffTopicMiner)
