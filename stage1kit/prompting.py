"""The plain-text prompt format the trained model learns, shared by pairs, trainers and evaluators.

It is a completion format, not a chat template: no special tokens, no roles, just text the base
model already reads. Generation prompts (few-shot, in the plugins) end in the same ``Answer:``
cue, so what the critic judged is what the trainer trains on.
"""

from __future__ import annotations

PROMPT_TEMPLATE = "Query: {instruction}\nAnswer:"


def training_prompt(instruction: str) -> str:
    """The prompt field of SFT and DPO records for ``instruction``."""
    return PROMPT_TEMPLATE.format(instruction=instruction.strip())


def training_completion(answer: str) -> str:
    """The completion/chosen/rejected field: a leading space after ``Answer:``, no EOS (TRL adds it)."""
    return " " + answer.strip()
