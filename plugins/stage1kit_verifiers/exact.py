"""``exact-match``: an answer is correct when it equals the reference answer for its instruction.

The reference file is JSONL, one ``{"instruction": ..., "answer": ...}`` object a line (the field
names are settings); ``answer`` may also be a list of accepted answers. Instructions are looked up
with whitespace collapsed and case folded; answers are compared after
:func:`stage1kit_verifiers.normalise.normalise`. An instruction the file does not hold is
``known=False``: the evaluator counts it apart instead of calling it wrong. The file's questions
are also the evaluate stage's held-out set (minus anything the run trained on).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stage1kit import Stage1kitError, Verification, help_metadata

from stage1kit_verifiers.normalise import instruction_key, normalise


class ReferenceFileError(Stage1kitError):
    """The exact-match reference file is missing or malformed."""


@dataclass
class ExactMatchVerifier:
    """Settings of the ``exact-match`` verifier (``[evaluate] verifier_settings``)."""

    reference: str = field(default="", metadata=help_metadata("JSONL file of {instruction, answer} rows; relative to the config file's folder"))
    instruction_field: str = field(default="instruction", metadata=help_metadata("the reference rows' instruction key"))
    answer_field: str = field(default="answer", metadata=help_metadata("the reference rows' answer key (a string or a list of accepted answers)"))
    case_sensitive: bool = field(default=False, metadata=help_metadata("compare answers without case-folding"))
    first_line: bool = field(default=True, metadata=help_metadata("judge only the answer's first line"))
    config_dir: str = field(default="", metadata=help_metadata("set by the engine: the config file's folder, which a relative reference is read from"))

    def __post_init__(self) -> None:
        if not self.reference:
            raise ReferenceFileError(
                "verifier 'exact-match' needs a reference file: set [evaluate] verifier_settings = "
                '{ reference = "answers.jsonl" } (JSONL rows {"instruction": ..., "answer": ...})'
            )
        self.path = self._resolve(self.reference)
        self._answers, self._questions = self._read(self.path)

    def _resolve(self, reference: str) -> Path:
        path = Path(reference).expanduser()
        if not path.is_absolute() and self.config_dir:
            path = Path(self.config_dir) / path
        if not path.is_file():
            raise ReferenceFileError(
                f"[evaluate] verifier_settings.reference: no file at {path}; give the JSONL reference file's "
                "path (relative paths are read from the config file's folder)"
            )
        return path

    def _read(self, path: Path) -> tuple[dict[str, list[str]], list[str]]:
        answers: dict[str, list[str]] = {}
        questions: list[str] = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ReferenceFileError(f"{where}: not JSON ({exc.msg}); each line must be one JSON object") from None
            instruction, answer = (row.get(self.instruction_field), row.get(self.answer_field)) if isinstance(row, dict) else (None, None)
            accepted = [answer] if isinstance(answer, str) else answer
            if not isinstance(instruction, str) or not instruction.strip():
                raise ReferenceFileError(f"{where}: field '{self.instruction_field}' must be a non-empty string")
            if not isinstance(accepted, list) or not accepted or not all(isinstance(a, str) for a in accepted):
                raise ReferenceFileError(f"{where}: field '{self.answer_field}' must be a string or a list of strings")
            key = instruction_key(instruction)
            if key in answers:
                raise ReferenceFileError(f"{where}: instruction {instruction!r} appears twice; give one row with a list of answers")
            answers[key] = accepted
            questions.append(instruction.strip())
        if not questions:
            raise ReferenceFileError(f"{path}: the reference file holds no rows")
        return answers, questions

    def _norm(self, text: str) -> str:
        return normalise(text, case_sensitive=self.case_sensitive, first_line=self.first_line)

    def verify(self, instruction: str, answer: str) -> Verification:
        accepted = self._answers.get(instruction_key(instruction))
        if accepted is None:
            return Verification(False, 0.0, None, known=False, detail="instruction not in the reference file")
        correct = self._norm(answer) in {self._norm(a) for a in accepted}
        return Verification(correct, 1.0 if correct else 0.0, accepted[0])

    def questions(self) -> list[str]:
        """Every instruction of the reference file, in file order."""
        return list(self._questions)

    def describe(self) -> dict[str, Any]:
        return {
            "name": "exact-match",
            "reference": str(self.path),
            "reference_sha256": hashlib.sha256(self.path.read_bytes()).hexdigest(),
            "questions": len(self._questions),
            "case_sensitive": self.case_sensitive,
            "first_line": self.first_line,
        }
