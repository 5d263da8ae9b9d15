"""The built-in tiny model: a real checkpoint ``stage1kit init`` and ``demo`` build offline in seconds.

A small Llama-architecture model and a byte-level BPE tokenizer trained on a few built-in lines,
written deterministically by seed with no network. ``CleanModelLoader`` loads it exactly as it loads
a hub model. The test helpers (:mod:`stage1kit.testing`) build on it.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

BOS, EOS = "<s>", "</s>"


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
    *,
    pretrain_steps: int = 0,
    hidden_size: int = 64,
    num_layers: int = 2,
    vocab_size: int = 512,
) -> Path:
    """Write a tiny Llama checkpoint and tokenizer to ``path`` and return the path.

    Deterministic for a given ``seed``; ``pretrain_steps`` fits it to the built-in corpus so that it
    writes word-like text (the demo's model).
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
    return out
