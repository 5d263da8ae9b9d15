"""The instructions stage: a generator plugin writes instructions, filtered by the critic.

Resumes from ``instructions.jsonl``: records already there count toward the target and join the
near-duplicate pool, so a restarted run continues without duplicates. The manifest's QC says how
many were generated, accepted and rejected per filter, and whether the target was reached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stage1kit.settings import require_range
from stage1kit.stages.base import JsonlStage, PluginUse, Produced, StageContext


@dataclass
class InstructionsSettings:
    """``[instructions]``: how many instructions to generate, and with which generator."""

    generator: str = field(default="self-instruct", metadata={"help": "instruction generator plugin name"})
    target: int = field(default=64, metadata={"help": "instructions to accept (stops earlier if max_rounds is spent)"})
    seed: int = field(default=0, metadata={"help": "sampling seed (recorded in provenance)"})
    generator_settings: dict[str, Any] = field(
        default_factory=dict, metadata={"help": "generator settings, e.g. { max_rounds = 20, quality_threshold = 0.5 }", "flag": "set"}
    )
    thresholds: dict[str, float] = field(
        default_factory=lambda: {"min_accepted": 1}, metadata={"help": "QC thresholds the manifest verdict checks"}
    )

    def __post_init__(self) -> None:
        require_range(self, "target", minimum=1)


class InstructionsStage(JsonlStage):
    """A generator plugin writes instructions completion-style; the critic filters them."""

    name = "instructions"
    table = "instructions"
    settings_type = InstructionsSettings
    outputs = ("instructions",)
    uses_critic = True
    uses_engine = True
    text_fields = ("instruction",)
    summary_keys = ("accepted", "target", "target_reached", "generated", "acceptance_rate", "rejected", "rounds", "mean_quality")

    def plugin_uses(self, settings: InstructionsSettings) -> list[PluginUse]:
        return [PluginUse("generator", "generator_settings", "instruction_generators", settings.generator, dict(settings.generator_settings))]

    def produce(self, ctx: StageContext, settings: InstructionsSettings, sink: Any, existing: list[dict[str, Any]]) -> Produced:
        critic = ctx.critic()
        generator = ctx.registry.create("instruction_generators", settings.generator, **settings.generator_settings)
        with ctx.progress("instructions", settings.target, len(existing)) as advance:
            stats = generator.generate(
                ctx.base_model(), critic, sink, target=settings.target, seed=settings.seed, existing=existing, progress=advance
            )
        plugins = {"generator": generator.describe(), "critic": critic.describe()}
        return Produced(records_in=0, plugins=plugins, stats=stats.to_dict() | {"resumed": len(existing)})

    def qc(self, records: list[dict[str, Any]], produced: Produced, settings: InstructionsSettings) -> dict[str, Any]:
        return instruction_qc(records, produced.stats, resumed=produced.stats["resumed"], target=settings.target)

    def warnings(self, qc: dict[str, Any], settings: InstructionsSettings) -> list[str]:
        return target_warnings(qc)


def target_warnings(qc: dict[str, Any]) -> list[str]:
    """A target the generator could not reach is said aloud, even when the verdict passes (the
    default ``min_accepted = 1`` does: fewer instructions still make usable data). To fail the
    stage instead, add ``min_target_fraction = 1.0`` to ``[instructions] thresholds``."""
    if qc.get("target_reached", True):
        return []
    return [
        f"target not reached: {qc['accepted']} of {qc['target']} instructions accepted after {qc.get('rounds', '?')} rounds; "
        "the generator ran out of rounds, or the world has fewer distinct instructions than the target. Lower "
        "[instructions] target, raise generator_settings max_rounds, or add min_target_fraction = 1.0 to "
        "[instructions] thresholds to fail the stage"
    ]


def instruction_qc(records: list[dict[str, Any]], stats: dict[str, Any], *, resumed: int, target: int) -> dict[str, Any]:
    """QC metrics: counts over the file, and this session's generation and rejection counts."""
    new = len(records) - resumed
    qualities = [float(r["quality"]) for r in records if isinstance(r.get("quality"), (int, float))]
    return {
        "accepted": len(records),
        "target": target,
        "target_reached": len(records) >= target,
        "target_fraction": min(1.0, len(records) / target) if target else 1.0,
        "generated": stats["generated"],
        "acceptance_rate": new / stats["generated"] if stats["generated"] else 0.0,
        "rejected": stats["rejected"],
        # each filter's share of this session's generated instructions (filters run in order)
        "rejected_share": {reason: n / stats["generated"] for reason, n in stats["rejected"].items()} if stats["generated"] else {},
        "rounds": stats["rounds"],
        "per_round": stats["per_round"],
        "mean_quality": sum(qualities) / len(qualities) if qualities else 0.0,
        "resumed_records": resumed,
        "notes": stats["notes"],
    }
