"""Rebuild the demo's shipped model: ``python -m stage1kit.demo_world.build [OUT]``.

Trains a byte-level BPE tokenizer and a small Llama model from scratch on the world's corpus
(:func:`stage1kit.demo_world.world.corpus`), on CPU, with fixed seeds, and writes the checkpoint to
OUT (default: the package's ``model/`` folder). Deterministic for a given torch version and thread
count: with ``OMP_NUM_THREADS=1`` (torch 2.13 CPU) a rebuild writes the shipped files bit for bit.
Takes 4-6 minutes on one busy core.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from stage1kit.demo_world import world

MODEL_DIR = Path(__file__).resolve().parent / "model"
SEED = 0
STEPS = 1000
BATCH = 48
LEARNING_RATE = 3e-3
HIDDEN, LAYERS, VOCAB = 128, 4, 384


def _batches(ids: list[list[int]], pad: int, steps: int, seed: int):
    import torch

    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        rows = [ids[i] for i in torch.randint(len(ids), (BATCH,), generator=generator).tolist()]
        width = max(map(len, rows))
        batch = torch.full((len(rows), width), pad)
        mask = torch.zeros_like(batch)
        for r, seq in enumerate(rows):
            batch[r, : len(seq)] = torch.tensor(seq)
            mask[r, : len(seq)] = 1
        yield batch, mask, batch.masked_fill(mask == 0, -100)


def build(out: Path = MODEL_DIR, *, steps: int = STEPS, seed: int = SEED, log=print) -> Path:
    """Train the tokenizer and the model on the world's corpus and save both to ``out``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from stage1kit.encoding import encode_data
    from stage1kit.testing import build_tiny_tokenizer

    torch.manual_seed(seed)
    docs = world.corpus(seed)
    tokenizer = build_tiny_tokenizer(docs, vocab_size=VOCAB)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=HIDDEN, intermediate_size=HIDDEN * 3, num_hidden_layers=LAYERS,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=256,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    ids = [seq + [tokenizer.eos_token_id] for seq in encode_data(tokenizer, docs, bos=True)]
    optimiser = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=LEARNING_RATE, total_steps=steps, pct_start=0.05)
    model.train()
    started = time.perf_counter()
    for step, (batch, mask, labels) in enumerate(_batches(ids, tokenizer.eos_token_id, steps, seed), start=1):
        loss = model(input_ids=batch, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimiser.step()
        schedule.step()
        optimiser.zero_grad()
        if step % 100 == 0 or step == steps:
            log(f"step {step}/{steps} loss {loss.item():.4f} ({time.perf_counter() - started:.0f}s)")
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=MODEL_DIR)
    parser.add_argument("--steps", type=int, default=STEPS)
    args = parser.parse_args(argv)
    build(args.out, steps=args.steps)


if __name__ == "__main__":
    main()
