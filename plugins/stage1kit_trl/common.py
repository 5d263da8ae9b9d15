"""What the SFT and DPO trainers share: TRL arguments from settings, LoRA, data, saving, metrics.

Imported only when a trainer is built (it imports torch), never when plugins are listed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import torch

from stage1kit import Stage1kitError, atomic_write_text, read_input_records
from stage1kit_trl.config import TrainingSettings

#: fields older TRL releases had, and what the installed one uses instead
MOVED_FIELDS = {
    "rpo_alpha": "TRL 1.x expresses RPO as loss_type = [\"sigmoid\", \"sft\"] with loss_weights = [1.0, alpha]",
    "warmup_ratio": "use the trainer setting warmup_ratio",
}


class TrainerOptionsError(Stage1kitError, ValueError):
    """``options`` names a field the TRL config class does not have, or one it rejects."""

PLUGIN = "stage1kit_trl"


def library_versions() -> dict[str, str]:
    """Versions that decide how training behaves, recorded in the training manifest."""
    found = {}
    for name in ("stage1kit", "trl", "peft", "transformers", "accelerate", "torch", "datasets"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def describe(name: str, kind: str, settings: TrainingSettings) -> dict[str, Any]:
    return {
        "name": name,
        "plugin": PLUGIN,
        "dataset_kind": kind,
        "versions": library_versions(),
        "settings": settings.to_dict(),
    }


def use_bf16(settings: TrainingSettings) -> bool:
    """bf16 only where a GPU supports it: on CPU it is slow and TRL's default (on) would be wrong."""
    supported = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if settings.bf16 is None:
        return supported
    if settings.bf16 and not supported:
        raise ValueError("bf16 = true needs a GPU that supports bfloat16; none is visible (set bf16 = false)")
    return settings.bf16


def checkpointing_keyword() -> str:
    """transformers 5 renamed ``gradient_checkpointing`` to ``activation_checkpointing`` (the old
    name warns on every run); use whichever the installed TrainingArguments has."""
    from transformers import TrainingArguments

    names = {f.name for f in dataclasses.fields(TrainingArguments)}
    return "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"


def training_arguments(settings: TrainingSettings, output_dir: Path) -> dict[str, Any]:
    """Keyword arguments every TRL config here gets; they behave the same under ``accelerate launch``."""
    return {
        "output_dir": str(output_dir),
        "learning_rate": settings.learning_rate,
        "num_train_epochs": settings.epochs,
        "max_steps": settings.max_steps if settings.max_steps is not None else -1,
        "per_device_train_batch_size": settings.batch_size,
        "gradient_accumulation_steps": settings.grad_accum,
        "max_length": settings.max_length,
        # A short run still logs its metrics at least once (the manifest records the last values).
        "logging_steps": min(settings.logging_steps, settings.max_steps or settings.logging_steps),
        "report_to": settings.report_to,
        "seed": settings.seed,
        "data_seed": settings.seed,
        # transformers 5 reads a float warmup_steps in [0, 1) as a share of the total steps
        "warmup_steps": settings.warmup_ratio,
        "lr_scheduler_type": settings.lr_scheduler,
        "weight_decay": settings.weight_decay,
        checkpointing_keyword(): settings.gradient_checkpointing,
        "bf16": use_bf16(settings),
        "use_cpu": not torch.cuda.is_available(),
        "dataloader_num_workers": 0,
        "save_strategy": "no",  # the stage saves the final adapter; checkpoints are the user's call
        "disable_tqdm": True,  # progress is drawn by stage1kit_trl.progress, the way every stage draws it
    }


def check_options(config_class: type, options: dict[str, Any], trainer: str) -> None:
    """Every name in ``options`` is a field of TRL's ``config_class``; the error names the field."""
    import difflib

    fields = {f.name for f in dataclasses.fields(config_class) if f.init}
    for name in options:
        if name in fields:
            continue
        close = difflib.get_close_matches(name, sorted(fields), n=3)
        hint = f"; {MOVED_FIELDS[name]}" if name in MOVED_FIELDS else (f"; did you mean {', '.join(close)}?" if close else "")
        raise TrainerOptionsError(
            f"options: '{name}' is not a field of TRL's {config_class.__name__} (trl {library_versions().get('trl', '?')}), "
            f"so trainer '{trainer}' cannot pass it through{hint}; remove it, or use a field of {config_class.__name__}"
        )


