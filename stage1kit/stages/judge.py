"""The judge stage: the critic ranks each instruction's candidates (see :mod:`stage1kit.ranking`).

Instructions are ranked ``instructions_per_batch`` at a time, and every pair of every instruction in
that batch goes to the critic in one call, so its forward passes batch across instructions. Resumes
from ``judgements.jsonl``: responses already judged are skipped, with batches cut from the full
response list (:mod:`stage1kit.resume`) so a resumed file equals an uninterrupted one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stage1kit.pairs import distribution
from stage1kit.ranking import RankingConfig, rank_candidates
from stage1kit.records import RecordWriter, read_records
from stage1kit.resume import finish_output, resume_batches, start_output
from stage1kit.rundir import RunDir
from stage1kit.stages import StageOutcome
from stage1kit.stages.support import model_provenance, progress_bar, read_input, stage_config, verdict_of

if TYPE_CHECKING:
    from stage1kit.loader import LoadedModel
    from stage1kit.plugins import Registry


@dataclass
class JudgeSettings:
    """``[judge]``: rank candidates with the critic (round-robin for small k, pivot for larger k)."""

    critic: str = field(default="logprob", metadata={"help": "critic plugin that compares candidates"})
    critic_settings: dict[str, Any] = field(default_factory=dict, metadata={"help": "critic settings, e.g. { batch_size = 16 }"})
    round_robin_max_k: int = field(default=5, metadata={"help": "largest k judged by a full round-robin; above it, the pivot scheme"})
    finalists: int = field(default=3, metadata={"help": "pivot scheme: candidates that meet in a final round-robin"})
    instructions_per_batch: int = field(default=16, metadata={"help": "instructions whose pairs go to the critic together"})
    thresholds: dict[str, float] = field(
        default_factory=lambda: {"min_judgements": 1}, metadata={"help": "QC thresholds the manifest verdict checks"}
    )


def run_judge_stage(
    run_dir: RunDir,
    settings: JudgeSettings,
    *,
    loaded: "LoadedModel",
    registry: "Registry",
    audit: dict[str, Any] | None,
    show_progress: bool = True,
    config: dict[str, Any] | None = None,
) -> StageOutcome:
    """Rank every response record's candidates; write judgement records and the manifest."""
    from stage1kit.manifest import write_manifest

    started = time.perf_counter()
    source = run_dir.dataset("responses")
    responses = read_input(source, ("id", "instruction_id", "instruction", "candidates"), "responses")
    output = run_dir.dataset("judgements")
    critic = registry.create("critics", settings.critic, **settings.critic_settings)
    ranking_config = RankingConfig(round_robin_max_k=settings.round_robin_max_k, finalists=settings.finalists)
    described = critic.describe()
    config = config if config is not None else stage_config("judge", settings, loaded)
    start_output(output, config=config, inputs=(source,))
    with RecordWriter(output) as sink:
        done = {r.get("instruction_id") for r in read_records(output)}
        already = sum(r["instruction_id"] in done for r in responses)
        step = max(1, settings.instructions_per_batch)
        with progress_bar("judge", len(responses), already, show=show_progress) as advance:
            for batch in resume_batches(responses, step, done, key=lambda r: r["instruction_id"]):
                rankings = rank_candidates(critic, loaded, [(r["instruction"], r["candidates"]) for r in batch.items], ranking_config)
                for record, ranking, fresh in zip(batch.items, rankings, batch.fresh):
                    if fresh:
                        sink.write(judgement_record(record, ranking, described, loaded))
                advance(batch.new_count)
    records = read_records(output)
    qc = judgement_qc(records)
    manifest = write_manifest(
        "judge",
        output,
        inputs=(source,),
        config=config,
        model=loaded.provenance,
        plugins={"critic": described},
        qc=qc,
        thresholds=settings.thresholds,
        audit=audit,
        text_fields=("instruction", "candidates"),
    )
    finish_output(output)
    return StageOutcome(
        stage="judge",
        records_in=len(responses),
        records_out=len(records),
        seconds=time.perf_counter() - started,
        outputs=[output],
        stats=qc,
        verdict=verdict_of(manifest),
    )


def judgement_record(response: dict[str, Any], ranking: Any, critic: dict[str, Any], loaded: Any) -> dict[str, Any]:
    return {
        "id": "jud_" + str(response["instruction_id"]),
        "instruction_id": response["instruction_id"],
        "instruction": response["instruction"],
        "candidates": list(response["candidates"]),
        "truncated": list(response.get("truncated", [False] * len(response["candidates"]))),
        "scores": ranking.scores,
        "best_index": ranking.best_index,
        "scheme": ranking.scheme,
        "comparisons": ranking.comparisons,
        "provenance": {
            "plugin": critic.get("name"),
            "plugin_version": critic.get("version"),
            "prompt_template_sha256": critic.get("prompt_template_sha256"),
            "response_id": response["id"],
            "seed": (response.get("provenance") or {}).get("seed"),
            "round": (response.get("provenance") or {}).get("round"),
            **model_provenance(loaded),
        },
    }


def judgement_qc(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts and margin statistics over the whole file."""
    comparisons = [c for r in records for c in r.get("comparisons", [])]
    margins = [abs(float(c["margin"])) for c in comparisons]
    agree = sum(bool(c.get("orders_agree")) for c in comparisons)
    confidences = [float(c["confidence"]) for c in comparisons]
    schemes: dict[str, int] = {}
    for record in records:
        schemes[record.get("scheme", "?")] = schemes.get(record.get("scheme", "?"), 0) + 1
    return {
        "judgements": len(records),
        "comparisons": len(comparisons),
        "order_agreement_rate": agree / len(comparisons) if comparisons else 0.0,
        "mean_abs_margin": sum(margins) / len(margins) if margins else 0.0,
        "mean_confidence": sum(confidences) / len(confidences) if confidences else 0.0,
        "abs_margin": distribution(margins),
        "confidence": distribution(confidences),
        "schemes": schemes,
    }
