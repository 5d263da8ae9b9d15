"""Resuming interrupted stages: batches laid out so a resumed run writes exactly what an
uninterrupted one would, and markers that say whether partial records may be resumed at all.

Sampling and scoring depend on how work is batched: each batch is seeded by its position, and its
padding width follows its longest member. So batches are cut from the *whole* work list, never from
what is left after a crash: a batch whose items are all written is skipped, and a batch a crash cut
short is computed again whole, with only its missing items written.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class ResumeBatch(Generic[T]):
    """One batch of the full work list; ``fresh[i]`` is False where ``items[i]`` is already written."""

    start: int
    items: list[T]
    fresh: list[bool]

    @property
    def new_count(self) -> int:
        return sum(self.fresh)


def resume_batches(items: Sequence[T], size: int, done: Collection[str], key: Callable[[T], str]) -> Iterator[ResumeBatch[T]]:
    """Batches of ``size`` over ``items`` that still hold unwritten work (``key(item) not in done``)."""
    if size < 1:
        raise ValueError(f"batch size must be at least 1, got {size}")
    for start in range(0, len(items), size):
        part = list(items[start : start + size])
        fresh = [key(item) not in done for item in part]
        if any(fresh):
            yield ResumeBatch(start, part, fresh)


# --------------------------------------------------------------------------- in-progress markers


def progress_marker(output: Path) -> Path:
    """``x.jsonl`` -> ``x.in-progress.json``: how the stage now appending to ``x.jsonl`` was started."""
    return output.with_name(output.stem + ".in-progress.json")


def _start_key(config: Mapping[str, Any], inputs: Sequence[Path]) -> dict[str, Any]:
    from stage1kit.hashing import file_sha256
    from stage1kit.manifest import config_hash

    return {"config_hash": config_hash(dict(config)), "inputs": {p.name: file_sha256(p) for p in inputs if p.is_file()}}


def start_output(output: Path, *, config: Mapping[str, Any], inputs: Sequence[Path] = ()) -> bool:
    """Call before a stage appends to ``output``; True when it discarded partial records.

    Records left by an interrupted run (no manifest yet) are resumed only when that run was started
    with the same config and inputs, as its marker records; otherwise they belong to different work
    and are discarded rather than mixed in. A marker is then written for this run.
    """
    from stage1kit.records import atomic_write_text
    from stage1kit.rundir import manifest_path_for

    marker, key = progress_marker(output), _start_key(config, inputs)
    discarded = False
    if output.exists() and not manifest_path_for(output).exists() and marker.exists() and _read_marker(marker) != key:
        output.unlink()
        discarded = True
    atomic_write_text(marker, json.dumps(key, sort_keys=True))
    return discarded


def finish_output(output: Path) -> None:
    """The stage wrote its manifest: nothing is in progress any more."""
    progress_marker(output).unlink(missing_ok=True)


def _read_marker(marker: Path) -> Any:
    try:
        return json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # unreadable: treated as started differently
