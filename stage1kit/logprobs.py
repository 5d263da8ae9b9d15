"""The shared log-prob scoring primitive: one batched forward pass per batch, for every judge.

Two questions, both answered from a loaded causal LM's next-token distributions:

* :func:`continuation_logprobs` -- log P(continuation | prompt), summed over its tokens;
* :func:`option_logprobs` -- log P(option | prompt) for a fixed set of options (``" A"``/``" B"``,
  ``" Yes"``/``" No"``) after each prompt.

Rows are sorted by length and cut into batches bounded by ``batch_size`` and
``max_tokens_per_batch`` (length bucketing keeps padding small), scored, and returned in the
caller's order. Every text is encoded with :func:`stage1kit.encoding.encode_data` (special-token
strings in data split into ordinary pieces); a continuation is tokenised together with its prompt
(:func:`stage1kit.encoding.encode_pairs`), the rule the trainers train by. Prompts for option
scoring are encoded in one batched tokenizer call, or not at all when the caller
already encoded them (to measure them) and passes the ids on as ``prompt_ids``. Tokens that every
row of a call starts with (a judge's few-shot header) are run once and their key/value cache
reused by every batch, so each row costs only its own tokens. Left padding (the default) aligns
every row's end, so only the last few positions go through the LM head (``logits_to_keep``); right
padding works too. Position ids are passed explicitly so a padded row scores exactly as it would
alone.

Options are tokenised once per call, as they follow the prompt's last line (a byte-level BPE
splits the leading space off ``" A"``; SentencePiece merges it into the word). Tokens every option
shares are scored as part of each option; after them each option's next token must differ from
every other's. Options that collide there would be decided by later tokens only, or tie silently
under first-token scoring, so :class:`OptionCollisionError` is raised instead. When every option is
one token past the shared tokens, one row per prompt answers all options at once; otherwise each
(prompt, option) is a row of the same batched pass.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from stage1kit.encoding import EncodedPair, encode_data, encode_pairs
from stage1kit.errors import Stage1kitError

if TYPE_CHECKING:
    from stage1kit.loader import LoadedModel

PADDING_SIDES = ("left", "right")


class OptionCollisionError(Stage1kitError, ValueError):
    """Two options cannot be told apart at the first token where they should differ."""


class ContextLengthError(Stage1kitError, ValueError):
    """A row is longer than the positions the model was built for; its scores would be garbage."""


def context_length(loaded: "LoadedModel") -> int | None:
    """Positions the model was built for (its config's ``max_position_embeddings``, or the
    engine's context length); None if unsaid."""
    if loaded.engine is not None:
        return loaded.engine.context_length
    config = getattr(loaded.model, "config", None)
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


@dataclass(frozen=True)
class ScoringConfig:
    """How rows are batched: at most ``batch_size`` rows and ``max_tokens_per_batch`` padded tokens.

    ``share_prefix``: when every row of a call starts with the same ``min_shared_prefix`` tokens or
    more (a few-shot judge header), run them once and reuse their key/value cache for every batch.
    """

    batch_size: int = 16
    max_tokens_per_batch: int = 16384
    padding_side: str = "left"
    share_prefix: bool = True
    min_shared_prefix: int = 16

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.max_tokens_per_batch < 1:
            raise ValueError(f"max_tokens_per_batch must be at least 1, got {self.max_tokens_per_batch}")
        if self.padding_side not in PADDING_SIDES:
            raise ValueError(f"padding_side must be 'left' or 'right', got {self.padding_side!r}")


@dataclass(frozen=True)
class ContinuationScore:
    """Summed log-probability of a continuation, with its per-token parts."""

    logprob: float
    num_tokens: int
    token_logprobs: tuple[float, ...]

    @property
    def mean_logprob(self) -> float:
        return self.logprob / self.num_tokens if self.num_tokens else 0.0


@dataclass(frozen=True)
class OptionTokens:
    """Options tokenised once: the prefix they share, then each option's remaining tokens."""

    options: tuple[str, ...]
    shared: tuple[int, ...]
    rest: tuple[tuple[int, ...], ...]

    @property
    def single_row(self) -> bool:
        """True when every option ends one token after the shared prefix: one row scores all."""
        return all(len(r) == 1 for r in self.rest)


def _encode_after(tokenizer: Any, context: str | None, options: Sequence[str]) -> list[tuple[int, ...]]:
    """Option ids as they tokenise after ``context`` (SentencePiece merges a leading space into the
    word, byte-level BPE does not); standalone when no context is given or the context's own tokens
    change once an option follows it."""
    alone = [tuple(x) for x in encode_data(tokenizer, options, bos=False)]
    if not context:
        return alone
    head = encode_data(tokenizer, [context], bos=False)[0]
    joined = encode_data(tokenizer, [context + o for o in options], bos=False)
    if all(j[: len(head)] == head and len(j) > len(head) for j in joined):
        return [tuple(j[len(head) :]) for j in joined]
    return alone


def option_tokens(tokenizer: Any, options: Sequence[str], context: str | None = None) -> OptionTokens:
    """Tokenise ``options`` (after ``context``, e.g. a prompt that ends in the template's cue) and
    check they part ways at one token position."""
    if len(options) < 2:
        raise ValueError(f"need at least two options to choose between, got {list(options)!r}")
    ids = _encode_after(tokenizer, context, options)
    for text, tokens in zip(options, ids):
        if not tokens:
            raise ValueError(f"option {text!r} encodes to no tokens; give non-empty options")
    shared = 0
    while all(len(t) > shared for t in ids) and len({t[shared] for t in ids}) == 1:
        shared += 1
    rest = tuple(t[shared:] for t in ids)
    first: dict[int, str] = {}
    for text, tail in zip(options, rest):
        if not tail:
            raise OptionCollisionError(
                f"option {text!r} is identical to, or a token prefix of, another of {list(options)!r}: "
                "no next token tells them apart. Choose options whose first distinguishing tokens differ "
                "(e.g. ' A'/' B', ' Yes'/' No')."
            )
        if tail[0] in first:
            token = tokenizer.convert_ids_to_tokens(tail[0])
            raise OptionCollisionError(
                f"options {first[tail[0]]!r} and {text!r} collide: after the tokens all options share, both "
                f"continue with {token!r}, so the next-token distribution cannot tell them apart. Choose "
                "options whose first distinguishing tokens differ (e.g. ' A'/' B', ' Yes'/' No')."
            )
        first[tail[0]] = text
    return OptionTokens(tuple(options), ids[0][:shared], rest)


def encode_prompts(tokenizer: Any, prompts: Sequence[str]) -> list[list[int]]:
    """Prompt ids as the scoring functions use them: one batched call, BOS by the family's policy.

    Callers that must measure their prompts first (to fit them to the model's context) encode them
    here once and hand the ids on as ``prompt_ids``. ``verbose=False``: a prompt longer than the
    tokenizer's ``model_max_length`` is the caller's to fit, or :class:`ContextLengthError`'s to
    report, so transformers' own warning would only be noise.
    """
    return encode_data(tokenizer, prompts, bos=True)


def _given_or_encoded(tokenizer: Any, prompts: Sequence[str], prompt_ids: Sequence[Sequence[int]] | None) -> list[list[int]]:
    if prompt_ids is None:
        return encode_prompts(tokenizer, prompts)
    if len(prompt_ids) != len(prompts):
        raise ValueError(f"{len(prompts)} prompts but {len(prompt_ids)} prompt_ids; pass one id list per prompt")
    return [list(ids) for ids in prompt_ids]


def continuation_logprobs(
    loaded: "LoadedModel",
    prompts: Sequence[str],
    continuations: Sequence[str],
    config: ScoringConfig | None = None,
    *,
    eos: bool = False,
) -> list[ContinuationScore]:
    """log P(continuation | prompt) for each pair, batched and length-bucketed.

    Prompt and continuation are tokenised together (:func:`stage1kit.encoding.encode_pairs`) and
    exactly the tokens after the prompt are scored: the tokens a trainer would train on, so a
    SentencePiece tokenizer scores ``▁Paris``, not a lone ``▁`` the model never sees. ``eos=True``
    scores the closing EOS as well (as training does).
    """
    pairs = encode_pairs(loaded.tokenizer, prompts, continuations, eos=eos)
    return score_pairs(loaded, pairs, config)


def score_pairs(loaded: "LoadedModel", pairs: Sequence[EncodedPair], config: ScoringConfig | None = None) -> list[ContinuationScore]:
    """Score the completion tokens of already encoded pairs (see :func:`continuation_logprobs`)."""
    rows, targets, owners = [], [], []
    for index, pair in enumerate(pairs):
        if pair.completion_ids:
            rows.append(list(pair.prompt_ids + pair.completion_ids[:-1]))
            targets.append([[t] for t in pair.completion_ids])
            owners.append(index)
    gathered = score_rows(loaded, rows, targets, config)
    results = [ContinuationScore(0.0, 0, ())] * len(pairs)
    for index, values in zip(owners, gathered):
        per_token = tuple(v[0] for v in values)
        results[index] = ContinuationScore(float(sum(per_token)), len(per_token), per_token)
    return results


def option_logprobs(
    loaded: "LoadedModel",
    prompts: Sequence[str],
    options: Sequence[str] | OptionTokens,
    config: ScoringConfig | None = None,
    *,
    prompt_ids: Sequence[Sequence[int]] | None = None,
) -> list[list[float]]:
    """``result[i][j]`` = log P(option j | prompt i), summed over the option's tokens.

    Options given as strings are tokenised as they follow the first prompt's last line, so the
    prompts of one call should end the same way (a template's cue, like ``"Better answer:"``).
    ``prompt_ids``, when given, are the prompts already encoded with special tokens
    (:func:`encode_prompts`), one list per prompt: they are scored as they are, not re-tokenised.
    """
    if not prompts:
        return []
    if isinstance(options, OptionTokens):
        opts = options
    else:
        opts = option_tokens(loaded.tokenizer, options, context=prompts[0].rsplit("\n", 1)[-1])
    prompt_ids = _given_or_encoded(loaded.tokenizer, prompts, prompt_ids)
    if loaded.engine is not None:
        return loaded.engine.option_logprobs(prompt_ids, opts)
    shared = list(opts.shared)
    if opts.single_row:
        rows = [p + shared for p in prompt_ids]
        block = [[t] * len(opts.rest) for t in shared] + [[r[0] for r in opts.rest]]
        gathered = score_rows(loaded, rows, [block] * len(rows), config)
        return [[float(sum(position[j] for position in values)) for j in range(len(opts.rest))] for values in gathered]
    rows, targets = [], []
    for p in prompt_ids:
        for tail in opts.rest:
            full = shared + list(tail)
            rows.append(p + full[:-1])
            targets.append([[t] for t in full])
    gathered = score_rows(loaded, rows, targets, config)
    width = len(opts.rest)
    sums = [float(sum(v[0] for v in values)) for values in gathered]
    return [sums[i * width : (i + 1) * width] for i in range(len(prompt_ids))]


def normalised(logprobs: Sequence[float]) -> list[float]:
    """Probabilities of options renormalised over the options (a softmax of their log-probs)."""
    values = torch.tensor(list(logprobs), dtype=torch.float64)
    return torch.softmax(values, dim=0).tolist()


# --------------------------------------------------------------------------- batching engine


def plan_batches(lengths: Sequence[int], config: ScoringConfig) -> list[list[int]]:
    """Row indices grouped longest first, each group within ``batch_size`` and the token budget."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        width = lengths[current[0]] if current else lengths[index]
        if current and (len(current) >= config.batch_size or (len(current) + 1) * width > config.max_tokens_per_batch):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


def _forward_parameters(model: Any) -> set[str]:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return set(inspect.signature(base.forward).parameters)


def _accepts_logits_to_keep(model: Any) -> bool:
    return "logits_to_keep" in _forward_parameters(model)


def _cache_keyword(model: Any) -> str:
    """transformers 5 renamed ``past_key_values`` to ``cache``; use whichever the model takes."""
    return "cache" if "cache" in _forward_parameters(model) else "past_key_values"


def _pad_id(tokenizer: Any) -> int:
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return int(pad) if pad is not None else 0


def score_rows(
    loaded: "LoadedModel",
    rows: Sequence[Sequence[int]],
    targets: Sequence[Sequence[Sequence[int]]],
    config: ScoringConfig | None = None,
) -> list[list[list[float]]]:
    """The engine under both public functions.

    Row ``r`` is a list of token ids; ``targets[r]`` lists, for the last ``len(targets[r])``
    positions of the row, the token ids whose next-token log-probs are wanted there. Returns the
    same nesting filled with log-probs, in the callers' row order.
    """
    config = config or ScoringConfig()
    if len(rows) != len(targets):
        raise ValueError("score_rows needs one target block per row")
    for r, (row, block) in enumerate(zip(rows, targets)):
        if not block or len(block) > len(row):
            raise ValueError(f"row {r}: {len(block)} target positions for a row of {len(row)} tokens")
    out: list[list[list[float]]] = [[] for _ in rows]
    if not rows:
        return out
    limit = context_length(loaded)
    if limit is not None:
        longest = max(range(len(rows)), key=lambda r: len(rows[r]))
        if len(rows[longest]) > limit:
            raise ContextLengthError(
                f"row {longest} has {len(rows[longest])} tokens but the model handles at most {limit} positions; "
                "shorten the texts being scored (the logprob critic clips responses to fit on its own)"
            )
    model = loaded.model
    device = loaded.device
    pad = _pad_id(loaded.tokenizer)
    keep_ok = _accepts_logits_to_keep(model)
    with torch.inference_mode():
        shared = _shared_prefix_length(rows, targets) if config.share_prefix else 0
        prefix = _prefix_cache(model, rows[0][:shared], device, keep_ok) if shared >= config.min_shared_prefix else None
        shared = shared if prefix is not None else 0
        for batch in plan_batches([len(r) - shared for r in rows], config):
            suffixes = [rows[i][shared:] for i in batch]
            values = _score_batch(model, device, pad, suffixes, [targets[i] for i in batch], config.padding_side, keep_ok, prefix)
            for index, value in zip(batch, values):
                out[index] = value
    return out


def _shared_prefix_length(rows: Sequence[Sequence[int]], targets: Sequence[Sequence[Sequence[int]]]) -> int:
    """Tokens every row starts with, stopping before any scored position (each row keeps >= 1 token)."""
    limit = min(len(row) - len(block) for row, block in zip(rows, targets))
    # The common prefix of all rows is that of the lexicographically smallest and largest row.
    low, high = min(rows), max(rows)
    length = 0
    while length < limit and low[length] == high[length]:
        length += 1
    return length


@dataclass(frozen=True)
class _Prefix:
    """Key/value states of the shared prefix (batch of one), per layer."""

    length: int
    layers: tuple[tuple[Any, Any], ...]


def _prefix_cache(model: Any, prefix: Sequence[int], device: Any, keep_ok: bool) -> _Prefix | None:
    """Run the shared prefix once; None when the model's cache is not the plain dynamic kind."""
    from transformers import DynamicCache

    ids = torch.tensor([list(prefix)], dtype=torch.long, device=device)
    kwargs = {"logits_to_keep": 1} if keep_ok else {}
    output = model(input_ids=ids, use_cache=True, **kwargs)
    cache = getattr(output, "cache", None)
    if cache is None:
        cache = getattr(output, "past_key_values", None)
    layers = getattr(cache, "layers", None)
    if type(cache) is not DynamicCache or not layers or any(type(layer).__name__ != "DynamicLayer" for layer in layers):
        return None  # sliding-window or other special caches: score without sharing
    return _Prefix(len(prefix), tuple((layer.keys, layer.values) for layer in layers))


def _expanded_cache(prefix: _Prefix, batch: int) -> Any:
    from transformers import DynamicCache

    return DynamicCache(ddp_cache_data=[(k.expand(batch, -1, -1, -1), v.expand(batch, -1, -1, -1)) for k, v in prefix.layers])


def _score_batch(
    model: Any,
    device: Any,
    pad: int,
    rows: list[Sequence[int]],
    targets: list[Sequence[Sequence[int]]],
    side: str,
    keep_ok: bool,
    prefix: _Prefix | None = None,
) -> list[list[list[float]]]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    ends = []  # exclusive end of each row inside the padded batch
    for b, row in enumerate(rows):
        start = width - len(row) if side == "left" else 0
        ids[b, start : start + len(row)] = torch.tensor(row, dtype=torch.long)
        mask[b, start : start + len(row)] = 1
        ends.append(start + len(row))
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    first_needed = min(end - len(block) for end, block in zip(ends, targets))
    keep = width - first_needed
    kwargs: dict[str, Any] = {"logits_to_keep": keep} if keep_ok else {}
    if prefix is not None:
        # Rows continue the cached prefix: their positions start after it, and the mask covers it.
        positions = positions + prefix.length
        mask = torch.cat([torch.ones((len(rows), prefix.length), dtype=torch.long), mask], dim=1)
        kwargs.update({_cache_keyword(model): _expanded_cache(prefix, len(rows)), "use_cache": True})
    else:
        kwargs["use_cache"] = False
    logits = model(input_ids=ids.to(device), attention_mask=mask.to(device), position_ids=positions.to(device), **kwargs).logits
    offset = width - logits.shape[1]  # the kept window starts at this sequence position
    # Gather every wanted position of the batch at once, then log-softmax only those rows.
    n_opts = max(len(t) for block in targets for t in block)
    row_index, pos_index, target_ids, valid = [], [], [], []
    for b, (end, block) in enumerate(zip(ends, targets)):
        for j, wanted in enumerate(block):
            row_index.append(b)
            pos_index.append(end - len(block) + j - offset)
            target_ids.append(list(wanted) + [0] * (n_opts - len(wanted)))
            valid.append(len(wanted))
    picked = logits[torch.tensor(row_index, device=logits.device), torch.tensor(pos_index, device=logits.device)]
    logp = torch.log_softmax(picked.float(), dim=-1)
    chosen = logp.gather(1, torch.tensor(target_ids, device=logits.device)).cpu().tolist()
    results: list[list[list[float]]] = []
    cursor = 0
    for block in targets:
        results.append([chosen[cursor + j][: valid[cursor + j]] for j in range(len(block))])
        cursor += len(block)
    return results
