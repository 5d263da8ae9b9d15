"""Batched, seeded sampling from a loaded model: the generators' and the evaluators' one way to generate.

Prompts are sorted by token length and cut into batches (length bucketing keeps left padding
small); each batch is one ``generate`` call with ``num_return_sequences`` so the samples of one
prompt share its prefill. Prompts are encoded with :func:`stage1kit.encoding.encode_data`, so marker
text inside a few-shot example or an instruction reaches the model as ordinary pieces.

Generation stops at EOS and at the family's turn-ending tokens (``<|im_end|>``, ``<|eot_id|>``,
``<end_of_turn>``, ...; :func:`stage1kit.loader.stop_tokens`), and each completion records which one
ended it. Any other special token a base model writes (``<|im_start|>`` opening the next turn) cuts
the completion there and is recorded in ``cut_at_special``: text is never decoded with special tokens
skipped, which would glue ``Paris.<|im_end|>\n<|im_start|>user`` into ``Paris.user``. Stop strings
end a sample early and are cut from the text; a sample that used all ``max_new_tokens`` without any
of these is flagged ``hit_limit``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stage1kit.encoding import encode_data
from stage1kit.loader import special_ids, stop_tokens

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


#: ``Completion.stopped_by`` when a stop string ended the sample, and when nothing did.
STOP_STRING, LENGTH = "stop string", "length"


@dataclass(frozen=True)
class Completion:
    """One sampled continuation, cut at the first stop token, special token or stop string.

    ``stopped_by`` names what ended it: a stop token (``"</s>"``, ``"<|im_end|>"``), the special token
    it was cut at, :data:`STOP_STRING` or :data:`LENGTH`. ``cut_at_special`` is set when a special
    token that is not a stop token (``"<|im_start|>"``) appeared: the text ends just before it.
    """

    text: str
    hit_limit: bool
    num_tokens: int
    stopped_by: str = LENGTH
    cut_at_special: str | None = None


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
    """``result[i]`` holds ``num_return_sequences`` completions of ``prompts[i]``.

    A model served by an engine (``loaded.engine``, e.g. vLLM) samples there, from the same token ids.
    """
    import torch

    encoded = encode_data(loaded.tokenizer, prompts, bos=True)
    if loaded.engine is not None:
        return loaded.engine.sample(encoded, settings, num_return_sequences=num_return_sequences, seed=seed)
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
        "eos_token_id": list(stop_tokens(tokenizer)),
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
    stops = set(stop_tokens(tokenizer))
    ends = first_end(new, stops, special_ids(tokenizer))
    kept = [row[:end].tolist() if end is not None else row.tolist() for row, end in zip(new, ends)]
    # Nothing special is left in ``kept`` (each row ends before its first special token), so nothing
    # is skipped: what is decoded is exactly what the model wrote.
    texts = tokenizer.batch_decode(kept, skip_special_tokens=False)
    return [make_completion(tokenizer, text, row, end, settings, stops) for text, row, end in zip(texts, new.tolist(), ends)]


def make_completion(
    tokenizer: Any, text: str, row: Sequence[int], end: int | None, settings: SamplingSettings, stops: Collection[int]
) -> Completion:
    """The :class:`Completion` of one generated row: ``text`` is the row decoded up to ``end`` (the
    index of its first stop or special token, None if it has none; ``stops`` are the tokenizer's
    :func:`~stage1kit.loader.stop_tokens`). Every engine builds its
    completions here, so what ends a sample and how it is recorded is one rule."""
    clean, by_string = cut_at_stops(text, settings.stop)
    length = end + 1 if end is not None else len(row)
    token = tokenizer.convert_ids_to_tokens(row[end]) if end is not None else None
    cut = token if end is not None and row[end] not in stops else None
    stopped_by = STOP_STRING if by_string else (token or LENGTH)
    hit_limit = end is None and not by_string and length >= settings.max_new_tokens
    return Completion(clean, hit_limit, length, stopped_by, cut)


def first_end(new: "torch.Tensor", stops: set[int], special: set[int]) -> list[int | None]:
    """Per row, the index of the first stop token or other special token (None: the row has neither).

    Padding after a finished row comes after its stop token, so it is never reached.
    """
    import torch

    watched = torch.tensor(sorted(stops | special), dtype=new.dtype)
    hits = torch.isin(new, watched)
    found = hits.any(dim=1)
    first = hits.int().argmax(dim=1)
    return [int(i) if f else None for i, f in zip(first.tolist(), found.tolist())]
