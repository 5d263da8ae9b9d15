"""Small pieces the generation stages share: a progress bar, input checks, manifest verdicts."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Callable

from stage1kit.records import read_input_records


class StageInputError(RuntimeError):
    """A stage's input file is missing or holds a record without the fields the stage needs."""


class StageConfigError(ValueError):
    """A stage's settings name a plugin that cannot do the stage's job."""


@contextlib.contextmanager
def progress_bar(description: str, total: int, completed: int = 0, *, show: bool = True) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n)``; draws a rich progress bar when ``show`` (a no-op otherwise)."""
    if not show:
        yield lambda n=1: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=False) as bar:
        task = bar.add_task(description, total=max(total, completed), completed=completed)
        yield lambda n=1: bar.advance(task, n)


def create_generator(registry: Any, name: str, settings: dict[str, Any], protocol: type, stage: str) -> Any:
    """The generator plugin ``name``, checked to be one that writes ``stage`` records.

    Generators of both stages share one plugin kind, so naming the wrong one is a config mistake
    the stage must catch before it samples anything.
    """
    generator = registry.create("generators", name, **settings)
    if not isinstance(generator, protocol) or getattr(generator, "stage", None) != stage:
        raise StageConfigError(
            f"generator '{name}' does not write {stage} (its stage is {getattr(generator, 'stage', '?')!r}); "
            f"name a generator whose stage is '{stage}', see `stage1kit plugins`"
        )
    return generator


def read_input(path: Path, fields: Sequence[str], producer: str) -> list[dict[str, Any]]:
    """Records of an upstream stage, each checked for ``fields``; errors say how to make them."""
    if not path.is_file():
        raise StageInputError(f"{path} does not exist; run `stage1kit {producer}` first")
    records = read_input_records(path)
    for number, record in enumerate(records, start=1):
        for name in fields:
            if name not in record:
                raise StageInputError(
                    f"{path}: record {number} (id {record.get('id', '?')!r}) has no field '{name}'; "
                    f"regenerate the file with `stage1kit {producer}`"
                )
    return records


def verdict_of(manifest: dict[str, Any] | None) -> str | None:
    """'pass' / 'fail' from a manifest's verdict, whichever shape it has."""
    if not manifest:
        return None
    verdict = manifest.get("verdict")
    if isinstance(verdict, dict):
        for key in ("status", "result", "verdict"):
            if isinstance(verdict.get(key), str):
                return verdict[key]
        if "passed" in verdict:
            return "pass" if verdict["passed"] else "fail"
        return None
    return verdict if isinstance(verdict, str) else None


def model_provenance(loaded: Any) -> dict[str, Any]:
    """What records say about the model: id and revision."""
    provenance = getattr(loaded, "provenance", {}) or {}
    return {"model_id": provenance.get("model_id"), "model_revision": provenance.get("resolved_revision") or provenance.get("revision")}


def stage_config(stage: str, settings: Any, loaded: Any) -> dict[str, Any]:
    """The config a stage's manifest hashes: its settings and the model it ran on."""
    import dataclasses

    return {"stage": stage, "settings": dataclasses.asdict(settings), "model": model_provenance(loaded)}
