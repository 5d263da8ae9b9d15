"""``regex``: an answer is correct when a regular expression matches it (after normalisation).

For answers whose form is what matters (a number, a date, one word from a list). ``match`` chooses
``fullmatch`` (the whole normalised answer) or ``search`` (anywhere in it). The pattern may contain
``{instruction}``, replaced by the escaped instruction text, for checks such as "repeats the question".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from stage1kit import Stage1kitError, Verification, help_metadata

from stage1kit_verifiers.normalise import normalise

MATCH_MODES = ("fullmatch", "search")


class RegexVerifierError(Stage1kitError):
    """The ``regex`` verifier's settings do not make a usable pattern."""


@dataclass
class RegexVerifier:
    """Settings of the ``regex`` verifier (``[evaluate] verifier_settings``)."""

    pattern: str = field(default="", metadata=help_metadata("Python regular expression; {instruction} is replaced by the escaped instruction"))
    match: str = field(default="fullmatch", metadata=help_metadata("fullmatch (the whole answer) or search (anywhere in it)"))
    ignore_case: bool = field(default=True, metadata=help_metadata("case-insensitive matching"))
    first_line: bool = field(default=True, metadata=help_metadata("match only the answer's first line"))

    def __post_init__(self) -> None:
        if not self.pattern:
            raise RegexVerifierError('verifier \'regex\' needs a pattern: set [evaluate] verifier_settings = { pattern = "..." }')
        if self.match not in MATCH_MODES:
            raise RegexVerifierError(f"[evaluate] verifier_settings.match = {self.match!r}: use one of {', '.join(MATCH_MODES)}")
        self._flags = re.IGNORECASE if self.ignore_case else 0
        try:
            re.compile(self.pattern.replace("{instruction}", ""), self._flags)
        except re.error as exc:
            raise RegexVerifierError(f"[evaluate] verifier_settings.pattern {self.pattern!r} is not a valid regular expression: {exc}") from None

    def verify(self, instruction: str, answer: str) -> Verification:
        pattern = self.pattern.replace("{instruction}", re.escape(instruction.strip()))
        text = normalise(answer, case_sensitive=True, first_line=self.first_line)
        matcher = re.fullmatch if self.match == "fullmatch" else re.search
        correct = matcher(pattern, text, self._flags) is not None
        return Verification(correct, 1.0 if correct else 0.0)

    def describe(self) -> dict[str, Any]:
        return {"name": "regex", "pattern": self.pattern, "match": self.match, "ignore_case": self.ignore_case}
