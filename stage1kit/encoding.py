"""The one way stage1kit turns text into token ids: data text can never become a special token.

Every piece of data text (seed tasks, instructions, answers, candidates, few-shot examples, judge
prompts) goes through :func:`encode_data`, which encodes with special-token parsing *off*: a
``<|im_end|>`` typed into an instruction becomes ordinary pieces (``<``, ``|``, ``im``, ...), never
the real turn-ending token. The tokens the toolkit adds on purpose stay special, because they are
added by id: BOS by the tokenizer's post-processor (``bos=True``, the family's own policy) and the
training EOS by :func:`encode_pairs`.

:func:`encode_pairs` is the one rule for prompt + completion: the two are tokenised *together* and
the completion is whatever follows the longest common prefix with the prompt encoded alone. That is
how TRL finds the completion, so the critic, the evaluators, the trainers and their batch checks
score and train exactly the same tokens (a SentencePiece tokenizer encodes ``" Paris"`` alone as a
lone ``▁`` plus ``▁Paris``; after ``"Answer:"`` it is ``▁Paris`` only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


def encode_data(tokenizer: Any, texts: Sequence[str], *, bos: bool) -> list[list[int]]:
    """Token ids of ``texts``, special-token strings inside them split into ordinary pieces.

    ``bos=True`` lets the tokenizer add what its post-processor adds (BOS for Llama, Gemma,
    Mistral; nothing for Qwen, GPT-2, Pythia): the start of a prompt. ``bos=False`` is for text
    that continues other text (options after a cue, a completion measured on its own).
    ``verbose=False``: texts longer than ``model_max_length`` are the caller's to fit or report.
    """
    if not texts:
        return []
    encoded = tokenizer(list(texts), add_special_tokens=bos, split_special_tokens=True, verbose=False)
    return [list(ids) for ids in encoded["input_ids"]]


@dataclass(frozen=True)
class EncodedPair:
    """A prompt and its completion as one sequence: ``prompt_ids + completion_ids``.

    ``prompt_ids`` carry no loss; ``completion_ids`` are the tokens trained and scored (ending in
    EOS when asked). ``prompt_alone`` is the prompt encoded on its own: when it is not a prefix of
    the joint encoding, prompt and completion merged across the boundary.
    """

    prompt_ids: tuple[int, ...]
    completion_ids: tuple[int, ...]
    prompt_alone: tuple[int, ...]

    @property
    def input_ids(self) -> list[int]:
        return list(self.prompt_ids + self.completion_ids)

    @property
    def boundary_clean(self) -> bool:
        return self.prompt_ids == self.prompt_alone


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading ids ``a`` and ``b`` share (TRL's rule for where a completion starts)."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def encode_pairs(tokenizer: Any, prompts: Sequence[str], completions: Sequence[str], *, eos: bool) -> list[EncodedPair]:
    """Prompt + completion tokenised together, split where the prompt alone stops matching.

    ``eos=True`` appends the EOS id (by id, so it is the real special token however the
    completion's text ends): training and held-out scoring include stopping; a critic scoring a
    continuation does not.
    """
    if len(prompts) != len(completions):
        raise ValueError(f"{len(prompts)} prompts but {len(completions)} completions; pass one each")
    if eos and tokenizer.eos_token_id is None:
        raise ValueError("the tokenizer has no EOS token, so completions cannot be closed with one")
    alone = encode_data(tokenizer, prompts, bos=True)
    joint = encode_data(tokenizer, [p + c for p, c in zip(prompts, completions)], bos=True)
    tail = [tokenizer.eos_token_id] if eos else []
    pairs = []
    for prompt_ids, full in zip(alone, joint):
        split = common_prefix_length(prompt_ids, full)
        pairs.append(EncodedPair(tuple(full[:split]), tuple(full[split:] + tail), tuple(prompt_ids)))
    return pairs
