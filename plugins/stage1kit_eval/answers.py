"""Batched answer generation for evaluators: the plain training prompt, left padding, stop strings.

Evaluators compare what the trained and the base model *write*, so both must answer the same prompt
the same way: ``stage1kit.prompting.training_prompt`` (the format the trained model learned), greedy
or seeded sampling, stopping at EOS or where the model starts a new ``\\nQuery:``. Prompts are sorted
by length and batched so a GPU sees full batches with little padding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stage1kit.prompting import training_prompt

if TYPE_CHECKING:
    from stage1kit.loader import LoadedModel

#: A model that has learned the prompt format may run on into the next query; cut it there.
DEFAULT_STOPS = ("\nQuery:",)


@dataclass(frozen=True)
class GenerationSettings:
    """How answers are sampled. ``temperature == 0`` means greedy decoding."""

    max_new_tokens: int = 64
    batch_size: int = 16
    temperature: float = 0.0
    top_p: float = 1.0
    stops: tuple[str, ...] = DEFAULT_STOPS

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0 (0 is greedy), got {self.temperature}")


@dataclass(frozen=True)
class Answer:
    """One generated answer; ``hit_limit`` is True when it ran out of tokens before stopping."""

    text: str
    num_tokens: int
    hit_limit: bool


def cut_at_stops(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """``text`` up to the first stop string, and whether one was found."""
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def generate_answers(
    loaded: "LoadedModel", instructions: Sequence[str], settings: GenerationSettings, *, seed: int = 0
) -> list[Answer]:
    """Answer each instruction with ``loaded``, batched by prompt length, in the callers' order."""
    tokenizer = loaded.tokenizer
    prompt_ids = [list(x) for x in tokenizer([training_prompt(i) for i in instructions])["input_ids"]]
    order = sorted(range(len(prompt_ids)), key=lambda i: (len(prompt_ids[i]), i))
    answers: list[Answer | None] = [None] * len(prompt_ids)
    for number, start in enumerate(range(0, len(order), settings.batch_size)):
        batch = order[start : start + settings.batch_size]
        texts = _generate_batch(loaded, [prompt_ids[i] for i in batch], settings, seed + number)
        for index, answer in zip(batch, texts):
            answers[index] = answer
    return [a for a in answers if a is not None]


def _left_padded(rows: list[list[int]], pad: int) -> tuple[Any, Any]:
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for b, row in enumerate(rows):
        ids[b, width - len(row) :] = torch.tensor(row, dtype=torch.long)
        mask[b, width - len(row) :] = 1
    return ids, mask


def _generate_batch(
    loaded: "LoadedModel", rows: list[list[int]], settings: GenerationSettings, seed: int
) -> list[Answer]:
    import torch

    tokenizer = loaded.tokenizer
    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    ids, mask = _left_padded(rows, pad)
    kwargs: dict[str, Any] = {"do_sample": False}
    if settings.temperature > 0:
        torch.manual_seed(seed)
        kwargs = {"do_sample": True, "temperature": settings.temperature, "top_p": settings.top_p}
    with torch.inference_mode():
        out = loaded.model.generate(
            input_ids=ids.to(loaded.device),
            attention_mask=mask.to(loaded.device),
            max_new_tokens=settings.max_new_tokens,
            pad_token_id=pad,
            eos_token_id=eos,
            stop_strings=list(settings.stops) or None,
            tokenizer=tokenizer,
            **kwargs,
        )
    new_tokens = out[:, ids.shape[1] :].cpu().tolist()
    return [_decode(tokenizer, tokens, eos, settings) for tokens in new_tokens]


def _decode(tokenizer: Any, tokens: list[int], eos: int | None, settings: GenerationSettings) -> Answer:
    ended = eos is not None and eos in tokens
    if ended:
        tokens = tokens[: tokens.index(eos)]
    text, stopped = cut_at_stops(tokenizer.decode(tokens, skip_special_tokens=True), settings.stops)
    hit_limit = not ended and not stopped and len(tokens) >= settings.max_new_tokens
    return Answer(text=text.strip(), num_tokens=len(tokens), hit_limit=hit_limit)
