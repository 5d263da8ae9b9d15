"""The train stages (``train-sft``, ``train-dpo``): gate, clean load, train, training manifest.

Order matters: the gate runs on the dataset first and a refusal stops the stage before any model is
loaded; only then does ``CleanModelLoader`` load the base model (for DPO with the SFT adapter on
top, trainable) and hand it to the trainer plugin. The output folder gets its own manifest, and an
output whose manifest still matches its inputs and config is not trained again.
"""

from __future__ import annotations

from stage1kit.errors import Stage1kitError
import dataclasses
import inspect
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from stage1kit.rundir import RunDir, manifest_path_for
from stage1kit.stages import StageOutcome

if TYPE_CHECKING:
    from stage1kit.plugins import Registry

KINDS = ("sft", "dpo")


class TrainStageError(Stage1kitError):
    """The train stage cannot start; the message says what to run or change first."""


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass
class TrainSettings:
    """``[train.sft]`` / ``[train.dpo]`` in the run config; unset knobs keep the trainer's default."""

    trainer: str | None = field(default=None, metadata=_help("Trainer plugin; unset: trl-sft for [train.sft], trl-dpo for [train.dpo]."))
    max_steps: int | None = field(default=None, metadata=_help("Stop after this many optimiser steps."))
    epochs: float | None = field(default=None, metadata=_help("Passes over the data (when max_steps is unset)."))
    learning_rate: float | None = field(default=None, metadata=_help("Peak learning rate."))
    batch_size: int | None = field(default=None, metadata=_help("Examples (DPO: pairs) per device per step."))
    grad_accum: int | None = field(default=None, metadata=_help("Gradient accumulation steps."))
    max_length: int | None = field(default=None, metadata=_help("Truncate sequences to this many tokens."))
    full: bool | None = field(default=None, metadata=_help("Full fine-tuning instead of LoRA."))
    lora_r: int | None = field(default=None, metadata=_help("LoRA rank."))
    lora_alpha: int | None = field(default=None, metadata=_help("LoRA alpha."))
    lora_dropout: float | None = field(default=None, metadata=_help("LoRA dropout."))
    target_modules: list[str] | None = field(default=None, metadata=_help("Modules LoRA adapts (default: all linear layers)."))
    report_to: str | None = field(default=None, metadata=_help("Experiment tracker passed to TRL: none, tensorboard, wandb..."))
    logging_steps: int | None = field(default=None, metadata=_help("Log every this many steps."))
    seed: int | None = field(default=None, metadata=_help("Training seed."))
    beta: float | None = field(default=None, metadata=_help("DPO only: beta."))
    merge_sft: bool | None = field(default=None, metadata=_help("DPO only: merge the SFT adapter and train a fresh one (saves a whole checkpoint)."))
    min_records: int | None = field(default=None, metadata=_help("Refuse datasets with fewer records."))
    requirements: dict[str, float] = field(default_factory=dict, metadata=_help("More QC thresholds the data manifest must meet, e.g. {min_acceptance_rate = 0.2}."))
    options: dict[str, Any] = field(default_factory=dict, metadata=_help("Any other trainer setting, passed through as is."))

    def trainer_name(self, kind: str) -> str:
        return self.trainer or f"trl-{kind}"

    def trainer_kwargs(self) -> dict[str, Any]:
        """The settings the trainer factory receives: the knobs that are set, then ``options``."""
        skip = {"trainer", "options", "requirements"}
        kwargs = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in skip}
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        if self.requirements:
            kwargs["requirements"] = dict(self.requirements)
        return kwargs | dict(self.options)


def train_stage_config(kind: str, settings: TrainSettings, *, model: str, revision: str | None, allow_model_mismatch: bool) -> dict[str, Any]:
    """What the training manifest's config hash covers (and what decides that a rerun is needed)."""
    return {
        "stage": f"train-{kind}",
        "trainer": settings.trainer_name(kind),
        "settings": dataclasses.asdict(settings),
        "model": {"id": model, "revision": revision},
        "allow_model_mismatch": allow_model_mismatch,
    }


def create_trainer(registry: "Registry", kind: str, settings: TrainSettings, show_progress: bool) -> tuple[Any, Any]:
    registration = registry.get("trainers", settings.trainer_name(kind))
    kwargs = settings.trainer_kwargs()
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
    return registration, trainer


def _stage_inputs(run_dir: RunDir, kind: str) -> list[Path]:
    dataset = run_dir.dataset(kind)
    inputs = [dataset, manifest_path_for(dataset)]
    if kind == "dpo":
        inputs.append(manifest_path_for(run_dir.train_dir("sft")))
    return inputs


