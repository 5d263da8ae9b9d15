"""The ``trl-dpo`` trainer: TRL's DPOTrainer on prompt/chosen/rejected records, from the SFT output.

The engine hands over the base model with the SFT adapter loaded trainable. The reference model is
handled the PEFT way, as TRL 1.16 does it, with no second model in memory:

- adapter mode (default): TRL copies the SFT adapter into a frozen ``ref`` adapter and trains the
  ``default`` one, so the reference is exactly the SFT policy; the output is an adapter on the base.
- ``merge_sft``: the SFT adapter is merged into the base, a fresh LoRA trains on top and the
  reference is that model with the adapter disabled; the output is a whole merged checkpoint.
- full fine-tuning: reference log-probs are precomputed from the starting model before training.

Rows arrive tokenised by stage1kit's one rule (``tokenized.py``); :func:`trainer_class` replaces
TRL's text preparation (which appends EOS as text and parses special tokens in the data) with one
that keeps those ids and applies TRL's own length filter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stage1kit import TrainResult, likelihood_trend
from stage1kit_trl import common
from stage1kit_trl.batch_checks import check_dpo_batch, first_batch
from stage1kit_trl.config import DPOSettings

DPO_COLUMNS = ("prompt", "chosen", "rejected")


class TrlDPOTrainer:
    """Implements :class:`stage1kit.protocols.Trainer` for DPO datasets."""

    dataset_kind = "dpo"
    name = "trl-dpo"

    def __init__(self, settings: DPOSettings) -> None:
        self.settings = settings
        if settings.options:  # TRL is imported only to check options a user gave
            from trl import DPOConfig

            common.check_options(DPOConfig, settings.options, self.name)

    def requirements(self) -> dict[str, float]:
        return self.settings.gate_requirements()

    def describe(self) -> dict[str, Any]:
        return common.describe(self.name, self.dataset_kind, self.settings)

    def _policy(self, model: Any) -> tuple[Any, Any]:
        """(model to hand TRL, LoRA config to add or None) for the configured mode."""
        policy = model.model
        if self.settings.full:
            if common.is_peft(policy):
                policy = policy.merge_and_unload()
            for parameter in policy.parameters():
                parameter.requires_grad_(True)
            return policy, None
        if common.is_peft(policy) and self.settings.merge_sft:
            return policy.merge_and_unload(), common.lora_config(self.settings)
        if common.is_peft(policy):
            return policy, None  # keep training the SFT adapter; TRL freezes a copy as the reference
        return policy, common.lora_config(self.settings)

    def build(self, model: Any, dataset_path: Path, output_dir: Path) -> Any:
        """The configured TRL ``DPOTrainer`` (exposed so tests and users can inspect it)."""
        from trl import DPOConfig

        from stage1kit_trl.progress import use_stage_console

        DPOTrainer = trainer_class()
        policy, peft_config = self._policy(model)
        args = common.trl_config(
            DPOConfig, self.settings, output_dir, self.name, beta=self.settings.beta, precompute_ref_log_probs=self.settings.full
        )
        with common.dataset_progress(self.settings.progress):
            trainer = DPOTrainer(
                model=policy,
                args=args,
                train_dataset=common.load_text_dataset(dataset_path, DPO_COLUMNS, model.tokenizer),
                processing_class=model.tokenizer,
                peft_config=peft_config,
            )
        return use_stage_console(trainer, self.name, show=self.settings.progress)

    def train(self, model: Any, dataset_path: Path, output_dir: Path) -> TrainResult:
        output_dir = Path(output_dir)
        merged_before = bool(self.settings.merge_sft and common.is_peft(model.model))
        trainer = self.build(model, Path(dataset_path), output_dir)
        batch, prompts = first_batch(trainer)
        check_dpo_batch(batch, prompts, trainer.processing_class)
        counter = common.ExampleCounter(trainer, rows_per_example=2)  # a batch holds the chosen rows, then the rejected
        result = trainer.train()
        trained = trainer.accelerator.unwrap_model(trainer.model)
        if common.is_peft(trained) and "ref" in trained.peft_config:
            trained.delete_adapter("ref")  # the frozen reference copy is not part of the output
        if merged_before and common.is_peft(trained):
            # The fresh adapter sits on the merged SFT weights, so only a merged checkpoint reloads correctly.
            common.save_full_model(trainer, trained.merge_and_unload(), output_dir)
            adapter = False
        else:
            trainer.save_model(str(output_dir))
            adapter = common.is_peft(trained)
        common.write_trainer_state(trainer, output_dir)
        metrics = common.final_metrics(trainer, result) | common.coverage_metrics(trainer, counter)
        # chosen/rejected log-likelihood over training: the manifest keeps it, the report warns on a fall
        metrics["likelihood"] = likelihood_trend(trainer.state.log_history)
        return TrainResult(output_dir=output_dir, metrics=metrics, adapter=adapter, warnings=common.coverage_warnings(metrics, self.settings))


def trainer_class() -> type:
    """TRL's ``DPOTrainer`` preparing datasets that are already tokenised (``prompt_ids``, ...).

    TRL 1.16 has no switch for pre-tokenised text DPO data, so its ``_prepare_dataset`` is replaced;
    the first-batch checks (``batch_checks.py``) catch any drift in what TRL later does with the ids.
    """
    from trl import DPOTrainer

    class TokenizedDPOTrainer(DPOTrainer):
        def _prepare_dataset(self, dataset: Any, processing_class: Any, args: Any, dataset_name: str) -> Any:
            missing = {"prompt_ids", "chosen_ids", "rejected_ids"} - set(dataset.column_names)
            if missing:
                raise ValueError(f"{dataset_name} dataset lacks {sorted(missing)}: build it with common.load_text_dataset")
            if args.max_length is not None and args.truncation_mode == "keep_start":
                # TRL's own rule: a prompt that fills max_length leaves no completion token to learn from
                return dataset.filter(lambda row: len(row["prompt_ids"]) < args.max_length)
            return dataset

    return TokenizedDPOTrainer
