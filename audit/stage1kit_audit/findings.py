"""The audit's results: one :class:`Finding` per problem, gathered in an :class:`AuditReport`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, order=True)
class Finding:
    """One problem at ``path:line:column`` (1-based line, 1-based column).

    For notebooks ``line`` and ``column`` are those of the ``.ipynb`` file (where annotations
    point), ``cell`` is the 1-based code-cell number and ``cell_line`` the line within that cell.
    """

    path: str
    line: int
    column: int
    rule: str
    message: str
    severity: str = "error"
    cell: int | None = None
    cell_line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.cell is None:
            del data["cell"], data["cell_line"]
        return data


@dataclass
class AuditReport:
    """What an audit run found, plus how many files it looked at and how many it had to parse."""

    findings: list[Finding] = field(default_factory=list)
    files_checked: int = 0
    files_parsed: int = 0
    files_cached: int = 0

    @property
    def clean(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {
            "clean": self.clean,
            "findings": [f.to_dict() for f in self.findings],
            "files_checked": self.files_checked,
            "files_parsed": self.files_parsed,
            "files_cached": self.files_cached,
        }
