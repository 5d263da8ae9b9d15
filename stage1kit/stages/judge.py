"""The judge stage: the critic ranks each instruction's candidates (see :mod:`stage1kit.ranking`).

Instructions are ranked ``instructions_per_batch`` at a time, and every pair of every instruction in
that batch goes to the critic in one call, so its forward passes batch across instructions. Resumes
from ``judgements.jsonl``: responses already judged are skipped, with batches cut from the full
response list (:mod:`stage1kit.resume`) so a resumed file equals an uninterrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stage1kit.selection import distribution
from stage1kit.ranking import RankingConfig, rank_candidates
from stage1kit.resume import resume_batches
from stage1kit.settings import require_range
from stage1kit.stages.base import JsonlStage, Produced, StageContext, model_provenance, read_input


@dataclass
class JudgeSettings:
    """``[judge]``: rank candidates with the ``[critic]`` (round-robin for small k, pivot for larger k)."""

    round_robin_max_k: int = field(default=5, metadata={"help": "largest k judged by a full round-robin; above it, the pivot scheme"})
    finalists: int = field(default=3, metadata={"help": "pivot scheme: candidates that meet in a final round-robin"})
    instructions_per_batch: int = field(default=16, metadata={"help": "instructions whose pairs go to the critic together"})
    thresholds: dict[str, float] = field(
        default_factory=lambda: {"min_judgements": 1}, metadata={"help": "QC thresholds the manifest verdict checks"}
    )

    def __post_init__(self) -> None:
        for name in ("round_robin_max_k", "finalists", "instructions_per_batch"):
            require_range(self, name, minimum=1)


class JudgeStage(JsonlStage):
    """The critic ranks each instruction's candidates, every pair in both orders."""

    name = "judge"
    table = "judge"
    settings_type = JudgeSettings
    inputs = ("responses",)
    outputs = ("judgements",)
    uses_critic = True
    uses_engine = True
    uses_prompt = True
    text_fields = ("instruction", "prompt", "candidates")
    work_list = ("responses", "instruction_id")
    summary_keys = ("judgements", "comparisons", "order_agreement_rate", "duplicate_candidates", "mean_abs_margin", "mean_confidence")

    def produce(self, ctx: StageContext, settings: JudgeSettings, sink: Any, existing: list[dict[str, Any]]) -> Produced:
        responses = read_input(ctx.run_dir.dataset("responses"), ("id", "instruction_id", "instruction", "candidates"), "responses")
        critic, loaded, prompt_format = ctx.critic(), ctx.base_model(), ctx.prompt_format()
        ranking_config = RankingConfig(round_robin_max_k=settings.round_robin_max_k, finalists=settings.finalists)
        described = critic.describe()
        # judged already, and (in a shard run) what other shards judge: batches stay cut from the whole list
        outside = ctx.outside_shard([r["instruction_id"] for r in responses])
        done = {r.get("instruction_id") for r in existing} | outside
        already = sum(r["instruction_id"] in done for r in responses) - len(outside)
        with ctx.progress("judge", len(responses) - len(outside), already) as advance:
            for batch in resume_batches(responses, settings.instructions_per_batch, done, key=lambda r: r["instruction_id"]):
                rankings = rank_candidates(critic, loaded, [(r["instruction"], r["candidates"]) for r in batch.items], ranking_config)
                for record, ranking, fresh in zip(batch.items, rankings, batch.fresh):
                    if fresh:
                        sink.write(judgement_record(record, ranking, described, loaded, prompt_format.prompt(record["instruction"])))
                advance(batch.new_count)
        return Produced(records_in=len(responses), plugins={"critic": described})

    def qc(self, records: list[dict[str, Any]], produced: Produced, settings: JudgeSettings) -> dict[str, Any]:
        return judgement_qc(records)


def judgement_record(response: dict[str, Any], ranking: Any, critic: dict[str, Any], loaded: Any, prompt: str) -> dict[str, Any]:
    """``prompt``: the run's prompt format for the instruction, the prompt the candidates answer."""
    return {
        "id": "jud_" + str(response["instruction_id"]),
        "instruction_id": response["instruction_id"],
        "instruction": response["instruction"],
        "prompt": prompt,
        "candidates": list(response["candidates"]),
        "truncated": list(response.get("truncated", [False] * len(response["candidates"]))),
        "scores": ranking.scores,
        "best_index": ranking.best_index,
        "scheme": ranking.scheme,
        "comparisons": ranking.comparisons,
        "duplicate_of": ranking.duplicate_of,
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
    """Counts and margin statistics over the whole file.

    Comparisons are between distinct candidates only; candidates that repeat an earlier one share
    its score and are counted apart (``duplicate_candidates``), never as comparisons or order
    disagreements.
    """
    comparisons = [c for r in records for c in r.get("comparisons", [])]
    candidates = sum(len(r.get("candidates", [])) for r in records)
    duplicates = sum(sum(first != i for i, first in enumerate(r.get("duplicate_of") or [])) for r in records)
    margins = [abs(float(c["margin"])) for c in comparisons]
    agree = sum(bool(c.get("orders_agree")) for c in comparisons)
    confidences = [float(c["confidence"]) for c in comparisons]
    schemes: dict[str, int] = {}
    for record in records:
        schemes[record.get("scheme", "?")] = schemes.get(record.get("scheme", "?"), 0) + 1
    return {
        "judgements": len(records),
        "comparisons": len(comparisons),
        "candidates": candidates,
        "duplicate_candidates": duplicates,
        "duplicate_rate": duplicates / candidates if candidates else 0.0,
        "order_agreement_rate": agree / len(comparisons) if comparisons else 0.0,
        "mean_abs_margin": sum(margins) / len(margins) if margins else 0.0,
        "mean_confidence": sum(confidences) / len(confidences) if confidences else 0.0,
        "abs_margin": distribution(margins),
        "confidence": distribution(confidences),
        "schemes": schemes,
    }
