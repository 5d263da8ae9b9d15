"""The answer normalisation the built-in verifiers share, stated once so it can be documented.

An answer is compared after: keeping only its first line (a model that runs on past its answer
is judged on what it answered), Unicode NFKC, collapsing runs of whitespace to one space, trimming,
dropping trailing sentence punctuation (``.``, ``!``, ``?``, ``,``, ``;``, ``:``) outside and inside
one pair of surrounding quotes, and case-folding unless ``case_sensitive``.
"""

from __future__ import annotations

import re
import unicodedata

_SPACE = re.compile(r"\s+")
_TRAILING = ".!?,;:"
_QUOTES = ("\"\"", "''", "``", "\u201c\u201d", "\u2018\u2019")


def normalise(text: str, *, case_sensitive: bool = False, first_line: bool = True) -> str:
    """``text`` as the verifiers compare it (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text).strip()
    if first_line:
        text = text.split("\n", 1)[0]
    text = _SPACE.sub(" ", text).strip().rstrip(_TRAILING).strip()
    for opening, closing in _QUOTES:
        if len(text) >= 2 and text[0] == opening and text[-1] == closing:
            text = text[1:-1].strip().rstrip(_TRAILING).strip()
            break
    return text if case_sensitive else text.casefold()


def instruction_key(instruction: str) -> str:
    """How a reference file's instructions are looked up: whitespace collapsed, case-folded."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", instruction)).strip().casefold()
