"""CleanModelLoader on tiny checkpoints with and without shipped chat templates."""

import json
import shutil

import pytest
import torch

from stage1kit.loader import ChatTemplateDisabledError, CleanModelLoader, LoaderError
from stage1kit.testing import add_special_marker, build_tiny_model, inject_marker_post_processor


def test_plain_checkpoint_loads_with_provenance(tiny_model_dir):
    loaded = CleanModelLoader(tiny_model_dir).load()
    prov = loaded.provenance
    assert loaded.tokenizer.chat_template is None
    assert prov["chat_template"] == {"state": "disabled", "found_and_ignored": []}
    assert prov["bos"] == {"id": loaded.tokenizer.bos_token_id, "token": "<s>", "prepended": True}
    assert prov["chat_special_tokens"] == {}
    assert prov["stop_tokens"] == {"</s>": loaded.tokenizer.eos_token_id}
    assert prov["eos"]["token"] == "</s>"
    assert set(prov["config_sha256"]) >= {"config.json"}
    assert set(prov["tokenizer_sha256"]) >= {"tokenizer.json", "tokenizer_config.json"}
    assert prov["libraries"]["transformers"]
    json.dumps(prov)  # provenance goes into manifests as it is


def test_shipped_template_is_ignored_and_recorded(templated_model_dir):
    loaded = CleanModelLoader(templated_model_dir).load()
    assert loaded.tokenizer.chat_template is None
    assert loaded.provenance["chat_template"]["found_and_ignored"] == ["tokenizer_config.json", "chat_template.jinja"]


def test_apply_chat_template_raises(templated_model_dir):
    tokenizer = CleanModelLoader(templated_model_dir).load_tokenizer()
    with pytest.raises(ChatTemplateDisabledError, match="plain text"):
        # stage1kit: allow[SK200] reason: asserts that the clean tokenizer refuses to apply a template
        tokenizer.apply_chat_template("hello")


def test_missing_pad_token_becomes_eos_with_left_padding(tiny_model_dir):
    tokenizer = CleanModelLoader(tiny_model_dir).load_tokenizer()
    assert tokenizer.pad_token == tokenizer.eos_token
    assert tokenizer.padding_side == "left"


def test_chat_marker_in_the_vocabulary_loads_and_is_recorded(tiny_model_dir, tmp_path):
    """A base vocabulary may hold a marker (Llama 3 does); data text still cannot reach it."""
    doctored = tmp_path / "doctored"
    shutil.copytree(tiny_model_dir, doctored)
    add_special_marker(doctored, "<|start_header_id|>")
    loaded = CleanModelLoader(doctored).load()
    marker_id = loaded.tokenizer.convert_tokens_to_ids("<|start_header_id|>")
    assert loaded.provenance["chat_special_tokens"] == {"<|start_header_id|>": marker_id}
    from stage1kit.encoding import encode_data

    assert marker_id not in encode_data(loaded.tokenizer, ["x <|start_header_id|>user"], bos=True)[0]


def test_post_processor_injecting_a_marker_is_refused(tiny_model_dir, tmp_path):
    doctored = tmp_path / "injecting"
    shutil.copytree(tiny_model_dir, doctored)
    inject_marker_post_processor(doctored, "<|im_start|>")
    with pytest.raises(LoaderError, match=r"injects .*<\|im_start\|>.* into every encoding"):
        CleanModelLoader(doctored).load_tokenizer()


def test_post_processor_appending_eos_is_refused(tiny_model_dir, tmp_path):
    """Every prompt would end in EOS: generation would start after the end of the text."""
    doctored = tmp_path / "appending"
    shutil.copytree(tiny_model_dir, doctored)
    data = json.loads((doctored / "tokenizer.json").read_text())
    ids = {t["content"]: t["id"] for t in data["added_tokens"]}
    data["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                   {"SpecialToken": {"id": "</s>", "type_id": 0}}],
        "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {t: {"id": t, "ids": [ids[t]], "tokens": [t]} for t in ("<s>", "</s>")},
    }
    (doctored / "tokenizer.json").write_text(json.dumps(data))
    with pytest.raises(LoaderError, match=r"adds \['</s>'\] after every text.*add_eos_token"):
        CleanModelLoader(doctored).load_tokenizer()


def test_marker_as_a_non_special_added_token_is_refused(tiny_model_dir, tmp_path):
    """split_special_tokens leaves non-special added tokens whole, so such a marker would get through."""
    doctored = tmp_path / "non-special"
    shutil.copytree(tiny_model_dir, doctored)
    add_special_marker(doctored, "<|im_end|>")
    data = json.loads((doctored / "tokenizer.json").read_text())
    data["added_tokens"][-1]["special"] = False
    (doctored / "tokenizer.json").write_text(json.dumps(data))
    with pytest.raises(LoaderError, match=r"'<\|im_end\|>' -> \['<\|im_end\|>'\].*\"special\": true"):
        CleanModelLoader(doctored).load_tokenizer()


def test_trust_remote_code_is_refused_without_explicit_opt_in(tiny_model_dir):
    with pytest.raises(LoaderError, match="allow_remote_code=True"):
        # stage1kit: allow[SK400] reason: the loader must refuse remote code without the opt-in
        CleanModelLoader(tiny_model_dir, trust_remote_code=True)
    # stage1kit: allow[SK400] reason: the loader must accept remote code only with the explicit opt-in
    loader = CleanModelLoader(tiny_model_dir, trust_remote_code=True, allow_remote_code=True)
    assert loader.load().provenance["trust_remote_code"] is True


def test_build_is_deterministic_by_seed(tmp_path):
    first = CleanModelLoader(build_tiny_model(tmp_path / "a", seed=3)).load().model
    second = CleanModelLoader(build_tiny_model(tmp_path / "b", seed=3)).load().model
    other = CleanModelLoader(build_tiny_model(tmp_path / "c", seed=4)).load().model
    weight = "model.layers.0.self_attn.q_proj.weight"
    assert torch.equal(first.state_dict()[weight], second.state_dict()[weight])
    assert not torch.equal(first.state_dict()[weight], other.state_dict()[weight])


def test_dtype_is_applied_and_recorded(tiny_model_dir):
    loaded = CleanModelLoader(tiny_model_dir, dtype="bfloat16").load()
    assert loaded.provenance["dtype"] == "bfloat16"
    with pytest.raises(LoaderError, match="unknown dtype"):
        CleanModelLoader(tiny_model_dir, dtype="float7").load()


def test_load_keywords_override_the_constructor_for_one_load(tiny_model_dir):
    loader = CleanModelLoader(tiny_model_dir)
    assert loader.load(dtype="bfloat16").provenance["dtype"] == "bfloat16"
    assert loader.load().provenance["dtype"] == "float32"  # the loader itself is unchanged
    with pytest.raises(LoaderError, match="allow_remote_code=True"):
        # stage1kit: allow[SK400] reason: the override goes through the same remote-code refusal
        loader.load(trust_remote_code=True)


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(LoaderError, match="could not load a tokenizer"):
        CleanModelLoader(tmp_path / "nowhere", local_files_only=True).load()
