"""The responses stage: k candidate answers per instruction from a Best-of-N generator.

Resumes from ``responses.jsonl``: the generator gets every instruction and the ids already answered,
and writes only the missing ones (sampled exactly as an uninterrupted run would sample them). QC counts
candidates that came back empty, duplicated within their record, or cut off at the token limit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stage1kit.protocols import ResponseGenerator
from stage1kit.records import RecordWriter, read_records
from stage1kit.resume import finish_output, start_output
from stage1kit.rundir import RunDir
from stage1kit.stages import StageOutcome
from stage1kit.stages.support import create_generator, progress_bar, read_input, stage_config, verdict_of

if TYPE_CHECKING:
    from stage1kit.loader import LoadedModel
    from stage1kit.plugins import Registry


@dataclass
class ResponsesSettings:
    """``[responses]``: k sampled candidate answers per instruction."""

    generator: str = field(default="best-of-n", metadata={"help": "response generator plugin name"})
    k: int = field(default=4, metadata={"help": "candidates per instruction"})
    seed: int = 0
    generator_settings: dict[str, Any] = field(
        default_factory=dict, metadata={"help": "generator settings, e.g. { temperature = 0.8, max_new_tokens = 128 }"}
    )
    thresholds: dict[str, float] = field(
        default_factory=lambda: {"min_instructions": 1}, metadata={"help": "QC thresholds the manifest verdict checks"}
    )


def run_responses_stage(
    run_dir: RunDir,
    settings: ResponsesSettings,
    *,
    loaded: "LoadedModel",
    registry: "Registry",
    audit: dict[str, Any] | None,
    show_progress: bool = True,
    config: dict[str, Any] | None = None,
) -> StageOutcome:
    """Sample ``settings.k`` answers for every instruction that has none yet; write records and manifest."""
    from stage1kit.manifest import write_manifest

    started = time.perf_counter()
    source = run_dir.dataset("instructions")
    instructions = read_input(source, ("id", "instruction"), "instructions")
    output = run_dir.dataset("responses")
    generator = create_generator(registry, settings.generator, settings.generator_settings, ResponseGenerator, "responses")
    config = config if config is not None else stage_config("responses", settings, loaded)
    start_output(output, config=config, inputs=(source,))
    with RecordWriter(output) as sink:
        done = {r.get("instruction_id") for r in read_records(output)}
        already = sum(r["id"] in done for r in instructions)
        with progress_bar("responses", len(instructions), already, show=show_progress) as advance:
            generator.generate(loaded, instructions, sink, k=settings.k, seed=settings.seed, done=done, progress=advance)
    records = read_records(output)
    qc = response_qc(records, k=settings.k)
    manifest = write_manifest(
        "responses",
        output,
        inputs=(source,),
        config=config,
        model=loaded.provenance,
        plugins={"generator": generator.describe()},
        qc=qc,
        thresholds=settings.thresholds,
        audit=audit,
        text_fields=("instruction", "candidates"),
    )
    finish_output(output)
    return StageOutcome(
        stage="responses",
        records_in=len(instructions),
        records_out=len(records),
        seconds=time.perf_counter() - started,
        outputs=[output],
        stats=qc,
        verdict=verdict_of(manifest),
    )


def candidate_counts(candidates: list[str]) -> tuple[int, int]:
    """(empty, duplicates): blank answers, and answers equal (up to whitespace) to an earlier one."""
    seen: set[str] = set()
    empty = duplicates = 0
    for text in candidates:
        key = " ".join(text.split())
        if not key:
            empty += 1
        elif key in seen:
            duplicates += 1
        seen.add(key)
    return empty, duplicates


def response_qc(records: list[dict[str, Any]], *, k: int) -> dict[str, Any]:
    """Counts over the whole file (so a resumed run reports every record, not only its own)."""
    candidates = sum(len(r.get("candidates", [])) for r in records)
    empty = duplicates = 0
    for record in records:
        e, d = candidate_counts(record.get("candidates", []))
        empty, duplicates = empty + e, duplicates + d
    truncated = sum(sum(bool(t) for t in r.get("truncated", [])) for r in records)
    return {
        "instructions": len(records),
        "k": k,
        "candidates": candidates,
        "empty": empty,
        "duplicates": duplicates,
        "truncated": truncated,
        "empty_rate": empty / candidates if candidates else 0.0,
        "duplicate_rate": duplicates / candidates if candidates else 0.0,
        "truncated_rate": truncated / candidates if candidates else 0.0,
    }
