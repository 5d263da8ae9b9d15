"""The one ordered catalogue of stages.

The pipeline loop, ``--from``/``--until``, the config tables, the starter config, ``doctor`` and the
stand-alone commands all read this tuple; adding a stage is one module and one line here.
"""

from __future__ import annotations

from collections.abc import Sequence

from stage1kit.stages.base import Stage, StageOutcome
from stage1kit.stages.evaluate import EvaluateStage
from stage1kit.stages.instructions import InstructionsStage
from stage1kit.stages.judge import JudgeStage
from stage1kit.stages.pairs import PairsStage
from stage1kit.stages.responses import ResponsesStage
from stage1kit.stages.train import TrainStage

CATALOGUE: tuple[Stage, ...] = (
    InstructionsStage(),
    ResponsesStage(),
    JudgeStage(),
    PairsStage(),
    TrainStage("sft"),
    TrainStage("dpo"),
    EvaluateStage(),
)


def stage_names(catalogue: Sequence[Stage] = CATALOGUE) -> tuple[str, ...]:
    return tuple(stage.name for stage in catalogue)


def find_stage(name: str, catalogue: Sequence[Stage] = CATALOGUE) -> Stage:
    for stage in catalogue:
        if stage.name == name:
            return stage
    raise KeyError(name)


def run_stage(
    name: str,
    settings: object | None = None,
    *,
    run_dir: object,
    loaded: object,
    registry: object,
    audit: dict | None = None,
    show_progress: bool = False,
    trained: object | None = None,
    **tables: object,
) -> "StageOutcome":
    """Run one stage on a model already loaded (notebooks, plugin authors' tests), as the pipeline
    would run it; ``tables`` give other settings tables (``critic=CriticSettings(...)``, ``evaluate=...``)."""
    from pathlib import Path

    from stage1kit.config import default_config
    from stage1kit.models import ModelAccess
    from stage1kit.settings import ModelSettings, RunSettings
    from stage1kit.stages.base import StageContext

    stage = find_stage(name)
    root = Path(getattr(run_dir, "root", run_dir))
    model_id = str((getattr(loaded, "provenance", {}) or {}).get("model_id", ""))
    tables[name] = settings or stage.settings_type()
    tables.setdefault("model", ModelSettings(id=model_id))
    config = default_config(root / "(direct)", run=RunSettings(dir=str(root)), **tables)
    models = ModelAccess.preloaded(loaded, config.model, trained)
    context = StageContext(config, registry, models, audit, show_progress)  # type: ignore[arg-type]
    if stage.stale_reason(config, context.run_dir) is None:
        from stage1kit.pipeline import skipped_outcome

        return skipped_outcome(stage, context.run_dir)
    return stage.run(context, config.stages[name])
