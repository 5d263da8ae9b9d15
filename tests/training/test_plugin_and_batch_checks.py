"""The trl plugin as a third-party user meets it: registration, settings, and the first-batch checks."""

from __future__ import annotations

import subprocess
import sys

import pytest
from training_helpers import TOPICS, dpo_records

from stage1kit.loader import CleanModelLoader
from stage1kit.plugins import PluginError
from stage1kit.prompting import training_prompt
from stage1kit.records import write_records_atomic
from stage1kit_trl.batch_checks import BatchCheckError

TINY = {"max_steps": 1, "batch_size": 2, "lora_r": 4, "progress": False}


def test_trainers_are_registered_through_the_entry_point(registry):
    assert {"trl-sft", "trl-dpo"} <= set(registry.names("trainers"))
    sft = registry.create("trainers", "trl-sft", min_records=10, requirements={"min_acceptance_rate": 0.3})
    assert sft.dataset_kind == "sft"
    assert sft.requirements() == {"min_records": 10.0, "min_acceptance_rate": 0.3}
    dpo = registry.create("trainers", "trl-dpo", beta=0.3)
    assert dpo.dataset_kind == "dpo" and dpo.describe()["settings"]["beta"] == 0.3


def test_unknown_setting_is_an_error_naming_the_trainer(registry):
    with pytest.raises(PluginError, match="trl-sft.*lora_rank"):
        registry.create("trainers", "trl-sft", lora_rank=8)


def test_listing_plugins_does_not_import_torch():
    code = "import sys, stage1kit_trl.plugin; print('torch' in sys.modules, 'trl' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_doubled_eos_and_shifted_boundary_fail_before_training(gated_run, base_model, tmp_path):
    from tokenizers import processors

    from stage1kit_trl.plugin import make_sft_trainer

    loaded = CleanModelLoader(base_model).load()
    tok = loaded.tokenizer
    # A tokenizer that appends EOS itself: TRL appends one more, and the prompt no longer prefixes the sequence.
    tok.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{tok.bos_token} $A {tok.eos_token}",
        special_tokens=[(tok.bos_token, tok.bos_token_id), (tok.eos_token, tok.eos_token_id)],
    )
    with pytest.raises(BatchCheckError) as info:
        make_sft_trainer(**TINY).train(loaded, gated_run.dataset("sft"), tmp_path / "out")
    message = str(info.value)
    assert "doubled EOS" in message
    assert "the loss starts at token" in message
    assert "nothing was trained" in message
    assert not (tmp_path / "out" / "adapter_model.safetensors").exists()


def test_truncated_completion_without_eos_fails(gated_run, base_model, tmp_path):
    from stage1kit_trl.plugin import make_sft_trainer

    loaded = CleanModelLoader(base_model).load()
    first_prompt = len(loaded.tokenizer(training_prompt(TOPICS[0][0]))["input_ids"])
    trainer = make_sft_trainer(**TINY, max_length=first_prompt + 2)  # cuts the completion before its EOS
    with pytest.raises(BatchCheckError, match="does not end in EOS, so the model would never learn to stop"):
        trainer.train(loaded, gated_run.dataset("sft"), tmp_path / "out")


def test_chat_marker_reaching_the_tokenizer_fails_dpo(base_model, tmp_path):
    from stage1kit_trl.plugin import make_dpo_trainer

    records = dpo_records(str(base_model))
    records[1]["rejected"] = " [INST] Give one use of water. [/INST]"
    data = tmp_path / "ungated-dpo.jsonl"
    write_records_atomic(data, records)
    loaded = CleanModelLoader(base_model).load()
    with pytest.raises(BatchCheckError, match=r"pair 1 \(rejected\): chat markers \['\[INST\]', '\[/INST\]'\]"):
        make_dpo_trainer(**TINY).train(loaded, data, tmp_path / "out")


@pytest.mark.parametrize("progress", [True, False])
def test_training_draws_a_rich_bar_or_nothing_never_tqdm_or_raw_log_dicts(gated_run, base_model, tmp_path, progress):
    from transformers import PrinterCallback, ProgressCallback

    from stage1kit_trl.plugin import make_sft_trainer
    from stage1kit_trl.progress import RichTrainingProgress

    loaded = CleanModelLoader(base_model).load()
    trainer = make_sft_trainer(**(TINY | {"progress": progress})).build(loaded, gated_run.dataset("sft"), tmp_path / "out")
    kinds = {type(callback) for callback in trainer.callback_handler.callbacks}
    assert not kinds & {PrinterCallback, ProgressCallback}  # tqdm bars, and `{'loss': ...}` printed to stdout
    assert (RichTrainingProgress in kinds) is progress
