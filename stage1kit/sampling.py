"""Batched, seeded sampling from a loaded model: the generators' and the evaluators' one way to generate.

Prompts are sorted by token length and cut into batches (length bucketing keeps left padding
small); each batch is one ``generate`` call with ``num_return_sequences`` so the samples of one
prompt share its prefill. Stop strings end a sample early and are cut from the text; a sample that
used all ``max_new_tokens`` without an EOS or a stop string is flagged ``hit_limit``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch loads when sampling runs, so plugins that import this stay light
    import torch

    from stage1kit.loader import LoadedModel


@dataclass(frozen=True)
class SamplingSettings:
    """How to sample: ``temperature`` 0 means greedy."""

    max_new_tokens: int = 128
    temperature: float = 0.8
    top_p: float = 0.95
    batch_size: int = 8
    stop: tuple[str, ...] = ()
    min_new_tokens: int = 0


@dataclass(frozen=True)
class Completion:
    """One sampled continuation, cut at the first stop string."""

    text: str
    hit_limit: bool
    num_tokens: int


def cut_at_stops(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """``text`` up to the first stop string, and whether one was found."""
    cut = min((text.find(s) for s in stops if s and s in text), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def sample(
    loaded: "LoadedModel",
    prompts: Sequence[str],
    settings: SamplingSettings,
    *,
    num_return_sequences: int = 1,
    seed: int = 0,
) -> list[list[Completion]]:
    """``result[i]`` holds ``num_return_sequences`` completions of ``prompts[i]``."""
    import torch

    tokenizer = loaded.tokenizer
    encoded = tokenizer(list(prompts), add_special_tokens=True)["input_ids"]
    order = sorted(range(len(prompts)), key=lambda i: (-len(encoded[i]), i))
    results: list[list[Completion]] = [[] for _ in prompts]
    devices = [loaded.device] if loaded.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.inference_mode():
        torch.manual_seed(seed)
        for start in range(0, len(order), settings.batch_size):
            batch = order[start : start + settings.batch_size]
            texts = generate_batch(loaded, [encoded[i] for i in batch], settings, num_return_sequences)
            for n, index in enumerate(batch):
                results[index] = texts[n * num_return_sequences : (n + 1) * num_return_sequences]
    return results


def generation_kwargs(loaded: "LoadedModel", settings: SamplingSettings, num_return_sequences: int) -> dict[str, Any]:
    """Keyword arguments for ``model.generate`` (also used by the benchmark's bare baseline)."""
    tokenizer = loaded.tokenizer
    kwargs: dict[str, Any] = {
        "max_new_tokens": settings.max_new_tokens,
        "num_return_sequences": num_return_sequences,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    if settings.min_new_tokens:
        kwargs["min_new_tokens"] = settings.min_new_tokens
    if settings.temperature > 0:
        kwargs.update(do_sample=True, temperature=settings.temperature, top_p=settings.top_p)
    else:
        kwargs.update(do_sample=False)
    if settings.stop:
        kwargs.update(stop_strings=list(settings.stop), tokenizer=tokenizer)
    return kwargs


def left_padded(loaded: "LoadedModel", rows: Sequence[Sequence[int]]) -> tuple["torch.Tensor", "torch.Tensor"]:
    """Left-padded ``input_ids`` and ``attention_mask`` on the model's device."""
    import torch

    width = max(len(r) for r in rows)
    pad = loaded.tokenizer.pad_token_id
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for b, row in enumerate(rows):
        ids[b, width - len(row) :] = torch.tensor(row, dtype=torch.long)
        mask[b, width - len(row) :] = 1
    return ids.to(loaded.device), mask.to(loaded.device)


def generate_batch(
    loaded: "LoadedModel", rows: Sequence[Sequence[int]], settings: SamplingSettings, num_return_sequences: int
) -> list[Completion]:
    """One ``generate`` call; completions in row-major order (prompt, then sample)."""
    tokenizer = loaded.tokenizer
    ids, mask = left_padded(loaded, rows)
    output = loaded.model.generate(
        input_ids=ids, attention_mask=mask, **generation_kwargs(loaded, settings, num_return_sequences)
    )
    new = output[:, ids.shape[1] :].cpu()
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    ended = (new == eos).any(dim=1).tolist() if eos is not None else [False] * len(new)
    lengths = _generated_lengths(new, eos, pad)
    texts = tokenizer.batch_decode(new, skip_special_tokens=True)
    completions = []
    for text, done, length in zip(texts, ended, lengths):
        clean, stopped = cut_at_stops(text, settings.stop)
        hit_limit = not done and not stopped and length >= settings.max_new_tokens
        completions.append(Completion(clean, hit_limit, length))
    return completions


def _generated_lengths(new: "torch.Tensor", eos: int | None, pad: int | None) -> list[int]:
    """Tokens each sample produced: up to and including its EOS, and never the padding after it."""
    import torch

    width = new.shape[1]
    if pad is not None and pad != eos:
        return (new != pad).sum(dim=1).tolist()
    if eos is None:
        return [width] * new.shape[0]
    is_eos = new == eos
    first = torch.where(is_eos.any(dim=1), is_eos.int().argmax(dim=1) + 1, torch.full((new.shape[0],), width))
    return first.tolist()
