"""The train stages (``train-sft``, ``train-dpo``): gate, clean load, train, training manifest.

Order matters: the gate runs on the dataset first and a refusal stops the stage before any model is
loaded; only then does ``CleanModelLoader`` load the base model (for DPO with the SFT adapter on
top, trainable) and hand it to the trainer plugin. The output folder gets its own manifest, and an
output whose manifest still matches its inputs and config is not trained again.
"""

from __future__ import annotations

import dataclasses
import inspect
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stage1kit.errors import Stage1kitError
from stage1kit.rundir import RunDir, manifest_path_for
from stage1kit.settings import help_metadata
from stage1kit.stages.base import PluginUse, Stage, StageContext, StageOutcome

if TYPE_CHECKING:
    from stage1kit.plugins import Registry

KINDS = ("sft", "dpo")


class TrainStageError(Stage1kitError):
    """The train stage cannot start; the message says what to run or change first."""


@dataclass
class TrainSettings:
    """``[train.sft]`` / ``[train.dpo]``: the trainer plugin, and the table of its own settings.

    Every other key of the table is a setting of the trainer (``max_steps``, ``lora_r``,
    ``requirements`` ...), checked against the settings class the trainer registered (see
    ``stage1kit plugins --settings``), so stage1kit keeps no copy of any trainer's knobs.
    """

    trainer: str | None = field(default=None, metadata=help_metadata("Trainer plugin; unset: trl-sft for [train.sft], trl-dpo for [train.dpo]."))
    allow_model_mismatch: bool = field(
        default=False, metadata=help_metadata("Train a model other than the one that generated the data (recorded in the training manifest).")
    )
    trainer_settings: dict[str, Any] = field(default_factory=dict, metadata=help_metadata("The trainer's own settings (the table's other keys)."))

    def trainer_name(self, kind: str) -> str:
        return self.trainer or f"trl-{kind}"

    @classmethod
    def from_table(cls, table: dict[str, Any], where: str) -> "TrainSettings":
        """Split a ``[train.*]`` table into the stage's own keys and the trainer's settings."""
        from stage1kit.settings import build_settings

        own = {f.name for f in dataclasses.fields(cls)} - {"trainer_settings"}
        settings = build_settings(cls, {k: v for k, v in table.items() if k in own}, where)
        settings.trainer_settings = {k: v for k, v in table.items() if k not in own}
        return settings


