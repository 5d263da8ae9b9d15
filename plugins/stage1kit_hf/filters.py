"""Cheap, model-free filters for generated instructions; each returns a reason or None.

The reasons are the keys the generator counts in its stats (``rejected`` per filter), so a run that
accepts little says exactly why. The order is cheapest first; near-duplicates and the critic's
quality score come after these in the generator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Tasks a text-only model cannot do (Self-Instruct's list, plus a few obvious relatives).
NON_TEXT_WORDS = (
    "image", "images", "picture", "pictures", "photo", "photos", "graph", "graphs", "chart", "charts",
    "diagram", "diagrams", "flowchart", "draw", "drawing", "plot", "map", "maps", "video", "videos",
    "audio", "sound", "music", "file", "files", "attached", "attachment", "screenshot", "url", "link",
)
_NON_TEXT = re.compile(r"\b(" + "|".join(NON_TEXT_WORDS) + r")\b|\bgo to\b", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*", re.UNICODE)
EMPTY, TOO_SHORT, TOO_LONG, TRUNCATED, NON_TEXT, MALFORMED = "empty", "too_short", "too_long", "truncated", "non_text", "malformed"
NEAR_DUPLICATE, LOW_QUALITY = "near_duplicate", "low_quality"
#: every reason an instruction can be rejected for, in the order the generator applies them
REASONS = (EMPTY, TRUNCATED, TOO_SHORT, TOO_LONG, MALFORMED, NON_TEXT, NEAR_DUPLICATE, LOW_QUALITY)


@dataclass(frozen=True)
class FilterSettings:
    """Length bounds in words; ``min_letter_ratio`` of non-space characters must be letters."""

    min_words: int = 3
    max_words: int = 80
    min_letter_ratio: float = 0.6
    max_repeat: int = 3


def length_reason(text: str, settings: FilterSettings) -> str | None:
    words = len(text.split())
    if words == 0:
        return EMPTY  # the model closed the list item without writing one
    if words < settings.min_words:
        return TOO_SHORT
    if words > settings.max_words:
        return TOO_LONG
    return None


def malformed_reason(text: str, settings: FilterSettings) -> str | None:
    """Not an instruction-shaped sentence: starts with punctuation, holds control characters or
    broken bytes, is mostly symbols, or repeats one word over and over."""
    stripped = text.strip()
    if not stripped or not stripped[0].isalnum():
        return MALFORMED
    if any(not c.isprintable() and not c.isspace() for c in stripped) or "\ufffd" in stripped:
        return MALFORMED  # control characters or broken bytes: not text a person wrote
    visible = [c for c in stripped if not c.isspace()]
    letters = sum(c.isalpha() for c in visible)
    if letters < settings.min_letter_ratio * len(visible):
        return MALFORMED
    words = [w.lower() for w in _WORD.findall(stripped)]
    if not words:
        return MALFORMED
    run = 1
    for previous, word in zip(words, words[1:]):
        run = run + 1 if word == previous else 1
        if run > settings.max_repeat:
            return MALFORMED
    return None


def non_text_reason(text: str) -> str | None:
    """Asks for something other than text (an image, a file, a web page)."""
    return NON_TEXT if _NON_TEXT.search(text) else None


def cheap_reason(text: str, truncated: bool, settings: FilterSettings) -> str | None:
    """The first model-free filter ``text`` fails, or None."""
    if truncated and text.strip():
        return TRUNCATED
    return length_reason(text, settings) or malformed_reason(text, settings) or non_text_reason(text)
