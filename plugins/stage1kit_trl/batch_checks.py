"""Checks on the first batch TRL builds, before any optimiser step.

The gate checks the text; these check what the model will actually see once the rows are tokenised
(stage1kit's one rule, ``tokenized.py``, EOS appended by id) and TRL has masked and padded them: no
chat-marker or unexpected special tokens, the loss starting exactly where the tokenized prompt ends,
and exactly one EOS closing every completion (none means the model never learns to stop; two means
the tokenizer appends one itself). Any problem raises :class:`BatchCheckError` naming the row and
what to change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stage1kit import TrainingDataError, encode_data, find_markers, special_ids


class BatchCheckError(TrainingDataError):
    """The first training batch is not what the data promised; nothing was trained."""


def _row_problems(
    ids: list[int],
    supervised: list[bool],
    prompt: str,
    tokenizer: Any,
    where: str,
) -> list[str]:
    """Problems of one unpadded sequence whose ``supervised`` positions carry the loss."""
    problems = []
    eos, bos = tokenizer.eos_token_id, tokenizer.bos_token_id
    allowed = {eos, bos} - {None}
    special = special_ids(tokenizer)
    odd = sorted({i for i in ids if i in special and i not in allowed})
    if odd:
        problems.append(f"{where}: special tokens {tokenizer.convert_ids_to_tokens(odd)} in the inputs")
    text = tokenizer.decode(ids, skip_special_tokens=False)
    markers = find_markers(text)
    if markers:
        problems.append(f"{where}: chat markers {markers} in the tokenized inputs")
    if not any(supervised):
        return problems + [f"{where}: no completion tokens carry the loss (prompt alone fills max_length?)"]
    start = supervised.index(True)
    prompt_ids = encode_data(tokenizer, [prompt], bos=True)[0]
    if ids[:start] != prompt_ids:
        problems.append(
            f"{where}: the loss starts at token {start} but the tokenized prompt has {len(prompt_ids)} tokens "
            "(prompt and completion merge across the boundary); end prompts on a token boundary, e.g. "
            "keep the completion's leading space (stage1kit.prompting.training_completion)"
        )
    if bos is not None and len(ids) > 1 and ids[0] == bos and ids[1] == bos:
        problems.append(f"{where}: doubled BOS at the start")
    completion = [token for token, flag in zip(ids, supervised) if flag]
    if eos is None or completion[-1] != eos:
        problems.append(
            f"{where}: the completion does not end in EOS, so the model would never learn to stop "
            "(truncated by max_length? raise it)"
        )
    elif completion.count(eos) > 1:
        problems.append(
            f"{where}: {completion.count(eos)} EOS tokens in the completion (doubled EOS): the tokenizer "
            "appends EOS itself (add_eos_token on?); stage1kit appends exactly one, so turn that off"
        )
    return problems


def _raise(problems: Sequence[str], kind: str) -> None:
    if problems:
        listing = "\n  ".join(problems[:20])
        raise BatchCheckError(f"first {kind} batch failed its checks; nothing was trained:\n  {listing}")


def check_sft_batch(batch: dict[str, Any], prompts: Sequence[str], tokenizer: Any) -> None:
    """Check a collated SFT batch (``input_ids``, ``labels``, ``attention_mask``; right-padded)."""
    problems = []
    for row, prompt in enumerate(prompts):
        keep = batch["attention_mask"][row].bool()
        ids = batch["input_ids"][row][keep].tolist()
        supervised = [label != -100 for label in batch["labels"][row][keep].tolist()]
        problems += _row_problems(ids, supervised, prompt, tokenizer, f"row {row}")
    _raise(problems, "SFT")


def check_dpo_batch(batch: dict[str, Any], prompts: Sequence[str], tokenizer: Any) -> None:
    """Check a collated DPO batch: chosen rows first, then the rejected rows in the same order."""
    problems = []
    n = len(prompts)
    for row in range(2 * n):
        keep = batch["attention_mask"][row].bool()
        ids = batch["input_ids"][row][keep].tolist()
        supervised = [bool(flag) for flag in batch["completion_mask"][row][keep].tolist()]
        side = "chosen" if row < n else "rejected"
        problems += _row_problems(ids, supervised, prompts[row % n], tokenizer, f"pair {row % n} ({side})")
    _raise(problems, "DPO")


def first_batch(trainer: Any) -> tuple[dict[str, Any], list[str]]:
    """Collate the first ``per_device_train_batch_size`` prepared rows exactly as training will.

    Uses the trainer's own collator on its own prepared dataset, so what is checked is what the
    first step sees; the rows' ``prompt`` column stays beside them for the boundary check.
    """
    dataset = trainer.train_dataset
    size = min(trainer.args.per_device_train_batch_size, len(dataset))
    rows = [dataset[i] for i in range(size)]
    return trainer.data_collator(rows), [row["prompt"] for row in rows]
