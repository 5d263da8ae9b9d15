"""The instructions stage: a generator plugin writes instructions, filtered by the critic.

Resumes from ``instructions.jsonl``: records already there count toward the target and join the
near-duplicate pool, so a restarted run continues without duplicates. The manifest's QC says how
many were generated, accepted and rejected per filter, and whether the target was reached.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stage1kit.protocols import InstructionGenerator
from stage1kit.records import RecordWriter, read_records
from stage1kit.resume import finish_output, start_output
from stage1kit.rundir import RunDir
from stage1kit.stages import StageOutcome
from stage1kit.stages.support import create_generator, progress_bar, stage_config, verdict_of

if TYPE_CHECKING:
    from stage1kit.loader import LoadedModel
    from stage1kit.plugins import Registry


@dataclass
class InstructionsSettings:
    """``[instructions]``: how many instructions to generate, with which generator and critic."""

    generator: str = field(default="self-instruct", metadata={"help": "instruction generator plugin name"})
    critic: str = field(default="logprob", metadata={"help": "critic plugin that scores instruction quality"})
    target: int = field(default=64, metadata={"help": "instructions to accept (stops earlier if max_rounds is spent)"})
    seed: int = 0
    generator_settings: dict[str, Any] = field(
        default_factory=dict, metadata={"help": "generator settings, e.g. { max_rounds = 20, quality_threshold = 0.5 }"}
    )
    critic_settings: dict[str, Any] = field(default_factory=dict, metadata={"help": "critic settings, e.g. { batch_size = 16 }"})
    thresholds: dict[str, float] = field(
        default_factory=lambda: {"min_accepted": 1}, metadata={"help": "QC thresholds the manifest verdict checks"}
    )


def run_instructions_stage(
    run_dir: RunDir,
    settings: InstructionsSettings,
    *,
    loaded: "LoadedModel",
    registry: "Registry",
    audit: dict[str, Any] | None,
    show_progress: bool = True,
    config: dict[str, Any] | None = None,
) -> StageOutcome:
    """Generate until ``settings.target`` instructions are accepted; write records and manifest.

    ``config`` is what the manifest hashes (the pipeline passes its own view of the stage config so
    its up-to-date check matches); by default, the settings and the model id and revision.
    """
    from stage1kit.manifest import write_manifest

    started = time.perf_counter()
    output = run_dir.dataset("instructions")
    critic = registry.create("critics", settings.critic, **settings.critic_settings)
    generator = create_generator(registry, settings.generator, settings.generator_settings, InstructionGenerator, "instructions")
    config = config if config is not None else stage_config("instructions", settings, loaded)
    start_output(output, config=config, inputs=())
    with RecordWriter(output) as sink:
        existing = read_records(output)
        with progress_bar("instructions", settings.target, len(existing), show=show_progress) as advance:
            stats = generator.generate(
                loaded, critic, sink, target=settings.target, seed=settings.seed, existing=existing, progress=advance
            )
    records = read_records(output)
    qc = instruction_qc(records, stats.to_dict(), resumed=len(existing), target=settings.target)
    manifest = write_manifest(
        "instructions",
        output,
        config=config,
        model=loaded.provenance,
        plugins={"generator": generator.describe(), "critic": critic.describe()},
        qc=qc,
        thresholds=settings.thresholds,
        audit=audit,
        text_fields=("instruction",),
    )
    finish_output(output)
    return StageOutcome(
        stage="instructions",
        records_out=len(records),
        seconds=time.perf_counter() - started,
        outputs=[output],
        stats=qc,
        verdict=verdict_of(manifest),
    )


def instruction_qc(records: list[dict[str, Any]], stats: dict[str, Any], *, resumed: int, target: int) -> dict[str, Any]:
    """QC metrics: counts over the file, and this session's generation and rejection counts."""
    new = len(records) - resumed
    qualities = [float(r["quality"]) for r in records if isinstance(r.get("quality"), (int, float))]
    return {
        "accepted": len(records),
        "target": target,
        "target_reached": len(records) >= target,
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