def trl_config(config_class: type, settings: TrainingSettings, output_dir: Path, trainer: str, **stage_arguments: Any) -> Any:
    """TRL's ``config_class`` from stage1kit's settings, the stage's own arguments, then ``options``."""
    check_options(config_class, settings.options, trainer)
    arguments = training_arguments(settings, output_dir) | stage_arguments | dict(settings.options)
    try:
        return config_class(**arguments)
    except (TypeError, ValueError) as exc:
        raise TrainerOptionsError(f"TRL's {config_class.__name__} rejected the settings of trainer '{trainer}' (options {settings.options}): {exc}") from exc


@contextlib.contextmanager
def dataset_progress(enabled: bool) -> Iterator[None]:
    """Hide the ``datasets`` map bars TRL draws while preparing data when progress is off."""
    import datasets

    was_enabled = not datasets.are_progress_bars_disabled()
    if not enabled:
        datasets.disable_progress_bars()
    try:
        yield
    finally:
        if was_enabled and not enabled:
            datasets.enable_progress_bars()


def lora_config(settings: TrainingSettings) -> Any:
    """The LoRA adapter to add, or None for full fine-tuning."""
    if settings.full:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=settings.lora_r,
        lora_alpha=settings.lora_alpha,
        lora_dropout=settings.lora_dropout,
        target_modules=settings.target_modules,
        bias="none",
        task_type="CAUSAL_LM",
    )


def is_peft(model: Any) -> bool:
    from peft import PeftModel

    return isinstance(model, PeftModel)


def load_text_dataset(path: Path, columns: tuple[str, ...], tokenizer: Any) -> Any:
    """The dataset's text columns, plus their token ids by stage1kit's one rule (``tokenized.py``).

    Metadata (provenance dicts, margins) has no place in TRL's maps. The text columns stay beside
    the ids so the first-batch checks can compare them.
    """
    from datasets import Dataset

    from stage1kit_trl.tokenized import dpo_columns, sft_columns

    records = read_input_records(path)
    if not records:
        raise ValueError(f"{path}: no records to train on")
    data = {column: [record[column] for record in records] for column in columns}
    if "completion" in data:
        data.update(sft_columns(tokenizer, data["prompt"], data["completion"]))
    else:
        data.update(dpo_columns(tokenizer, data["prompt"], data["chosen"], data["rejected"]))
    return Dataset.from_dict(data)


def final_metrics(trainer: Any, train_output: Any) -> dict[str, Any]:
    """TRL's end-of-training metrics plus the last value of every logged series."""
    metrics: dict[str, Any] = {k: float(v) for k, v in train_output.metrics.items() if isinstance(v, (int, float))}
    metrics["global_step"] = int(trainer.state.global_step)
    last: dict[str, float] = {}
    for entry in trainer.state.log_history:
        for key, value in entry.items():
            if isinstance(value, (int, float)) and key not in ("step", "epoch"):
                last[key] = float(value)
    metrics.update({f"last_{k}": v for k, v in last.items() if k not in metrics})
    return metrics


def write_trainer_state(trainer: Any, output_dir: Path) -> None:
    """``trainer_state.json`` (loss by step in ``log_history``), as a Trainer checkpoint holds it.

    With checkpointing off the Trainer writes none; the report's training-loss plot reads this one.
    Written whole or not at all, like every other output.
    """
    if trainer.accelerator.is_main_process:
        state = json.dumps(dataclasses.asdict(trainer.state), indent=2, sort_keys=True, default=str)
        atomic_write_text(output_dir / "trainer_state.json", state + "\n")


