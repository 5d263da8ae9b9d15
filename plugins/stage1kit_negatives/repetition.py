"""Negative type ``repetition``: the degenerate loops sampling falls into.

Either the answer's opening sentence repeated over and over, or the answer running into a short
phrase that then repeats -- both start like the chosen answer, so only the loop tells them apart.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, ClassVar

from stage1kit import MiningTask, Negative, hookimpl
from stage1kit_negatives.text import describe_miner, differs, split_sentences

MODES = ("sentence-loop", "phrase-loop")


@dataclass
class RepetitionMiner:
    """Loop a sentence ``min_repeats``..``max_repeats`` times, or a 2-5 word phrase to the answer's length."""

    min_repeats: int = 3
    max_repeats: int = 6
    min_words: int = 4

    negative_type: ClassVar[str] = "repetition"
    needs_model: ClassVar[bool] = False

    def mine(self, task: MiningTask, rng: random.Random, model: Any = None) -> list[Negative]:
        tokens = task.best.split()
        if len(tokens) < self.min_words:
            return []
        mode = rng.choice(MODES)
        if mode == "sentence-loop":
            first = split_sentences(task.best)[0]
            repeats = rng.randint(self.min_repeats, self.max_repeats)
            text = " ".join([first] * repeats)
            detail = {"mode": mode, "repeats": repeats}
        else:
            size = rng.randint(2, min(5, len(tokens) - 1))
            start = rng.randint(1, len(tokens) - size)
            phrase = tokens[start : start + size]
            repeats = max(self.min_repeats, (len(tokens) - start) // size + 1)
            text = " ".join(tokens[:start] + phrase * repeats)
            detail = {"mode": mode, "phrase": " ".join(phrase), "repeats": repeats}
        return [Negative(text, self.negative_type, detail)] if differs(text, task.best) else []

    def describe(self) -> dict[str, Any]:
        return describe_miner(self)


@hookimpl
def register_negative_miners(register) -> None:
    register("repetition", RepetitionMiner)
