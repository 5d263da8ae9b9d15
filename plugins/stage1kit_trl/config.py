"""Settings of the TRL trainers: every knob in one place, apart from the training logic.

Plain dataclasses with defaults and help text (the TRL ``*Config`` style), free of torch and TRL
imports so that listing plugins and writing starter configs stay cheap. ``SFTSettings`` and
``DPOSettings`` are what the ``trl-sft`` and ``trl-dpo`` factories accept as keyword arguments;
``stage1kit.stages.train.TrainSettings`` passes the user's config through under the same names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stage1kit import click_thresholds, help_metadata

#: ``target_modules`` value meaning every linear layer except the output head (PEFT's spelling).
ALL_LINEAR = "all-linear"

#: Default gate minimums. They catch a broken generation run (almost every candidate rejected, a
#: handful of records) yet the built-in tiny demo meets them, so they say nothing about the quality
#: of a real model's critic: add ``min_order_agreement_rate`` / ``min_margin.mean`` for that.
DEFAULT_MIN_RECORDS = 4
DEFAULT_MIN_ACCEPTANCE_RATE = 0.05

#: transformers' scheduler names (``SchedulerType``), checked here without importing transformers
LR_SCHEDULERS = (
    "linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
    "inverse_sqrt", "reduce_lr_on_plateau", "cosine_with_min_lr", "cosine_warmup_with_min_lr", "warmup_stable_decay",
)

#: TRL config fields stage1kit sets from its own settings: ``options`` must use the setting instead
OWNED_FIELDS = {
    "learning_rate": "learning_rate",
    "num_train_epochs": "epochs",
    "max_steps": "max_steps",
    "per_device_train_batch_size": "batch_size",
    "gradient_accumulation_steps": "grad_accum",
    "max_length": "max_length",
    "logging_steps": "logging_steps",
    "report_to": "report_to",
    "seed": "seed",
    "data_seed": "seed",
    "bf16": "bf16",
    "warmup_steps": "warmup_ratio",
    "warmup_ratio": "warmup_ratio",
    "lr_scheduler_type": "lr_scheduler",
    "weight_decay": "weight_decay",
    "gradient_checkpointing": "gradient_checkpointing",
    "activation_checkpointing": "gradient_checkpointing",
    "beta": "beta",
}
#: TRL config fields the stage itself decides (where the output goes, how data is prepared)
RESERVED_FIELDS = ("output_dir", "completion_only_loss", "disable_tqdm")


@dataclass
class TrainingSettings:
    """What SFT and DPO share: optimisation, LoRA or full fine-tuning, logging, data requirements."""

    learning_rate: float = field(default=2e-4, metadata=help_metadata("Peak learning rate (after warmup; lr_scheduler decays it)."))
    epochs: float = field(default=1.0, metadata=help_metadata("Passes over the dataset; ignored when max_steps is set."))
    max_steps: int | None = field(default=None, metadata=help_metadata("Stop after this many optimiser steps (overrides epochs)."))
    batch_size: int = field(default=4, metadata=help_metadata("Examples per device per step (DPO: pairs)."))
    grad_accum: int = field(default=1, metadata=help_metadata("Gradient accumulation steps."))
    max_length: int = field(default=1024, metadata=help_metadata("Truncate prompt+completion to this many tokens."))
    # LoRA on a few hundred self-made records: a short warmup keeps the first steps, taken at a high
    # LoRA learning rate on noisy gradients, from overshooting (in DPO, from pushing the chosen
    # answers' likelihood down with the rejected ones); cosine decay spends the last steps at a
    # small rate instead of stopping abruptly; no weight decay, as it pulls the low-rank update
    # back to zero and the run is too short for it to regularise anything but the update itself.
    warmup_ratio: float = field(default=0.1, metadata=help_metadata("Share of the steps spent raising the learning rate from 0 to its peak, in [0, 1)."))
    lr_scheduler: str = field(default="cosine", metadata=help_metadata(f"Learning-rate schedule after warmup: {', '.join(LR_SCHEDULERS[:6])} ..."))
    weight_decay: float = field(default=0.0, metadata=help_metadata("AdamW weight decay (0: LoRA updates are small and short-lived)."))
    full: bool = field(default=False, metadata=help_metadata("Full fine-tuning instead of LoRA (saves a whole checkpoint)."))
    lora_r: int = field(default=16, metadata=help_metadata("LoRA rank."))
    lora_alpha: int = field(default=32, metadata=help_metadata("LoRA alpha (scale = alpha / r)."))
    lora_dropout: float = field(default=0.05, metadata=help_metadata("Dropout on the LoRA branch."))
    target_modules: list[str] | str = field(
        default=ALL_LINEAR, metadata=help_metadata("Modules LoRA adapts: a list of names, or 'all-linear'.")
    )
    report_to: list[str] | str = field(
        default="none", metadata=help_metadata("Passed to TRL/transformers: 'none', 'tensorboard', 'wandb', a list...")
    )
    logging_steps: int = field(default=10, metadata=help_metadata("Log metrics every this many steps."))
    seed: int = field(default=0, metadata=help_metadata("Seed for adapter init, shuffling and dropout."))
    gradient_checkpointing: bool = field(default=False, metadata=help_metadata("Trade compute for memory on big models."))
    bf16: bool | None = field(default=None, metadata=help_metadata("bf16 mixed precision; unset: on where the GPU supports it, never on CPU."))
    progress: bool = field(default=True, metadata={"cli": False} | help_metadata("Show a progress bar while training (off under --quiet)."))
    min_records: int = field(
        default=DEFAULT_MIN_RECORDS,
        metadata=help_metadata(
            f"Gate: refuse datasets with fewer records than this (default {DEFAULT_MIN_RECORDS}: fewer cannot fill "
            "one batch of a meaningful run; raise it to what your run needs, e.g. a few hundred)."
        ),
    )
    min_acceptance_rate: float | None = field(
        default=DEFAULT_MIN_ACCEPTANCE_RATE,
        metadata=help_metadata(
            f"Gate: refuse datasets whose manifest qc.acceptance_rate is below this (default {DEFAULT_MIN_ACCEPTANCE_RATE}: "
            "a run that kept fewer than 1 in 20 candidates is broken, not selective); None: no such check."
        ),
    )
    options: dict[str, Any] = field(
        default_factory=dict,
        metadata={"flag": "option"} | help_metadata(
            "Any other field of TRL's SFTConfig / DPOConfig, passed through as is, e.g. "
            "{ loss_type = \"ipo\", save_strategy = \"steps\" }; checked against the TRL class's fields."
        ),
    )
    requirements: dict[str, float] = field(
        default_factory=dict,
        metadata={"flag": "require", "parse": click_thresholds} | help_metadata(
            "Further gate requirements on the dataset manifest's qc, min_<metric> or max_<metric> (dotted for nested "
            "metrics); they add to min_records/min_acceptance_rate and override them by name. Not defaulted because "
            "the tiny demo's critic fails them, but add them with a real model: for DPO "
            "{min_order_agreement_rate = 0.6, \"min_margin.mean\" = 0.2}."
        ),
    )

    def __post_init__(self) -> None:
        problems = []
        if self.max_steps is not None and self.max_steps <= 0:
            problems.append(f"max_steps must be positive, got {self.max_steps}")
        for name in ("batch_size", "grad_accum", "max_length", "lora_r", "lora_alpha", "logging_steps"):
            if getattr(self, name) <= 0:
                problems.append(f"{name} must be positive, got {getattr(self, name)}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            problems.append(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.weight_decay < 0:
            problems.append(f"weight_decay must be 0 or more, got {self.weight_decay}")
        if self.lr_scheduler not in LR_SCHEDULERS:
            problems.append(f"lr_scheduler = {self.lr_scheduler!r}: use one of {', '.join(LR_SCHEDULERS)}")
        for name in self.options:
            if name in OWNED_FIELDS:
                problems.append(f"options: {name} is set by stage1kit's own setting '{OWNED_FIELDS[name]}'; set that instead")
            elif name in RESERVED_FIELDS:
                problems.append(f"options: {name} is decided by the train stage and cannot be passed through")
        if not 0.0 <= self.lora_dropout < 1.0:
            problems.append(f"lora_dropout must be in [0, 1), got {self.lora_dropout}")
        if self.min_acceptance_rate is not None and not 0.0 <= self.min_acceptance_rate <= 1.0:
            problems.append(f"min_acceptance_rate must be in [0, 1], got {self.min_acceptance_rate}")
        self.target_modules = _normalise_target_modules(self.target_modules, problems)
        for key in self.requirements:
            if not key.startswith(("min_", "max_")):
                problems.append(f"requirement '{key}' must start with min_ or max_ (e.g. min_acceptance_rate)")
        if problems:
            raise ValueError("; ".join(problems))

    def gate_requirements(self) -> dict[str, float]:
        """The thresholds the gate checks against the dataset's manifest before training.

        The defaults first, then ``requirements``, which add to them and win on the same name.
        """
        defaults = {"min_records": float(self.min_records)}
        if self.min_acceptance_rate is not None:
            defaults["min_acceptance_rate"] = float(self.min_acceptance_rate)
        return defaults | {k: float(v) for k, v in self.requirements.items()}

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def _normalise_target_modules(value: list[str] | str, problems: list[str]) -> list[str] | str:
    """PEFT reads 'all-linear' only as a plain string, so ``["all-linear"]`` (from a CLI list) becomes one."""
    if isinstance(value, str):
        return value
    modules = [str(name).strip() for name in value if str(name).strip()]
    if not modules:
        problems.append("target_modules is empty: name the modules LoRA adapts (e.g. q_proj,v_proj) or use 'all-linear'")
    if modules == [ALL_LINEAR]:
        return ALL_LINEAR
    return modules


@dataclass
class SFTSettings(TrainingSettings):
    """Supervised fine-tuning on prompt/completion records; loss on the completion tokens only."""

    min_acceptance_rate: float | None = field(
        default=DEFAULT_MIN_ACCEPTANCE_RATE,
        metadata=help_metadata(
            "Gate: refuse an SFT dataset whose qc.acceptance_rate (instructions whose best answer cleared the quality "
            f"bar) is below this. Default {DEFAULT_MIN_ACCEPTANCE_RATE}: fewer than 1 in 20 means generation or the "
            "critic is broken; the tiny demo keeps about 0.9. None: no such check."
        ),
    )


@dataclass
class DPOSettings(TrainingSettings):
    """DPO on prompt/chosen/rejected pairs, continuing from the SFT output."""

    learning_rate: float = field(default=5e-5, metadata=help_metadata("Peak learning rate (after warmup; lr_scheduler decays it)."))
    min_acceptance_rate: float | None = field(
        default=DEFAULT_MIN_ACCEPTANCE_RATE,
        metadata=help_metadata(
            "Gate: refuse a DPO dataset whose qc.acceptance_rate (pairs kept of the pairs considered) is below this. "
            f"Default {DEFAULT_MIN_ACCEPTANCE_RATE}: fewer than 1 in 20 means the pair filters threw almost everything "
            "away; the tiny demo keeps about 0.75. With a real model also require order agreement and a margin, "
            "e.g. requirements = {min_order_agreement_rate = 0.6, \"min_margin.mean\" = 0.2}. None: no such check."
        ),
    )
    beta: float = field(default=0.1, metadata=help_metadata("DPO beta: how far the policy may move from the reference."))
    merge_sft: bool = field(
        default=False,
        metadata=help_metadata(
            "Merge the SFT adapter into the base and train a fresh adapter on top (saves a whole checkpoint); "
            "default: keep training the SFT adapter, whose frozen copy is the reference."
        ),
    )
