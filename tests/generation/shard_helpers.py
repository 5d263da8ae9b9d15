"""A small responses -> judge run for the shard tests: hand-written instructions, batches cut small
enough that shard blocks straddle them."""

from __future__ import annotations

from pathlib import Path

from stage1kit.config import default_config
from stage1kit.models import ModelAccess
from stage1kit.pipeline import Pipeline
from stage1kit.records import write_records_atomic
from stage1kit.settings import CriticSettings, ModelSettings, ParallelSettings, RunSettings
from stage1kit.stages.catalogue import find_stage
from stage1kit.stages.judge import JudgeSettings
from stage1kit.stages.responses import ResponsesSettings

#: 7 instructions, Best-of-N chunks of 4 (batch_size 1 x 4) and judge batches of 2: 2 and 3 shards
#: both cut through a chunk, so the boundary chunks are computed by two shards
INSTRUCTIONS = 7
RESPONSES = ResponsesSettings(k=2, generator_settings={"max_new_tokens": 6, "batch_size": 1})
JUDGE = JudgeSettings(instructions_per_batch=2)


def write_instructions(run: Path, count: int = INSTRUCTIONS) -> None:
    words = ["cat", "sun", "tree", "rain", "boat", "salt", "moon", "bird"]
    records = [{"id": f"ins_{i}", "instruction": f"Write a line about the {words[i % len(words)]}.", "round": 0} for i in range(count)]
    write_records_atomic(run / "instructions.jsonl", records)


def config_for(run: Path, model_dir: Path, responses: ResponsesSettings = RESPONSES, **parallel: object):
    return default_config(
        run / "test.toml",
        run=RunSettings(dir=str(run)),
        model=ModelSettings(id=str(model_dir), device="cpu"),
        critic=CriticSettings(settings={"batch_size": 4}),
        responses=responses,
        judge=JUDGE,
        parallel=ParallelSettings(**parallel),  # type: ignore[arg-type]
    )


def run_stages(config, registry, names, loaded=None, shard=None):
    """``stage1kit run --from .. --until ..`` in this process (on ``loaded`` when given)."""
    models = ModelAccess.preloaded(loaded, config.model) if loaded is not None else None
    pipeline = Pipeline(config, registry, show_progress=False, echo=lambda text: None, models=models, shard=shard)
    return pipeline.run([find_stage(name) for name in names])
