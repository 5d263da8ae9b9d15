"""Negative type ``perturbed``: the chosen answer with its numbers or names changed.

Fluent, on topic, well formatted -- and factually wrong. Numbers are changed when the answer has
any; otherwise capitalised names are swapped for names from other answers (or with each other),
so the model must attend to the facts, not the surface.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from stage1kit import MiningTask, Negative, hookimpl
from stage1kit_negatives.text import NUMBER, describe_miner, differs

#: A capitalised word that does not start a sentence (a cheap proxy for a named entity).
_ENTITY = re.compile(r"(?<=[a-z0-9,;:]\s)([A-Z][a-z]{2,})\b")


@dataclass
class PerturbedMiner:
    """Change each number with probability ``rate`` (at least one), else swap a name."""

    rate: float = 0.5

    negative_type: ClassVar[str] = "perturbed"
    needs_model: ClassVar[bool] = False

    def mine(self, task: MiningTask, rng: random.Random, model: Any = None) -> list[Negative]:
        numbers = list(NUMBER.finditer(task.best))
        if numbers:
            return self._negative(task, *_perturb_numbers(task.best, numbers, self.rate, rng), "number")
        entities = sorted({m.group(1) for m in _ENTITY.finditer(task.best)})
        if not entities:
            return []
        others = sorted({m.group(1) for answer in task.pool for m in _ENTITY.finditer(answer)} - set(entities))
        target = rng.choice(entities)
        if others:
            replacement = rng.choice(others)
            text = re.sub(rf"\b{target}\b", replacement, task.best)
            return self._negative(task, text, [[target, replacement]], "entity")
        if len(entities) < 2:
            return []
        first, second = rng.sample(entities, 2)
        text = re.sub(rf"\b({first}|{second})\b", lambda m: second if m.group(1) == first else first, task.best)
        return self._negative(task, text, [[first, second], [second, first]], "entity-swap")

    def _negative(self, task: MiningTask, text: str, changes: list[list[str]], kind: str) -> list[Negative]:
        if not differs(text, task.best):
            return []
        return [Negative(text, self.negative_type, {"kind": kind, "changes": changes})]

    def describe(self) -> dict[str, Any]:
        return describe_miner(self)


def _perturb_numbers(text: str, matches: list[re.Match[str]], rate: float, rng: random.Random) -> tuple[str, list[list[str]]]:
    chosen = [m for m in matches if rng.random() < rate] or [rng.choice(matches)]
    changes, pieces, last = [], [], 0
    for match in chosen:
        new = _other_number(match.group(1), rng)
        pieces += [text[last : match.start(1)], new]
        last = match.end(1)
        changes.append([match.group(1), new])
    return "".join(pieces) + text[last:], changes


def _other_number(original: str, rng: random.Random) -> str:
    """A plausible but different number in the same notation."""
    separator = "," if "," in original else "."
    if separator in original and len(original.split(separator)[1]) != 3:  # a decimal, not thousands
        whole, frac = original.split(separator)
        value = float(f"{whole}.{frac}") * rng.choice((0.5, 0.8, 1.25, 1.5, 2.0, 3.0))
        new = f"{value:.{len(frac)}f}".replace(".", separator)
    else:
        value = int(original.replace(",", "").replace(".", ""))
        if 1000 <= value <= 2100:  # probably a year: shift it
            new_value = value + rng.choice((-1, 1)) * rng.randint(1, 40)
        elif value <= 12:
            new_value = rng.choice([v for v in range(0, 21) if v != value])
        else:
            new_value = max(0, round(value * rng.choice((0.5, 0.75, 1.5, 2.0, 3.0, 10.0))))
        new = f"{new_value:,}" if "," in original else str(new_value)
    return new if new != original else str(int(float(original.replace(",", ""))) + 1)


@hookimpl
def register_negative_miners(register) -> None:
    register("perturbed", PerturbedMiner)
