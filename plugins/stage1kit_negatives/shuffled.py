"""Negative type ``shuffled``: the chosen answer's own content in an incoherent order.

Same words, same facts, no coherence: with three or more sentences the sentence order is shuffled;
a shorter answer has the words inside each sentence scrambled instead.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, ClassVar

from stage1kit import MiningTask, Negative, hookimpl
from stage1kit_negatives.text import describe_miner, differs, split_sentences

#: Shuffles tried before giving up (an answer of identical sentences has no other order).
TRIES = 10


@dataclass
class ShuffledMiner:
    """Shuffle sentences (``min_sentences`` or more) or scramble words (``min_words`` or more)."""

    min_sentences: int = 3
    min_words: int = 6

    negative_type: ClassVar[str] = "shuffled"
    needs_model: ClassVar[bool] = False

    def mine(self, task: MiningTask, rng: random.Random, model: Any = None) -> list[Negative]:
        sentences = split_sentences(task.best)
        if len(sentences) >= self.min_sentences:
            mode, pieces = "sentences", [sentences]
        elif len(task.best.split()) >= self.min_words:
            mode, pieces = "words", [s.split() for s in sentences]
        else:
            return []
        for _ in range(TRIES):
            shuffled = [rng.sample(piece, len(piece)) for piece in pieces]
            text = " ".join(" ".join(piece) for piece in shuffled)
            if differs(text, " ".join(" ".join(piece) for piece in pieces)):
                return [Negative(text, self.negative_type, {"mode": mode})]
        return []

    def describe(self) -> dict[str, Any]:
        return describe_miner(self)


@hookimpl
def register_negative_miners(register) -> None:
    register("shuffled", ShuffledMiner)
