"""Training rows tokenised by stage1kit's one rule, handed to TRL already encoded.

TRL tokenises ``prompt + completion`` as text with special-token parsing on, after appending the EOS
*as text*: marker text in a record would become real chat tokens. Turning ``split_special_tokens``
on for the tokenizer is no fix, since TRL's EOS text would then split too and no row would end in
EOS. So the rows are encoded here with :func:`stage1kit.encoding.encode_pairs` (data text split into
ordinary pieces, EOS appended by id) and TRL receives token ids: SFT as ``input_ids`` +
``completion_mask`` (TRL skips its own tokenisation for such a dataset), DPO as ``prompt_ids`` /
``chosen_ids`` / ``rejected_ids`` (its preparation step is replaced, see ``dpo.py``). The critic and
the held-out evaluator score with the same rule, so what is judged is what is trained.
"""

from __future__ import annotations

from typing import Any

from stage1kit import encode_pairs


def sft_columns(tokenizer: Any, prompts: list[str], completions: list[str]) -> dict[str, list[list[int]]]:
    """``input_ids`` and ``completion_mask`` (1 on the completion and its EOS) of SFT rows."""
    pairs = encode_pairs(tokenizer, prompts, completions, eos=True)
    return {
        "input_ids": [pair.input_ids for pair in pairs],
        "completion_mask": [[0] * len(pair.prompt_ids) + [1] * len(pair.completion_ids) for pair in pairs],
    }


def dpo_columns(tokenizer: Any, prompts: list[str], chosen: list[str], rejected: list[str]) -> dict[str, list[list[int]]]:
    """``prompt_ids``, ``chosen_ids`` and ``rejected_ids`` (each completion closed by EOS) of DPO rows.

    Both completions share one prompt, so the prompt ends where either joint encoding stops
    matching the prompt alone (TRL's own rule).
    """
    good = encode_pairs(tokenizer, prompts, chosen, eos=True)
    bad = encode_pairs(tokenizer, prompts, rejected, eos=True)
    columns: dict[str, list[list[int]]] = {"prompt_ids": [], "chosen_ids": [], "rejected_ids": []}
    for g, b in zip(good, bad):
        split = min(len(g.prompt_ids), len(b.prompt_ids))
        columns["prompt_ids"].append(g.input_ids[:split])
        columns["chosen_ids"].append(g.input_ids[split:])
        columns["rejected_ids"].append(b.input_ids[split:])
    return columns
