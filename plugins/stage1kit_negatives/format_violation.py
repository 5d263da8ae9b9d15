"""Negative type ``format-violation``: the right content in the wrong shape.

Detects what shape the instruction asks for (or the chosen answer has) and breaks it: a list run
together into one line, one item too few, a requested length overshot, JSON written as prose, a
requested case inverted. Instructions with no detectable format get no negative of this type.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from stage1kit import MiningTask, Negative, hookimpl
from stage1kit_negatives.text import describe_miner, differs, list_items, split_sentences

_NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
_COUNT = re.compile(r"\b(two|three|four|five|six|seven|eight|nine|ten|[2-9]|10)\s+(?:\w+\s+)?\w+s\b", re.IGNORECASE)
_BRIEF = re.compile(r"\b(one sentence|a sentence|single sentence|one word|a word|briefly|in brief|short|concise|in \w+ words)\b", re.IGNORECASE)
_UPPER = re.compile(r"\b(capital letters|upper ?case|all caps)\b", re.IGNORECASE)
_LOWER = re.compile(r"\blower ?case\b", re.IGNORECASE)


def _run_together(task: MiningTask) -> str | None:
    """A bulleted or numbered list flattened into one unpunctuated line."""
    items = list_items(task.best)
    return " ".join(item.rstrip(".;,") for item in items) if items else None


def _one_short(task: MiningTask) -> str | None:
    """A list of N items where the instruction asks for N, with one item missing."""
    match = _COUNT.search(task.instruction)
    items = list_items(task.best)
    if not match or not items:
        return None
    wanted = _NUMBER_WORDS.get(match.group(1).lower()) or int(match.group(1))
    if len(items) != wanted:
        return None
    lines = [line for line in task.best.splitlines() if line.strip()]
    drop = next(i for i in range(len(lines) - 1, -1, -1) if items[-1] in lines[i])
    return "\n".join(lines[:drop] + lines[drop + 1 :])


def _too_long(task: MiningTask) -> str | None:
    """A brief answer was asked for: the chosen answer padded with sentences from the other candidates."""
    if not _BRIEF.search(task.instruction):
        return None
    extra = [s for other in task.others for s in split_sentences(other) if s not in task.best]
    if len(extra) < 2:
        return None
    return " ".join([task.best.strip(), *extra[:6]])


def _json_as_prose(task: MiningTask) -> str | None:
    """JSON was asked for: the same content as sentences."""
    if "json" not in task.instruction.lower():
        return None
    try:
        data = json.loads(task.best)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not data:
        return None
    return " ".join(f"The {key} is {value}." for key, value in data.items())


def _case_inverted(task: MiningTask) -> str | None:
    """Upper case was asked for and given lower case, or the other way round."""
    if _UPPER.search(task.instruction):
        return task.best.lower()
    if _LOWER.search(task.instruction):
        return task.best.upper()
    return None


VIOLATIONS: dict[str, Callable[[MiningTask], str | None]] = {
    "list-run-together": _run_together,
    "item-missing": _one_short,
    "too-long": _too_long,
    "json-as-prose": _json_as_prose,
    "case-inverted": _case_inverted,
}


@dataclass
class FormatViolationMiner:
    """``count`` violations, chosen at random among those that apply to the task."""

    count: int = 1

    negative_type: ClassVar[str] = "format-violation"
    needs_model: ClassVar[bool] = False

    def mine(self, task: MiningTask, rng: random.Random, model: Any = None) -> list[Negative]:
        applicable = []
        for name, violate in VIOLATIONS.items():
            text = violate(task)
            if text is not None and differs(text, task.best):
                applicable.append(Negative(text, self.negative_type, {"violation": name}))
        return rng.sample(applicable, min(self.count, len(applicable)))

    def describe(self) -> dict[str, Any]:
        return describe_miner(self)


@hookimpl
def register_negative_miners(register) -> None:
    register("format-violation", FormatViolationMiner)
