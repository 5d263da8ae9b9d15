"""Trainer settings beyond stage1kit's list: TRL options passed through, warmup/schedule/decay, and the
chosen/rejected likelihood a DPO run records."""

from __future__ import annotations

import pytest

from stage1kit.errors import Stage1kitError
from stage1kit.dpo_likelihood import likelihood_trend, likelihood_warnings
from stage1kit.loader import CleanModelLoader
from stage1kit.stages.train import TrainStageError, create_trainer
from stage1kit_trl.common import TrainerOptionsError

TINY = {"max_steps": 2, "batch_size": 2, "lora_r": 4, "progress": False, "logging_steps": 1}


def test_any_dpo_config_field_passes_through_options(gated_run, base_model, tmp_path):
    from stage1kit_trl.plugin import make_dpo_trainer

    loaded = CleanModelLoader(base_model).load()
    trainer = make_dpo_trainer(**TINY, options={"loss_type": "ipo", "label_smoothing": 0.0, "max_grad_norm": 0.5})
    args = trainer.build(loaded, gated_run.dataset("dpo"), tmp_path / "out").args
    assert args.loss_type == ["ipo"] and args.max_grad_norm == 0.5
    # the defaults for LoRA on small data reach TRL
    assert args.warmup_steps == 0.1 and str(args.lr_scheduler_type.value) == "cosine" and args.weight_decay == 0.0


def test_warmup_scheduler_and_weight_decay_are_settings(gated_run, base_model, tmp_path):
    from stage1kit_trl.plugin import make_sft_trainer

    loaded = CleanModelLoader(base_model).load()
    settings = TINY | {"warmup_ratio": 0.0, "lr_scheduler": "constant", "weight_decay": 0.01, "options": {"save_total_limit": 1}}
    args = make_sft_trainer(**settings).build(loaded, gated_run.dataset("sft"), tmp_path / "out").args
    assert args.warmup_steps == 0.0 and str(args.lr_scheduler_type.value) == "constant" and args.weight_decay == 0.01
    assert args.save_total_limit == 1 and args.completion_only_loss is True


@pytest.mark.parametrize(
    "options, message",
    [
        ({"bogus": 1}, r"options: 'bogus' is not a field of TRL's DPOConfig .*cannot pass it through"),
        ({"loss_typ": "ipo"}, r"'loss_typ' is not a field .*did you mean loss_type"),
        ({"rpo_alpha": 1.0}, r"'rpo_alpha' is not a field .*loss_type = \[\"sigmoid\", \"sft\"\]"),
    ],
)
def test_an_option_trl_does_not_have_is_an_error_naming_it(registry, options, message):
    with pytest.raises(TrainStageError, match=message):
        create_trainer(registry, "dpo", "trl-dpo", {"options": options}, show_progress=False)
    with pytest.raises(TrainerOptionsError, match=message):
        registry.create("trainers", "trl-dpo", options=options)


def test_options_cannot_override_what_a_setting_already_sets(registry):
    # checked with the settings, before TRL is imported: the error names the setting to use
    with pytest.raises(Stage1kitError, match="rejected its settings: options: learning_rate is set by stage1kit's own setting 'learning_rate'"):
        create_trainer(registry, "sft", "trl-sft", {"options": {"learning_rate": 1.0}}, show_progress=False)
    with pytest.raises(Stage1kitError, match="options: output_dir is decided by the train stage"):
        create_trainer(registry, "sft", "trl-sft", {"options": {"output_dir": "/tmp/x"}}, show_progress=False)
    with pytest.raises(Stage1kitError, match="lr_scheduler = 'sometimes'"):
        create_trainer(registry, "sft", "trl-sft", {"lr_scheduler": "sometimes"}, show_progress=False)


def test_a_dpo_run_records_chosen_and_rejected_likelihood_over_training(gated_run, base_model, tmp_path):
    from stage1kit_trl.plugin import make_dpo_trainer

    loaded = CleanModelLoader(base_model).load()
    result = make_dpo_trainer(**TINY).train(loaded, gated_run.dataset("dpo"), tmp_path / "out")
    trend = result.metrics["likelihood"]
    assert trend["points"] == 2 and trend["steps"] == [1, 2]
    assert len(trend["logps_chosen"]) == len(trend["logps_rejected"]) == len(trend["rewards_chosen"]) == 2
    assert trend["chosen_likelihood_fell"] == (trend["rewards_chosen"][-1] < 0)


def test_the_trend_says_when_the_chosen_likelihood_fell():
    falling = [{"step": 1, "rewards/chosen": -0.1, "logps/chosen": -20.0}, {"step": 2, "rewards/chosen": -0.48, "logps/chosen": -25.0}]
    rising = [{"step": 1, "rewards/chosen": 0.1, "logps/chosen": -20.0}, {"step": 2, "rewards/chosen": 0.3, "logps/chosen": -18.0}]
    logps_only = [{"step": 5, "logps/chosen": -20.0}, {"step": 10, "logps/chosen": -21.0}, {"step": 10, "train_runtime": 1.0}]
    assert likelihood_trend(falling)["chosen_likelihood_fell"] is True
    assert likelihood_trend(rising)["chosen_likelihood_fell"] is False
    assert likelihood_trend(logps_only) | {} == likelihood_trend(logps_only)
    assert likelihood_trend(logps_only)["chosen_likelihood_fell"] is True and likelihood_trend(logps_only)["points"] == 2
    assert likelihood_trend([{"step": 1, "loss": 0.7}])["chosen_likelihood_fell"] is None
    [warning] = likelihood_warnings(likelihood_trend(falling))
    assert "rewards/chosen ended at -0.480" in warning and "logps/chosen changed by -5.000" in warning
    assert likelihood_warnings(likelihood_trend(rising)) == []
