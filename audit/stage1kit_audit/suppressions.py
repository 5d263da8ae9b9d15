"""``# stage1kit: allow[CODE] reason: <text>`` comments, and SK900 for bad ones.

A comment at the end of a line covers that line; a comment on a line of its own covers the line
below. Other tools' ``noqa`` comments suppress nothing.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass

_COMMENT = re.compile(r"#\s*stage1kit:\s*(?P<body>.*)$")
_ALLOW = re.compile(r"allow\[(?P<codes>[^\]]*)\]\s*(?:reason:\s*(?P<reason>.*))?$")
def _form(codes: tuple[str, ...] | list[str] = ("SK200",)) -> str:
    return f"write `# stage1kit: allow[{', '.join(codes) or 'SK200'}] reason: <why this is safe>`"


# (line, column, rule, message)
Raw = tuple[int, int, str, str]


@dataclass
class Suppression:
    line: int
    column: int
    codes: tuple[str, ...]
    covers: int  # the line whose findings it suppresses
    used: bool = False


def _comments(text: str) -> list[tuple[int, int, str, bool]]:
    """(line, column, text, alone on its line) of every comment; a line scan if tokenizing fails."""
    try:
        return [
            (tok.start[0], tok.start[1] + 1, tok.string, not tok.line[: tok.start[1]].strip())
            for tok in tokenize.generate_tokens(io.StringIO(text).readline)
            if tok.type == tokenize.COMMENT
        ]
    except (tokenize.TokenError, SyntaxError):
        out = []
        for number, line in enumerate(text.splitlines(), 1):
            index = line.find("#")
            if index >= 0:
                out.append((number, index + 1, line[index:], not line[:index].strip()))
        return out


def parse_suppressions(text: str, known_codes: set[str]) -> tuple[list[Suppression], list[Raw]]:
    """The valid suppressions in ``text`` and SK900 findings for malformed ones."""
    suppressions: list[Suppression] = []
    problems: list[Raw] = []
    for line, column, comment, alone in _comments(text):
        match = _COMMENT.match(comment)
        if match is None:
            continue
        allow = _ALLOW.match(match.group("body").strip())
        if allow is None:
            problems.append((line, column, "SK900", f"malformed suppression; {_form()}"))
            continue
        codes = tuple(c.strip() for c in allow.group("codes").split(",") if c.strip())
        unknown = [c for c in codes if c not in known_codes]
        if not codes or unknown:
            listed = ", ".join(unknown) or "(none)"
            known = ", ".join(sorted(known_codes))
            problems.append((line, column, "SK900", f"suppression names unknown rule code {listed}; known: {known}"))
            continue
        if not (allow.group("reason") or "").strip():
            problems.append((line, column, "SK900", f"suppression of {', '.join(codes)} gives no reason; {_form(codes)}"))
            continue
        suppressions.append(Suppression(line, column, codes, line + 1 if alone else line))
    return suppressions, problems


def apply_suppressions(findings: list[Raw], text: str, known_codes: set[str]) -> list[Raw]:
    """Drop suppressed findings; add SK900 for bad suppressions and ones that suppress nothing."""
    suppressions, problems = parse_suppressions(text, known_codes)
    by_line: dict[int, list[Suppression]] = {}
    for suppression in suppressions:
        by_line.setdefault(suppression.covers, []).append(suppression)
    kept: list[Raw] = []
    for finding in findings:
        line, _, rule, _ = finding
        covering = [s for s in by_line.get(line, ()) if rule in s.codes]
        for suppression in covering:
            suppression.used = True
        if not covering:
            kept.append(finding)
    for suppression in suppressions:
        if not suppression.used:
            problems.append(
                (suppression.line, suppression.column, "SK900",
                 f"suppression of {', '.join(suppression.codes)} suppresses nothing; remove it")
            )
    return kept + problems