def save_full_model(trainer: Any, model: Any, output_dir: Path) -> None:
    """A whole checkpoint (model + tokenizer) that ``CleanModelLoader(output_dir)`` loads."""
    if trainer.accelerator.is_main_process:
        model.save_pretrained(output_dir)
        trainer.processing_class.save_pretrained(output_dir)
    trainer.accelerator.wait_for_everyone()


class ExampleCounter:
    """Counts the examples every optimiser micro-step of this process trains on, repeats included.

    Under a multi-process launch each process trains on its own shard of every global batch, and
    accelerate fills the last global batch with records from the start of the data when the records
    do not divide into whole global batches. Neither the step count nor ``epoch`` shows that; the
    examples actually trained on, summed over the processes (:meth:`total`), and the distinct ones
    among them (:meth:`distinct`), do. Counting wraps ``training_step``, so batches the data loader
    fetched ahead but never trained on do not count. An example is told apart by its token ids
    (padding dropped; for DPO the prompt and chosen answer, the batch's first half of rows).
    """

    def __init__(self, trainer: Any, rows_per_example: int) -> None:
        self.rows = 0
        self.rows_per_example = rows_per_example
        self.fingerprints: set[int] = set()
        step = trainer.training_step

        def counted(model: Any, inputs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
            self.see(inputs)
            return step(model, inputs, *args, **kwargs)

        trainer.training_step = counted

    def see(self, batch: dict[str, Any]) -> None:
        """Count one collated batch (SFT rows, or DPO chosen rows followed by their rejected rows)."""
        rows = len(batch["input_ids"])
        self.rows += rows
        for row in range(rows // self.rows_per_example):
            keep = batch["attention_mask"][row].bool()
            self.fingerprints.add(hash(tuple(batch["input_ids"][row][keep].tolist())))  # int tuples hash alike in every process

    def total(self, trainer: Any) -> int:
        """Examples trained on by every process together (a collective: every process must call it)."""
        rows = torch.tensor(self.rows, device=trainer.accelerator.device)
        return int(trainer.accelerator.reduce(rows, reduction="sum").item()) // self.rows_per_example

    def distinct(self) -> int:
        """Distinct examples trained on by every process together (a collective too)."""
        from accelerate.utils import gather_object

        return len(set(gather_object(sorted(self.fingerprints))))


def coverage_metrics(trainer: Any, counter: ExampleCounter) -> dict[str, Any]:
    """How the data was spread over the processes: global batch, examples there were, examples trained on.

    The number of processes itself is the stage's to record (``qc.distributed``), trainer or not.
    """
    args = trainer.args
    world_size = int(trainer.accelerator.num_processes)
    return {
        "global_batch_size": args.per_device_train_batch_size * args.gradient_accumulation_steps * world_size,
        "train_examples": len(trainer.train_dataset),
        "examples_seen": counter.total(trainer),
        "distinct_examples_seen": counter.distinct(),
    }


def coverage_warnings(metrics: dict[str, Any], settings: TrainingSettings) -> list[str]:
    """A warning when training by epochs did not see every example exactly once per epoch.

    Only whole epochs are checked (``max_steps`` unset, ``epochs`` a whole number): a run cut by
    steps covers whatever the steps reach, by design. Examples never trained on are counted by
    their token ids, so two records that tokenise alike count as one.
    """
    epochs = settings.epochs
    if settings.max_steps is not None or epochs != int(epochs) or "examples_seen" not in metrics:
        return []
    size, batch = metrics["train_examples"], metrics["global_batch_size"]
    extra = metrics["examples_seen"] - size * int(epochs)
    missing = size - metrics.get("distinct_examples_seen", size)
    if extra <= 0 and missing <= 0:
        return []
    found = [f"{extra} repeated"] if extra > 0 else []
    found += [f"{missing} never trained on"] if missing > 0 else []
    return [
        f"training saw {metrics['examples_seen']} examples in {int(epochs)} epoch(s) of {size} ({', '.join(found)}): "
        f"with processes x batch_size x grad_accum = {batch} examples per step, accelerate fills each epoch's last "
        f"step with examples from the start of the data; make the record count a multiple of {batch} (or change "
        "batch_size) for every record to count once per epoch"
    ]
