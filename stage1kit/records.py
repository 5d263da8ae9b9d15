"""JSONL records: appended and flushed one at a time, read back tolerant of a torn last line.

A stage that crashes (or is killed) leaves a JSONL file whose complete lines are all good records
and whose last line may be half-written. :func:`read_records` drops such a torn tail (and
:class:`RecordWriter` truncates it before appending), so a resumed stage continues without
duplicates or garbage. Bad records anywhere else are errors naming the file and line.
"""

from __future__ import annotations

from stage1kit.errors import Stage1kitError
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


class RecordError(Stage1kitError, ValueError):
    """A JSONL file holds something that is not a record."""


def _complete_prefix_length(path: Path) -> int:
    """Bytes up to and including the last newline: everything after it is a torn write."""
    data = path.read_bytes()
    return data.rfind(b"\n") + 1


def iter_records(path: str | Path) -> Iterator[dict[str, Any]]:
    """Yield the records of a JSONL file; a torn final line (no newline) is skipped."""
    path = Path(path)
    if not path.exists():
        return
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.endswith(b"\n"):
                return  # torn tail of an interrupted write
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise RecordError(f"{path}:{number}: not valid JSON ({exc.msg}); fix or delete that line") from exc
            if not isinstance(record, dict):
                raise RecordError(f"{path}:{number}: expected a JSON object, got {type(record).__name__}")
            yield record


def read_records(path: str | Path) -> list[dict[str, Any]]:
    return list(iter_records(path))


class RecordWriter:
    """Append records to a JSONL file, flushing (and fsync-ing) each so a crash loses at most one.

    Opening an existing file first cuts off a torn final line left by an interrupted run.
    """

    def __init__(self, path: str | Path, *, fsync: bool = True):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            keep = _complete_prefix_length(self.path)
            if keep != self.path.stat().st_size:
                with self.path.open("r+b") as handle:
                    handle.truncate(keep)
        self._handle = self.path.open("a", encoding="utf-8")
        self._fsync = fsync
        self.written = 0

    def write(self, record: dict[str, Any]) -> None:
        self._handle.write(json.dumps(record, ensure_ascii=False, sort_keys=False) + "\n")
        self._handle.flush()
        if self._fsync:
            os.fsync(self._handle.fileno())
        self.written += 1

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> "RecordWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write a whole file so readers see the old or the new content, never half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_records_atomic(path: str | Path, records: Iterable[dict[str, Any]]) -> int:
    """Write a whole JSONL file atomically (for stages that produce their output in one go)."""
    lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in records]
    atomic_write_text(path, "".join(lines))
    return len(lines)
