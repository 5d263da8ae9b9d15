"""Rebuild the demo's shipped model: ``python -m stage1kit.demo_world.build [OUT]``.

Trains a byte-level BPE tokenizer and a small Llama model from scratch on the world's corpus
(:func:`stage1kit.demo_world.world.corpus`), on CPU, with fixed seeds, and writes the checkpoint to
OUT (default: the package's ``model/`` folder). Deterministic for a given torch version and thread
count: with ``OMP_NUM_THREADS=1`` (torch 2.13 CPU) a rebuild writes the shipped files bit for bit.
Takes 4-6 minutes on one busy core. ``--small`` builds the small model of the simpler "odd" world
that the tests pretrain themselves (:data:`SMALL`), in under a minute.
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
#: the small build a test pretrains in itself (``--small``): the simpler world (:data:`world.SMALL`),
#: a 2-layer, 64-wide model, 300 steps of 32 documents at a wider initialisation (16-49 s on one
#: busy core). Over build seeds 0-8 its greedy exact accuracy on held-out questions was 0.07-0.36,
#: its critic preferred the right answer in 0.85-0.97 of mixed pairs, and the demo's pipeline
#: (``config.SMALL_RUN``) lifted it by 0.44-0.83 (README, "A world small enough to pretrain in a test").
SMALL = {"sums": world.SMALL, "hidden": 64, "layers": 2, "batch": 32, "steps": 300, "init_range": 0.1}


def _batches(ids: list[list[int]], pad: int, steps: int, seed: int, size: int = BATCH):
    import torch

    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        rows = [ids[i] for i in torch.randint(len(ids), (size,), generator=generator).tolist()]
        width = max(map(len, rows))
        batch = torch.full((len(rows), width), pad)
        mask = torch.zeros_like(batch)
        for r, seq in enumerate(rows):
            batch[r, : len(seq)] = torch.tensor(seq)
            mask[r, : len(seq)] = 1
        yield batch, mask, batch.masked_fill(mask == 0, -100)


def build(
    out: Path = MODEL_DIR,
    *,
    steps: int = STEPS,
    seed: int = SEED,
    log=print,
    sums: world.World = world.DEMO,
    hidden: int = HIDDEN,
    layers: int = LAYERS,
    vocab: int = VOCAB,
    batch: int = BATCH,
    learning_rate: float = LEARNING_RATE,
    init_range: float | None = None,
) -> Path:
    """Train the tokenizer and the model on the world's corpus and save both to ``out``.

    The defaults build the shipped model; the keywords size a different one (a smaller world, a
    narrower or shallower model, fewer steps) for a test that pretrains its own. ``init_range`` is
    the weights' initial standard deviation (Llama's 0.02 when None): a narrow model trained for a
    few hundred steps only learns to read the question at 0.1.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from stage1kit.encoding import encode_data
    from stage1kit.testing import build_tiny_tokenizer

    torch.manual_seed(seed)
    docs = sums.corpus(seed)
    tokenizer = build_tiny_tokenizer(docs, vocab_size=vocab)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 3, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=256,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=True,
        **({} if init_range is None else {"initializer_range": init_range}),
    )
    model = LlamaForCausalLM(config)
    ids = [seq + [tokenizer.eos_token_id] for seq in encode_data(tokenizer, docs, bos=True)]
    optimiser = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=learning_rate, total_steps=steps, pct_start=0.05)
    model.train()
    started = time.perf_counter()
    for step, (batch, mask, labels) in enumerate(_batches(ids, tokenizer.eos_token_id, steps, seed, batch), start=1):
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
    parser.add_argument("out", nargs="?", type=Path, default=None, help="where to write (default: the shipped model's folder)")
    parser.add_argument("--steps", type=int, default=None, help=f"training steps (default {STEPS}; {SMALL['steps']} with --small)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--small", action="store_true", help="the small build of the simpler world (what the tests pretrain)")
    args = parser.parse_args(argv)
    if args.small and args.out is None:
        parser.error("--small needs OUT: the shipped model's folder holds the demo's model")
    settings = dict(SMALL) if args.small else {}
    if args.steps is not None:
        settings["steps"] = args.steps
    build(args.out or MODEL_DIR, seed=args.seed, **settings)


if __name__ == "__main__":
    main()
