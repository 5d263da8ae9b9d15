"""The one ordered catalogue of stages.

The pipeline loop, ``--from``/``--until``, the config tables, the starter config, ``doctor`` and the
stand-alone commands all read this tuple; adding a stage is one module and one line here.
"""

from __future__ import annotations

from collections.abc import Sequence

from stage1kit.stages.base import Stage
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
