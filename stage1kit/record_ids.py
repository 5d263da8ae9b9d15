"""Every record of a dataset has its own id: the check manifests and the training gate share.

Ids are what resume, reuse and provenance join on. A file where one id appears twice was written
by two runs at once, or resumed wrongly, or appended to by hand; its record count and hashes can
still look fine, so a manifest records the duplicates (and fails), ``manifest verify`` notices ones
a manifest does not record, and the gate refuses to train on them. Records without an ``id`` field
are not counted here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stage1kit.records import iter_records

#: The manifest's ``qc`` key holding :meth:`DuplicateIds.to_qc` (present only when there are duplicates).
QC_KEY = "duplicate_record_ids"
#: How many duplicated ids a message spells out.
SHOW = 5


@dataclass(frozen=True)
class DuplicateIds:
    """Ids that occur more than once, with how often, in the order of their first appearance."""

    occurrences: dict[str, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.occurrences)

    @property
    def extra_records(self) -> int:
        """Records beyond the first one of each id."""
        return sum(count - 1 for count in self.occurrences.values())

    def first(self, n: int = SHOW) -> list[str]:
        return list(self.occurrences)[:n]

    def describe(self) -> str:
        shown = ", ".join(f"{name!r} x{self.occurrences[name]}" for name in self.first())
        more = f", ... and {len(self.occurrences) - SHOW} more" if len(self.occurrences) > SHOW else ""
        return f"{len(self.occurrences)} record id(s) occur more than once ({self.extra_records} extra records): {shown}{more}"

    def to_qc(self) -> dict[str, Any]:
        return {"ids": len(self.occurrences), "extra_records": self.extra_records, "first": self.first()}


def duplicate_ids(records: Iterable[Mapping[str, Any]]) -> DuplicateIds:
    """The ids that more than one of ``records`` carries."""
    counts = Counter(str(record["id"]) for record in records if "id" in record)
    return DuplicateIds({name: count for name, count in counts.items() if count > 1})


def duplicate_ids_in(path: str | Path) -> DuplicateIds:
    """The duplicated ids of a JSONL file."""
    return duplicate_ids(iter_records(path))


def recorded_duplicates(qc: Mapping[str, Any]) -> int:
    """How many duplicated ids a manifest's ``qc`` records (0 when it records none)."""
    entry = qc.get(QC_KEY)
    return int(entry.get("ids", 0)) if isinstance(entry, Mapping) else 0


def duplicates_reason(qc: Mapping[str, Any]) -> str | None:
    """The verdict's reason for the duplicates ``qc`` records, or None."""
    entry = qc.get(QC_KEY)
    if not recorded_duplicates(qc):
        return None
    first = ", ".join(repr(name) for name in entry.get("first", []))
    return (
        f"{entry['ids']} record id(s) occur more than once ({entry.get('extra_records', '?')} extra records; first: {first}): "
        "two runs wrote into one run directory, or the file was appended to; delete the file and its manifest and "
        "rerun its stage"
    )
