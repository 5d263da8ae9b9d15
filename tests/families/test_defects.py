"""One test per defect of issue 11, each failing on the code before it: what a user of a real base
family would have hit."""

import shutil

import torch
from click.testing import CliRunner

from stage1kit.cli import cli
from stage1kit.encoding import encode_data
from stage1kit.loader import CleanModelLoader
from stage1kit.logprobs import continuation_logprobs
from stage1kit.prompting import training_completion, training_prompt
from stage1kit.records import write_records_atomic
from stage1kit.sampling import SamplingSettings, sample
from stage1kit.testing import inject_marker_post_processor
from stage1kit_eval.likelihood import score_completions
from stage1kit_hf.best_of_n import BestOfNGenerator, BestOfNSettings
from stage1kit_trl.batch_checks import first_batch
from stage1kit_trl.plugin import make_sft_trainer

from family_helpers import small_config

#: A ChatML-trained base model (Qwen, SmolLM2, OLMo-2) answering, then writing the next user turn.
CHATML_CONTINUATIONS = ("Paris.", "<|im_end|>", "\nAnd of Spain?"), ("Paris.", "<|im_start|>", "user\nAnd of Spain?")


def _scripted_generate(tokenizer, scripts, calls):
    """``model.generate`` that writes the scripted continuations (text pieces and special tokens)."""

    def ids_of(piece):
        return [tokenizer.convert_tokens_to_ids(piece)] if piece.startswith("<|") else encode_data(tokenizer, [piece], bos=False)[0]

    def generate(input_ids, attention_mask, **kwargs):
        calls.append(kwargs)
        rows = [sum((ids_of(p) for p in script), []) + [tokenizer.eos_token_id] for script in scripts]
        width = max(map(len, rows))
        new = torch.tensor([r + [tokenizer.pad_token_id] * (width - len(r)) for r in rows])
        return torch.cat([input_ids.repeat_interleave(len(scripts) // input_ids.shape[0], dim=0), new], dim=1)

    return generate


def test_defect3_a_chat_turn_the_model_writes_is_cut_and_marked_never_glued(family_dir, monkeypatch):
    loaded = CleanModelLoader(family_dir("qwen-2.5")).load()
    tok = loaded.tokenizer
    calls = []
    monkeypatch.setattr(loaded.model, "generate", _scripted_generate(tok, CHATML_CONTINUATIONS, calls))
    [[ended, cut]] = sample(loaded, [training_prompt("Capital of France?")], SamplingSettings(max_new_tokens=40), num_return_sequences=2)
    assert tok.convert_tokens_to_ids("<|im_end|>") in calls[0]["eos_token_id"]  # generation stops at the turn end
    assert (ended.text, ended.stopped_by, ended.cut_at_special) == ("Paris.", "<|im_end|>", None)
    assert (cut.text, cut.stopped_by, cut.cut_at_special) == ("Paris.", "<|im_start|>", "<|im_start|>")  # not "Paris.user\n..."

    calls.clear()
    sink = type("Sink", (), {"records": [], "write": lambda self, r: self.records.append(r)})()
    stats = BestOfNGenerator(BestOfNSettings(max_new_tokens=40)).generate(
        loaded, [{"id": "ins_1", "instruction": "Capital of France?"}], sink, k=2, seed=0
    )
    assert stats.rejected["chat_token"] == 1
    assert sink.records[0]["cut_at_special"] == [None, "<|im_start|>"]
    assert sink.records[0]["stopped_by"] == ["<|im_end|>", "<|im_start|>"]
    from stage1kit.stages.responses import response_qc

    assert response_qc(sink.records, k=2)["chat_token_cut"] == 1  # the stage's QC counts it over the whole file


def test_defect4_sentencepiece_scoring_counts_exactly_the_trained_tokens(family_dir, tmp_path):
    loaded = CleanModelLoader(family_dir("llama-2")).load()
    prompt, completion = training_prompt("Capital of France?"), training_completion("Paris is the capital.")
    data = tmp_path / "sft.jsonl"
    write_records_atomic(data, [{"id": f"r{n}", "prompt": prompt, "completion": completion} for n in range(2)])
    batch, _ = first_batch(make_sft_trainer(max_steps=1, batch_size=2, lora_r=4, progress=False).build(loaded, data, tmp_path / "o"))
    trained = int((batch["labels"][0] != -100).sum())  # completion tokens + EOS
    [score] = continuation_logprobs(loaded, [prompt], [completion])
    assert score.num_tokens == trained - 1  # the critic scores what is trained (no lone ▁), EOS aside
    [heldout] = score_completions(loaded, [{"prompt": prompt, "completion": completion}])
    assert heldout.num_tokens == trained


def test_defect5_doctor_reports_a_model_the_loader_refuses(tiny_model_dir, tmp_path):
    refused = tmp_path / "refused"
    shutil.copytree(tiny_model_dir, refused)
    inject_marker_post_processor(refused, "<|im_start|>")
    result = CliRunner().invoke(cli, ["doctor", str(small_config(tmp_path, refused))])
    assert result.exit_code == 1, result.output
    assert "injects" in result.output and "<|im_start|>" in result.output
    assert "everything the pipeline needs is in place" not in result.output


def test_doctor_reports_the_family_facts_of_a_model_it_accepts(family_dir, tmp_path):
    result = CliRunner().invoke(cli, ["doctor", str(small_config(tmp_path, family_dir("llama-3")))])
    assert result.exit_code == 0, result.output
    assert "BOS: '<|begin_of_text|>' prepended" in result.output
    assert "'<|eot_id|>'" in result.output and "tokenizer_config.json" in result.output


def test_doctor_reports_a_training_length_the_model_cannot_hold(family_dir, tmp_path):
    config = small_config(tmp_path, family_dir("gpt-2"))
    config.write_text(config.read_text().replace("[train.sft]\n", "[train.sft]\nmax_length = 4096\n"))
    result = CliRunner().invoke(cli, ["doctor", str(config)])
    assert result.exit_code == 1, result.output
    assert "[train.sft] max_length = 4096 exceeds the model's context length 512" in result.output
