"""The ``trl-sft`` trainer: TRL's SFTTrainer on prompt/completion records, completion-only loss.

The engine hands over the model and tokenizer from CleanModelLoader; nothing here loads a model.
Records are plain strings, tokenised by stage1kit's one rule (``tokenized.py``: data text split into
ordinary pieces, one EOS appended by id) and handed to TRL as ``input_ids`` + ``completion_mask``, so
TRL masks the prompt out of the loss without tokenising anything itself. The first batch is checked
before the first step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stage1kit import LoadedModel, TrainResult
from stage1kit_trl import common
from stage1kit_trl.batch_checks import check_sft_batch, first_batch
from stage1kit_trl.config import SFTSettings

SFT_COLUMNS = ("prompt", "completion")


class TrlSFTTrainer:
    """Implements :class:`stage1kit.protocols.Trainer` for SFT datasets."""

    dataset_kind = "sft"
    name = "trl-sft"

    def __init__(self, settings: SFTSettings) -> None:
        self.settings = settings
        if settings.options:  # TRL is imported only to check options a user gave
            from trl import SFTConfig

            common.check_options(SFTConfig, settings.options, self.name)

    def requirements(self) -> dict[str, float]:
        return self.settings.gate_requirements()

    def describe(self) -> dict[str, Any]:
        return common.describe(self.name, self.dataset_kind, self.settings)

    def build(self, model: LoadedModel, dataset_path: Path, output_dir: Path) -> Any:
        """The configured TRL ``SFTTrainer`` (exposed so tests and users can inspect it)."""
        from trl import SFTConfig, SFTTrainer

        from stage1kit_trl.progress import use_stage_console

        args = common.trl_config(SFTConfig, self.settings, output_dir, self.name, completion_only_loss=True)
        # An already-wrapped PEFT model (e.g. an adapter to continue) trains as it is.
        peft_config = None if common.is_peft(model.model) else common.lora_config(self.settings)
        with common.dataset_progress(self.settings.progress):
            trainer = SFTTrainer(
                model=model.model,
                args=args,
                train_dataset=common.load_text_dataset(dataset_path, SFT_COLUMNS, model.tokenizer),
                processing_class=model.tokenizer,
                peft_config=peft_config,
            )
        return use_stage_console(trainer, self.name, show=self.settings.progress)

    def train(self, model: Any, dataset_path: Path, output_dir: Path) -> TrainResult:
        output_dir = Path(output_dir)
        trainer = self.build(model, Path(dataset_path), output_dir)
        batch, prompts = first_batch(trainer)
        check_sft_batch(batch, prompts, trainer.processing_class)
        counter = common.ExampleCounter(trainer, rows_per_example=1)
        result = trainer.train()
        trainer.save_model(str(output_dir))
        common.write_trainer_state(trainer, output_dir)
        adapter = common.is_peft(trainer.accelerator.unwrap_model(trainer.model))
        metrics = common.final_metrics(trainer, result) | common.coverage_metrics(trainer, counter)
        return TrainResult(output_dir=output_dir, metrics=metrics, adapter=adapter, warnings=common.coverage_warnings(metrics, self.settings))
