"""The one plain-text prompt format: what responses are sampled under, what the critic's judged
answers answer, what SFT/DPO records train on, what ``heldout.jsonl`` holds and what evaluators ask.

It is a completion format, not a chat template: no special tokens, no roles, just text the base
model already reads. It is configured once, in the run config's ``[prompt]`` table
(:class:`stage1kit.settings.PromptSettings`), and every stage gets it from
``StageContext.prompt_format()``, so the string the critic judged answers to is the string the
trainer trains on and the string the evaluators ask.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

#: the default template, the completion's leading separator and the stop strings
PROMPT_TEMPLATE = "Query: {instruction}\nAnswer:"
SEPARATOR = " "
PLACEHOLDER = "{instruction}"


def default_stop(template: str) -> tuple[str, ...]:
    """A newline, then the template's text before ``{instruction}`` (``"\\nQuery:"`` by default):
    where the model, done with its answer, starts a new query."""
    head = template.split(PLACEHOLDER, 1)[0].strip()
    return ("\n" + head,) if head else ("\n\n",)


@dataclass(frozen=True)
class PromptFormat:
    """``template`` with one ``{instruction}``; answers follow it after ``separator``; generation stops at ``stop``."""

    template: str = PROMPT_TEMPLATE
    separator: str = SEPARATOR
    stop: tuple[str, ...] = default_stop(PROMPT_TEMPLATE)

    def __post_init__(self) -> None:
        if self.template.count(PLACEHOLDER) != 1:
            raise ValueError(f"template = {self.template!r}: must hold {PLACEHOLDER} exactly once (where the instruction goes)")
        if any(not isinstance(s, str) or not s for s in self.stop):
            raise ValueError(f"stop = {list(self.stop)!r}: stop strings must be non-empty strings")

    @classmethod
    def from_settings(cls, settings: Any) -> "PromptFormat":
        """From a ``[prompt]`` table (:class:`stage1kit.settings.PromptSettings`)."""
        stop = default_stop(settings.template) if settings.stop is None else tuple(settings.stop)
        return cls(settings.template, settings.separator, stop)

    def prompt(self, instruction: str) -> str:
        """The prompt for ``instruction`` (filled by plain replacement: braces in it stay as they are)."""
        return self.template.replace(PLACEHOLDER, instruction.strip())

    def completion(self, answer: str) -> str:
        """The completion/chosen/rejected field: the separator, then the answer (no EOS: trainers add it)."""
        return self.separator + answer.strip()

    def describe(self) -> dict[str, Any]:
        """What manifests and provenance record about the format, with its sha256."""
        fields = {"template": self.template, "separator": self.separator, "stop": list(self.stop)}
        return fields | {"sha256": hashlib.sha256(json.dumps(fields, sort_keys=True).encode("utf-8")).hexdigest()}


#: the format of a run with no ``[prompt]`` table
DEFAULT_FORMAT = PromptFormat()


def training_prompt(instruction: str) -> str:
    """The default format's prompt (``DEFAULT_FORMAT.prompt``); stages use ``ctx.prompt_format()``."""
    return DEFAULT_FORMAT.prompt(instruction)


def training_completion(answer: str) -> str:
    """The default format's completion (``DEFAULT_FORMAT.completion``); stages use ``ctx.prompt_format()``."""
    return DEFAULT_FORMAT.completion(answer)