class TrainStage(Stage):
    """``train-sft`` / ``train-dpo``: gate the dataset, load clean, train, write the training manifest."""

    settings_type = TrainSettings
    runs_across_processes = True

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.name = f"train-{kind}"
        self.table = f"train.{kind}"
        self.inputs = (kind,) if kind == "sft" else (kind, "train-sft")
        self.outputs = (f"train-{kind}",)

    def settings_from_table(self, table: dict[str, Any], where: str) -> TrainSettings:
        return TrainSettings.from_table(table, where)

    def plugin_uses(self, settings: TrainSettings) -> list[PluginUse]:
        return [PluginUse("trainer", "trainer", "trainers", settings.trainer_name(self.kind), dict(settings.trainer_settings))]

    def check_plugin(self, registry: "Registry", use: PluginUse, settings: Any) -> Any:
        return create_trainer(registry, self.kind, use.name, use.settings, show_progress=False)

    def cache_key(self, config: Any) -> dict[str, Any]:
        return super().cache_key(config) | {"trainer": config.stages[self.name].trainer_name(self.kind)}

    def input_paths(self, run_dir: RunDir) -> list[Path]:
        """The dataset and its manifest (the gate reads both); DPO also the SFT run it starts from."""
        dataset = run_dir.dataset(self.kind)
        inputs = [dataset, manifest_path_for(dataset)]
        if self.kind == "dpo":
            inputs.append(manifest_path_for(run_dir.train_dir("sft")))
        return inputs

    def run(self, ctx: StageContext, settings: TrainSettings) -> StageOutcome:
        """Gate the dataset, then load, train into a staging folder and swap it in with its manifest.

        Raises :class:`stage1kit.gate.GateRefused` (every failed check in its message) before any
        model is loaded, and :class:`TrainStageError` when an upstream output is missing.
        """
        from stage1kit.audit_gate import plugin_modules
        from stage1kit.distributed import describe_state, training_state
        from stage1kit.gate import require_gate
        from stage1kit.dpo_likelihood import likelihood_warnings
        from stage1kit.manifest import write_manifest

        started = time.perf_counter()
        run_dir, kind = ctx.run_dir, self.kind
        dataset, output_dir = run_dir.dataset(kind), run_dir.train_dir(kind)
        (use,) = self.plugin_uses(settings)
        registration = ctx.registry.get("trainers", use.name)
        trainer = create_trainer(ctx.registry, kind, use.name, use.settings, show_progress=ctx.show_progress)
        if kind == "dpo":
            _sft_start(run_dir)
        gate = require_gate(
            dataset,
            requirements=trainer.requirements(),
            model_provenance={"model_id": ctx.config.model_id, "revision": ctx.config.model.revision},
            audit_paths=list(ctx.config.user_code),
            audit_modules=plugin_modules([registration]),
            allow_model_mismatch=settings.allow_model_mismatch,
        )
        ctx.models.release()  # free the data stages' model before training loads its own copy
        loaded = self._load(ctx)
        # Under `accelerate launch` every process runs this stage; only the main one touches folders.
        state = training_state()
        staged = output_dir.with_name(output_dir.name + ".partial")
        if state.is_main_process and staged.exists():
            shutil.rmtree(staged)
        state.wait_for_everyone()
        result = trainer.train(loaded, dataset, staged)
        description = trainer.describe()
        distributed = describe_state(state)
        state.wait_for_everyone()
        warnings = likelihood_warnings(result.metrics.get("likelihood")) + list(getattr(result, "warnings", None) or [])
        if state.is_main_process:
            if output_dir.exists():
                shutil.rmtree(output_dir)
            staged.rename(output_dir)  # the previous result stays until the new one is complete
            write_manifest(
                self.name,
                output_dir,
                inputs=self.input_paths(run_dir),
                config=self.cache_key(ctx.config),
                model=loaded.provenance,
                plugins={registration.name: description | _plugin_origin(registration)},
                qc=dict(result.metrics)
                | {"records": gate.records, "adapter": result.adapter, "gate": gate.to_dict(), "distributed": distributed},
                audit=ctx.audit if ctx.audit is not None else gate.audit,
                warnings=warnings,
            )
        state.wait_for_everyone()
        return StageOutcome(
            stage=self.name,
            records_in=gate.records,
            seconds=time.perf_counter() - started,
            outputs=[output_dir],
            stats=dict(result.metrics) | {"adapter": result.adapter, "model_override": gate.override},
            verdict="pass",
            warnings=warnings,
        )

    def _load(self, ctx: StageContext) -> Any:
        """The model to train, with ``[model]``'s load settings; the device is left to the Trainer,
        which places the model itself (also under ``accelerate launch``)."""
        if self.kind == "sft":
            return ctx.models.loader(device=None).load()
        sft_dir = _sft_start(ctx.run_dir)
        if (sft_dir / "adapter_config.json").is_file():
            return ctx.models.loader(device=None, adapter=sft_dir, trainable=True).load()
        return ctx.models.loader(sft_dir, device=None).load()  # full (or merged) SFT checkpoint


def create_trainer(registry: "Registry", kind: str, name: str, settings: Mapping[str, Any], *, show_progress: bool) -> Any:
    """The trainer plugin ``name`` with its settings, checked to train on ``kind`` data."""
    registration = registry.get("trainers", name)
    kwargs = dict(settings)
    parameters = inspect.signature(registration.factory).parameters.values()
    if any(p.name == "progress" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        kwargs.setdefault("progress", show_progress)
    try:
        trainer = registration.create(**kwargs)
    except ValueError as exc:
        raise TrainStageError(f"trainer '{registration.name}' rejected its settings: {exc}") from exc
    if getattr(trainer, "dataset_kind", None) != kind:
        raise TrainStageError(
            f"trainer '{registration.name}' trains on '{getattr(trainer, 'dataset_kind', '?')}' data, not '{kind}'; "
            f"pick a {kind} trainer in [train.{kind}] trainer"
        )
    return trainer


def _sft_start(run_dir: RunDir) -> Path:
    """The SFT output DPO starts from; it must be a finished training run."""
    sft_dir = run_dir.train_dir("sft")
    if not manifest_path_for(sft_dir).is_file():
        raise TrainStageError(f"DPO starts from the SFT output, but {sft_dir} has no finished run; run `stage1kit train sft` first")
    return sft_dir


def _plugin_origin(registration: Any) -> dict[str, str]:
    return {"distribution": registration.plugin.distribution, "plugin_version": registration.plugin.version}
