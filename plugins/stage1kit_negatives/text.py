"""Text helpers the built-in miners share: sentences, words, list items, numbers, normalising.

Plain regular expressions, no NLP library: miners must stay cheap to import (the plugin manager
imports every miner module whenever the CLI lists plugins) and deterministic.
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_LIST_ITEM = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+(.*\S)\s*$")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
NUMBER = re.compile(r"(?<![\w.])(\d+(?:[.,]\d+)?)(?![\w])")

STOPWORDS = frozenset(
    """a an the and or but if of to in on at by for with from about into over as is are was were be been
    being do does did have has had this that these those it its you your we our they their he she his her
    i me my what which who whom whose how why when where please give write explain describe list name tell
    short brief one two three four five some any can could would should will shall may might must not no
    yes so than then there here very more most less few many much each every all both either neither""".split()
)


def plugin_version() -> str:
    """The version of the distribution shipping the built-in miners (stage1kit itself)."""
    try:
        return version("stage1kit")
    except PackageNotFoundError:
        return "unknown"


def normalise(text: str) -> str:
    """Whitespace-insensitive form, for "is this negative just the chosen answer?".

    Case is kept: an answer in the wrong case can be exactly the negative (a format violation).
    """
    return " ".join(text.split())


def split_sentences(text: str) -> list[str]:
    """Sentences of a paragraph (a line that ends without punctuation counts as one)."""
    sentences: list[str] = []
    for line in text.strip().splitlines():
        if line.strip():
            sentences += [s.strip() for s in _SENTENCE_END.split(line.strip()) if s.strip()]
    return sentences


def words(text: str) -> list[str]:
    return text.split()


def content_words(text: str) -> list[str]:
    """Lower-cased words that carry meaning (no stopwords, at least three letters)."""
    return [w.lower() for w in _WORD.findall(text) if len(w) >= 3 and w.lower() not in STOPWORDS]


def overlap(a: str, b: str) -> float:
    """Jaccard overlap of the content words of two texts (0 when either has none)."""
    wa, wb = set(content_words(a)), set(content_words(b))
    return len(wa & wb) / len(wa | wb) if wa and wb else 0.0


def list_items(text: str) -> list[str]:
    """The items of a bulleted or numbered list, or [] when fewer than two lines are list items."""
    items = [m.group(1) for m in (_LIST_ITEM.match(line) for line in text.splitlines()) if m]
    return items if len(items) >= 2 else []


def differs(candidate: str, original: str) -> bool:
    """A negative must not be the original answer in other whitespace."""
    return bool(candidate.strip()) and normalise(candidate) != normalise(original)


def describe_miner(miner: object) -> dict[str, object]:
    """What the pairs manifest records about a built-in miner: type, version and settings."""
    import dataclasses

    settings = dataclasses.asdict(miner) if dataclasses.is_dataclass(miner) else {}
    return {"negative_type": getattr(miner, "negative_type", "?"), "version": plugin_version(), "settings": settings}
