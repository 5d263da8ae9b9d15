"""Tiny offline models for stage1kit's tests and for plugin authors' tests.

:func:`build_tiny_model` writes a real checkpoint — a small Llama-architecture model and a byte-level
BPE tokenizer trained on a few lines — into a directory in a few seconds, deterministically by seed,
with no network. ``CleanModelLoader`` loads it exactly as it loads a hub model, so tests exercise the
real code paths. ``chat_template=...`` ships a template the way chat checkpoints do (in
``tokenizer_config.json`` and as ``chat_template.jinja``) so the loader's stripping can be tested.
``pretrain_steps`` fits the random model to the built-in corpus for a few seconds, so that
generation produces word-like text (the demo uses it); tests that only need shapes leave it at 0.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

BOS, EOS = "<s>", "</s>"

#: A template in the style chat checkpoints ship. Tests use it to prove the loader strips it.
CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def tiny_corpus() -> list[str]:
    """The built-in lines the tiny tokenizer and the demo model are trained on."""
    text = resources.files("stage1kit").joinpath("data/tiny_corpus.txt").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip()]


def build_tiny_tokenizer(corpus: list[str] | None = None, vocab_size: int = 512):
    """A byte-level BPE tokenizer (Llama-style: BOS prepended, EOS not) trained on ``corpus``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    lines = corpus if corpus is not None else tiny_corpus()
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[BOS, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(lines, trainer=trainer)
    core.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, core.token_to_id(BOS))]
    )
    return PreTrainedTokenizerFast(tokenizer_object=core, bos_token=BOS, eos_token=EOS, model_max_length=512)


def pretrain(model, tokenizer, corpus: list[str], steps: int, seed: int, lr: float = 3e-3) -> None:
    """Fit a tiny model to the corpus (full-batch AdamW) so it writes word-like text, closing with EOS."""
    import torch

    from stage1kit.encoding import encode_data

    torch.manual_seed(seed)
    ids = [seq + [tokenizer.eos_token_id] for seq in encode_data(tokenizer, corpus, bos=True)]
    width = max(map(len, ids))
    batch = torch.full((len(ids), width), tokenizer.eos_token_id)
    mask = torch.zeros_like(batch)
    for row, seq in enumerate(ids):
        batch[row, : len(seq)] = torch.tensor(seq)
        mask[row, : len(seq)] = 1
    labels = batch.masked_fill(mask == 0, -100)
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        loss = model(input_ids=batch, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()
    model.eval()


def build_tiny_model(
    path: str | Path,
    seed: int = 0,
    chat_template: str | None = None,
    *,
    pretrain_steps: int = 0,
    hidden_size: int = 64,
    num_layers: int = 2,
    vocab_size: int = 512,
) -> Path:
    """Write a tiny Llama checkpoint and tokenizer to ``path`` and return the path.

    Deterministic for a given ``seed``. With ``chat_template`` the checkpoint ships that template
    in ``tokenizer_config.json`` and in ``chat_template.jinja``, as chat models do.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    corpus = tiny_corpus()
    tokenizer = build_tiny_tokenizer(corpus, vocab_size=vocab_size)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    if pretrain_steps:
        pretrain(model, tokenizer, corpus, pretrain_steps, seed)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    if chat_template is not None:
        ship_chat_template(out, chat_template)
    return out


def ship_chat_template(path: str | Path, template: str = CHATML_TEMPLATE) -> None:
    """Add a chat template to a saved checkpoint the two ways hub checkpoints carry one."""
    out = Path(path)
    config_path = out / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["chat_template"] = template  # stage1kit: allow[SK200] reason: the test kit plants a template so the loader's stripping is tested
    config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    (out / "chat_template.jinja").write_text(template, encoding="utf-8")


def add_special_marker(path: str | Path, marker: str = "<|im_start|>") -> None:
    """Doctor a saved tokenizer so ``marker`` becomes a special token (the loader must refuse it)."""
    out = Path(path)
    tok_path = out / "tokenizer.json"
    data = json.loads(tok_path.read_text(encoding="utf-8"))
    next_id = max(t["id"] for t in data["added_tokens"]) + 1
    next_id = max(next_id, len(data["model"]["vocab"]))
    data["added_tokens"].append(
        {"id": next_id, "content": marker, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True}
    )
    tok_path.write_text(json.dumps(data), encoding="utf-8")


def inject_marker_post_processor(path: str | Path, marker: str = "<|im_start|>") -> None:
    """Doctor a saved tokenizer so its post-processor puts ``marker`` after BOS in every encoding.

    Such a tokenizer opens a chat turn whatever the text: the loader must refuse it.
    """
    add_special_marker(path, marker)
    tok_path = Path(path) / "tokenizer.json"
    data = json.loads(tok_path.read_text(encoding="utf-8"))
    ids = {t["content"]: t["id"] for t in data["added_tokens"]}
    data["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": BOS, "type_id": 0}}, {"SpecialToken": {"id": marker, "type_id": 0}},
                   {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {
            BOS: {"id": BOS, "ids": [ids[BOS]], "tokens": [BOS]},
            marker: {"id": marker, "ids": [ids[marker]], "tokens": [marker]},
        },
    }
    tok_path.write_text(json.dumps(data), encoding="utf-8")


def make_plugin_distribution(
    root: str | Path,
    name: str,
    modules: dict[str, str],
    entry_points: dict[str, str],
    version: str = "0.0.1",
) -> Path:
    """Write a real installed-looking distribution under ``root`` (put ``root`` on ``sys.path``).

    ``modules`` maps a module file name (``"my_miner.py"``) to its source; ``entry_points`` maps an
    entry-point name to ``"module"`` in the ``stage1kit`` group. ``importlib.metadata`` discovers
    it exactly as it discovers a pip-installed plugin, so tests exercise real discovery.
    """
    base = Path(root)
    base.mkdir(parents=True, exist_ok=True)
    for filename, source in modules.items():
        (base / filename).write_text(source, encoding="utf-8")
    dist_info = base / f"{name.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir(exist_ok=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8")
    lines = ["[stage1kit]"] + [f"{ep} = {target}" for ep, target in entry_points.items()]
    (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return base
