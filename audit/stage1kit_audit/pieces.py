"""Split a module at its top-level ``def``/``class`` lines, so unrelated ones need not be parsed.

Most of a large module is functions and classes that mention nothing a rule looks for. A top-level
function or class is skipped when its text holds none of the words its file's findings could hang
on (from the prefilter) and none of the module-level names bound to something that matters (an
alias such as ``p = transformers.pipeline``). Everything else (imports, assignments, any code
between definitions) is always parsed, in order, so name resolution sees the same bindings.

The split is textual; a split that lands inside a string or bracket leaves a piece that does not
parse, and the caller then parses the whole file instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BOUNDARY = re.compile(r"^(?:@|def\s|class\s|async\s+def\s)", re.M)
_HEADER = re.compile(r"(?:async\s+)?(def|class)\s+(\w+)")


@dataclass(frozen=True)
class Chunk:
    """A slice of the source starting at ``line`` (1-based).

    ``name`` is set when the slice is exactly one top-level function or class (decorators, a
    one-line header, then only indented, blank or comment lines): such a chunk may be skipped.
    ``is_class`` tells which of the two it is.
    """

    line: int
    text: str
    name: str | None
    is_class: bool = False


def _definition(text: str) -> tuple[str, bool] | None:
    lines = text.split("\n")
    index = 0
    if lines[0].startswith("@"):  # decorators, possibly over several lines, up to the header
        while index < len(lines) and not _HEADER.match(lines[index]):
            index += 1
    if index >= len(lines):
        return None
    header = _HEADER.match(lines[index])
    if header is None:
        return None
    for line in lines[index + 1 :]:
        if line and not line[0].isspace() and not line.startswith("#"):
            return None
    return header.group(2), header.group(1) == "class"


def split_chunks(text: str) -> list[Chunk]:
    """The source as consecutive chunks; joined, they give back ``text``."""
    starts = []
    in_decorators = False
    for match in _BOUNDARY.finditer(text):
        if text[match.start()] == "@":
            if not in_decorators:
                starts.append(match.start())
                in_decorators = True
        elif in_decorators:
            in_decorators = False  # the definition the decorators above belong to
        else:
            starts.append(match.start())
    bounds = [0, *[s for s in starts if s > 0], len(text)]
    chunks = []
    line = 1
    for start, end in zip(bounds, bounds[1:], strict=False):
        piece = text[start:end]
        definition = _definition(piece) if _BOUNDARY.match(piece) else None
        if definition is None:
            chunks.append(Chunk(line, piece, None))
        else:
            chunks.append(Chunk(line, piece, definition[0], definition[1]))
        line += piece.count("\n")
    return chunks


def mentions(text: str, words: frozenset[str] | set[str]) -> bool:
    return any(word in text for word in words)