def train_output_current(
    run_dir: RunDir,
    kind: str,
    settings: TrainSettings,
    *,
    model: str,
    revision: str | None = None,
    allow_model_mismatch: bool = False,
) -> bool:
    """True when ``train-<kind>/`` was trained from these very inputs with this config (skip it).

    The pipeline's resume check calls this, so it and ``stage1kit train`` agree on what is stale.
    """
    from stage1kit.manifest import is_up_to_date

    inputs = _stage_inputs(run_dir, kind)
    config = train_stage_config(kind, settings, model=model, revision=revision, allow_model_mismatch=allow_model_mismatch)
    return all(p.exists() for p in inputs) and is_up_to_date(run_dir.train_dir(kind), inputs=inputs, config=config)


def _sft_start(run_dir: RunDir) -> Path:
    """The SFT output DPO starts from; it must be a finished training run."""
    sft_dir = run_dir.train_dir("sft")
    if not manifest_path_for(sft_dir).is_file():
        raise TrainStageError(f"DPO starts from the SFT output, but {sft_dir} has no finished run; run `stage1kit train sft` first")
    return sft_dir


def _load(run_dir: RunDir, kind: str, model: str, revision: str | None, options: Mapping[str, Any]) -> Any:
    """The model to train. ``options`` are the config's loader settings (dtype, remote code); the
    device is left to the Trainer, which places the model itself (also under ``accelerate launch``)."""
    from stage1kit.loader import CleanModelLoader

    if kind == "sft":
        return CleanModelLoader(model, revision=revision, **options).load()
    sft_dir = _sft_start(run_dir)
    if (sft_dir / "adapter_config.json").is_file():
        return CleanModelLoader(model, revision=revision, adapter=sft_dir, trainable=True, **options).load()
    return CleanModelLoader(sft_dir, **options).load()  # full (or merged) SFT checkpoint


def _plugin_origin(registration: Any) -> dict[str, str]:
    return {"distribution": registration.plugin.distribution, "plugin_version": registration.plugin.version}


def run_train_stage(
    run_dir: RunDir,
    kind: str,
    settings: TrainSettings,
    *,
    registry: "Registry",
    model: str,
    revision: str | None = None,
    audit_user_paths: tuple[str | Path, ...] | list[Path] = (),
    allow_model_mismatch: bool = False,
    show_progress: bool = True,
    loader_options: Mapping[str, Any] | None = None,
) -> StageOutcome:
    """Gate ``run_dir.dataset(kind)``, then load, train and write ``train-<kind>/manifest.json``.

    ``loader_options`` go to :class:`CleanModelLoader` (the pipeline passes ``[model]``'s dtype and
    remote-code settings, so training loads the model the way the data stages did).

    Raises :class:`stage1kit.gate.GateRefused` (every failed check in its message) before any
    model is loaded, and :class:`TrainStageError` when an upstream output is missing.
    """
    from stage1kit.audit_gate import plugin_modules
    from stage1kit.gate import require_gate
    from stage1kit.manifest import write_manifest

    if kind not in KINDS:
        raise TrainStageError(f"unknown training kind '{kind}'; use one of {', '.join(KINDS)}")
    started = time.perf_counter()
    stage = f"train-{kind}"
    dataset, output_dir = run_dir.dataset(kind), run_dir.train_dir(kind)
    registration, trainer = create_trainer(registry, kind, settings, show_progress)
    config = train_stage_config(kind, settings, model=model, revision=revision, allow_model_mismatch=allow_model_mismatch)
    inputs = _stage_inputs(run_dir, kind)
    if train_output_current(run_dir, kind, settings, model=model, revision=revision, allow_model_mismatch=allow_model_mismatch):
        return StageOutcome(stage=stage, skipped=True, outputs=[output_dir], verdict="pass")
    if kind == "dpo":
        _sft_start(run_dir)

    gate = require_gate(
        dataset,
        requirements=trainer.requirements(),
        model_provenance={"model_id": model, "revision": revision},
        audit_paths=list(audit_user_paths),
        audit_modules=plugin_modules([registration]),
        allow_model_mismatch=allow_model_mismatch,
    )
    loaded = _load(run_dir, kind, model, revision, dict(loader_options or {}))
    # Under `accelerate launch` every process runs this stage; only the main one touches the folder.
    from accelerate import PartialState

    state = PartialState()
    if state.is_main_process and output_dir.exists():
        shutil.rmtree(output_dir)  # stale or interrupted: this stage owns the folder
    state.wait_for_everyone()
    result = trainer.train(loaded, dataset, output_dir)
    description = trainer.describe()
    state.wait_for_everyone()
    if state.is_main_process:
        write_manifest(
            stage,
            output_dir,
            inputs=inputs,
            config=config,
            model=loaded.provenance,
            plugins={registration.name: description | _plugin_origin(registration)},
            qc=dict(result.metrics) | {"records": gate.records, "adapter": result.adapter, "gate": gate.to_dict()},
            audit=gate.audit,
        )
    state.wait_for_everyone()
    return StageOutcome(
        stage=stage,
        records_in=gate.records,
        seconds=time.perf_counter() - started,
        outputs=[output_dir],
        stats=dict(result.metrics) | {"adapter": result.adapter, "model_override": gate.override},
        verdict="pass",
    )
