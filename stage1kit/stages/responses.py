"""The responses stage: k candidate answers per instruction from a Best-of-N generator.

Resumes from ``responses.jsonl``: the generator gets every instruction and the ids already answered,
and writes only the missing ones (sampled exactly as an uninterrupted run would sample them). QC counts
candidates that came back empty, duplicated within their record, or cut off at the token limit.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

from stage1kit.settings import require_range
from stage1kit.selection import text_key
from stage1kit.stages.base import JsonlStage, PluginUse, Produced, StageConfigError, StageContext, read_input


@dataclass
class ResponsesSettings:
    """``[responses]``: k sampled candidate answers per instruction."""

    generator: str = field(default="best-of-n", metadata={"help": "response generator plugin name"})
    k: int = field(default=4, metadata={"help": "candidates per instruction", "short": "-k"})
    seed: int = field(default=0, metadata={"help": "sampling seed (recorded in provenance)"})
    generator_settings: dict[str, Any] = field(
        default_factory=dict, metadata={"help": "generator settings, e.g. { temperature = 0.8, max_new_tokens = 128 }", "flag": "set"}
    )
    thresholds: dict[str, float] = field(
        default_factory=lambda: {"min_instructions": 1}, metadata={"help": "QC thresholds the manifest verdict checks"}
    )

    def __post_init__(self) -> None:
        require_range(self, "k", minimum=1)


class ResponsesStage(JsonlStage):
    """k candidate answers per instruction from a Best-of-N generator."""

    name = "responses"
    table = "responses"
    settings_type = ResponsesSettings
    inputs = ("instructions",)
    outputs = ("responses",)
    uses_prompt = True
    uses_engine = True
    text_fields = ("instruction", "candidates")
    work_list = ("instructions", "id")
    summary_keys = ("instructions", "candidates", "empty", "duplicates", "truncated")

    def plugin_uses(self, settings: ResponsesSettings) -> list[PluginUse]:
        return [PluginUse("generator", "generator_settings", "response_generators", settings.generator, dict(settings.generator_settings))]

    def produce(self, ctx: StageContext, settings: ResponsesSettings, sink: Any, existing: list[dict[str, Any]]) -> Produced:
        instructions = read_input(ctx.run_dir.dataset("instructions"), ("id", "instruction"), "instructions")
        generator = ctx.registry.create("response_generators", settings.generator, **settings.generator_settings)
        if "prompt_format" not in inspect.signature(generator.generate).parameters:
            raise StageConfigError(
                f"[responses] generator = {settings.generator!r}: its generate() takes no prompt_format, so its answers would "
                "not answer the run's [prompt] format; update the plugin (see stage1kit.protocols.ResponseGenerator)"
            )
        # records already written, and (in a shard run) the instructions other shards answer
        outside = ctx.outside_shard([r["id"] for r in instructions])
        done = {r.get("instruction_id") for r in existing} | outside
        already = sum(r["id"] in done for r in instructions) - len(outside)
        with ctx.progress("responses", len(instructions) - len(outside), already) as advance:
            stats = generator.generate(
                ctx.base_model(), instructions, sink, k=settings.k, seed=settings.seed, done=done, progress=advance,
                prompt_format=ctx.prompt_format(),
            )
        return Produced(records_in=len(instructions), plugins={"generator": generator.describe()}, stats=stats.to_dict())

    def qc(self, records: list[dict[str, Any]], produced: Produced, settings: ResponsesSettings) -> dict[str, Any]:
        # the file's counts, plus what the generator itself reported for this session's records
        return response_qc(records, k=settings.k) | {"generator": produced.stats}

    def merged_stats(self, shard_qcs: list[dict[str, Any]]) -> dict[str, Any]:
        return merge_generator_stats([qc.get("generator") or {} for qc in shard_qcs])


def merge_generator_stats(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One generator report from the shards' (``GenerationStats.to_dict``): counts add up, lists join."""
    merged: dict[str, Any] = {"target": 0, "accepted": 0, "rounds": 0, "generated": 0, "rejected": {}, "per_round": [], "notes": []}
    for part in parts:
        for key in ("target", "accepted", "rounds", "generated"):
            merged[key] += int(part.get(key) or 0)
        for reason, count in (part.get("rejected") or {}).items():
            merged["rejected"][reason] = merged["rejected"].get(reason, 0) + int(count)
        merged["per_round"] += list(part.get("per_round") or [])
        merged["notes"] += [n for n in part.get("notes") or [] if n not in merged["notes"]]
    merged["acceptance_rate"] = merged["accepted"] / merged["generated"] if merged["generated"] else 0.0
    merged["target_reached"] = all(bool(part.get("target_reached")) for part in parts)
    return merged


def candidate_counts(candidates: list[str]) -> tuple[int, int]:
    """(empty, duplicates): blank answers, and answers equal (up to whitespace) to an earlier one."""
    seen: set[str] = set()
    empty = duplicates = 0
    for text in candidates:
        key = text_key(text)
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
    # candidates cut at a chat special token the model wrote (``<|im_start|>`` opening the next turn)
    chat_token = sum(sum(c is not None for c in r.get("cut_at_special", [])) for r in records)
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
        "chat_token_cut": chat_token,
    }
