"""The one shared log-prob critic: instruction quality and pairwise preference from next-token odds.

Pointwise, it reads P(" Yes") against P(" No") after a few-shot judge prompt; pairwise, P(" A")
against P(" B"), with each pair presented in both orders and averaged so the model's preference for
a position cancels out. All prompts of a call are scored in batched forward passes through
:mod:`stage1kit.logprobs`; nothing here loops over examples around a forward pass.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from stage1kit import (
    LoadedModel,
    PairQuery,
    PairVerdict,
    ScoringConfig,
    context_length,
    encode_data,
    encode_prompts,
    option_logprobs,
    option_tokens,
)
from stage1kit_hf import prompts
from stage1kit_hf.meta import PLUGIN, plugin_version


@dataclass
class CriticSettings:
    """Settings of the ``logprob`` critic (``[critic] settings``)."""

    batch_size: int = field(default=16, metadata={"help": "prompts per forward pass"})
    max_tokens_per_batch: int = field(default=16384, metadata={"help": "padded tokens per forward pass, at most (length-bucketed batches)"})
    padding_side: str = field(default="left", metadata={"help": "where scoring batches pad"})
    instruction_template: str = field(default=prompts.INSTRUCTION_JUDGE_TEMPLATE, metadata={"help": "completion-style prompt that asks whether a text is a good task ({instruction})"})
    pair_template: str = field(default=prompts.PAIR_JUDGE_TEMPLATE, metadata={"help": "completion-style prompt that asks which answer is better ({instruction}, {response_a}, {response_b})"})
    yes_no: tuple[str, str] = field(default=(" Yes", " No"), metadata={"help": "the two answer tokens of the instruction prompt"})
    labels: tuple[str, str] = field(default=(" A", " B"), metadata={"help": "the two answer tokens of the pair prompt"})
    calibration_text: str | None = field(default="N/A", metadata={"help": "content-free instruction whose yes/no log-odds are subtracted (Zhao et al. 2021); \"\" turns it off"})
    max_response_chars: int = field(default=2000, metadata={"help": "responses longer than this are cut (in characters) inside the judge prompt"})


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + " ..."


class LogprobCritic:
    """Implements :class:`stage1kit.protocols.Critic` with a loaded model's own log-probabilities."""

    name = "logprob"

    def __init__(self, settings: CriticSettings | None = None) -> None:
        self.settings = settings or CriticSettings()
        s = self.settings
        prompts.check_template("instruction_template", s.instruction_template, ["instruction"])
        prompts.check_template("pair_template", s.pair_template, ["instruction", "response_a", "response_b"])
        self.scoring = ScoringConfig(s.batch_size, s.max_tokens_per_batch, s.padding_side)

    def instruction_prompt(self, instruction: str) -> str:
        return prompts.fill(self.settings.instruction_template, instruction=instruction.strip())

    def pair_prompt(self, instruction: str, first: str, second: str) -> str:
        limit = self.settings.max_response_chars
        return prompts.fill(
            self.settings.pair_template,
            instruction=instruction.strip(),
            response_a=_clip(first.strip(), limit),
            response_b=_clip(second.strip(), limit),
        )

    def _fit_to_context(
        self, model: LoadedModel, texts: list[str], ids: list[list[int]], orders: list[tuple[str, str, str]]
    ) -> None:
        """Replace, in place, every pair prompt too long for the model, and its ids, by its fitted version.

        ``ids`` are the prompts' encodings, so measuring them tokenises nothing; only the prompts
        that had to be cut are encoded again, in one batched call.
        """
        limit = context_length(model)
        if limit is None:
            return
        too_long = [i for i, prompt_ids in enumerate(ids) if len(prompt_ids) + _OPTION_RESERVE > limit]
        if not too_long:
            return
        for index in too_long:
            texts[index] = self._fitted_pair_prompt(model.tokenizer, *orders[index], limit)
        for index, fitted in zip(too_long, encode_prompts(model.tokenizer, [texts[i] for i in too_long])):
            ids[index] = fitted

    def _fitted_pair_prompt(self, tokenizer: Any, instruction: str, first: str, second: str, limit: int) -> str:
        """The pair prompt, measured too long for the model, with both responses cut to an equal token share.

        Scores past the positions a model was trained for are meaningless (or crash, with learned
        position embeddings), so a long pair is judged on the heads of its answers instead.
        """
        overhead = _token_count(tokenizer, self.pair_prompt(instruction, "", ""))
        share = max(0, (limit - overhead - _OPTION_RESERVE - 2 * _ELLIPSIS_TOKENS) // 2)
        heads = [_token_head(tokenizer, response.strip(), share) for response in (first, second)]
        return self.pair_prompt(instruction, *heads)

    def score_instructions(self, model: LoadedModel, instructions: Sequence[str]) -> list[float]:
        """P(yes) normalised over yes/no for each instruction (calibrated unless turned off).

        The content-free prompt rides in the same batched scoring call as the instructions.
        """
        if not instructions:
            return []
        texts = [self.instruction_prompt(i) for i in instructions]
        options = option_tokens(model.tokenizer, list(self.settings.yes_no), context=_cue(texts[0]))
        calibrate = bool(self.settings.calibration_text)  # "" (TOML has no null) or None: off
        if calibrate:
            texts.append(self.instruction_prompt(self.settings.calibration_text))
        rows = option_logprobs(model, texts, options, self.scoring)
        prior = 0.0
        if calibrate:
            yes0, no0 = rows.pop()
            prior = yes0 - no0
        return [_sigmoid(yes - no - prior) for yes, no in rows]

    def compare(self, model: LoadedModel, queries: Sequence[PairQuery]) -> list[PairVerdict]:
        """Both orders of every pair in one batched scoring call; verdicts averaged over the orders.

        Each prompt is tokenised once: the same ids measure it against the model's context and are
        scored; only a prompt cut to fit is encoded again.
        """
        if not queries:
            return []
        texts, orders = [], []
        for q in queries:
            for first, second in ((q.response_a, q.response_b), (q.response_b, q.response_a)):
                texts.append(self.pair_prompt(q.instruction, first, second))
                orders.append((q.instruction, first, second))
        ids = encode_prompts(model.tokenizer, texts)
        self._fit_to_context(model, texts, ids, orders)
        options = option_tokens(model.tokenizer, list(self.settings.labels), context=_cue(texts[0]))
        rows = option_logprobs(model, texts, options, self.scoring, prompt_ids=ids)
        verdicts = []
        for index in range(len(queries)):
            (a1, b1), (b2, a2) = rows[2 * index], rows[2 * index + 1]
            verdicts.append(combine_orders(a1 - b1, a2 - b2))
        return verdicts

    def describe(self) -> dict[str, Any]:
        s = self.settings
        return {
            "name": self.name,
            "plugin": PLUGIN,
            "version": plugin_version(),
            "prompt_template_sha256": {
                "instruction": prompts.template_sha256(s.instruction_template),
                "pair": prompts.template_sha256(s.pair_template),
            },
            "options": {"yes_no": list(s.yes_no), "labels": list(s.labels)},
            "calibration_text": s.calibration_text,
        }


#: tokens kept free after a prompt for the option being scored (and BOS), and for a clipped answer's " ..."
_OPTION_RESERVE = 4
_ELLIPSIS_TOKENS = 4


def _token_count(tokenizer: Any, text: str) -> int:
    return len(encode_data(tokenizer, [text], bos=True)[0])


def _token_head(tokenizer: Any, text: str, tokens: int) -> str:
    ids = encode_data(tokenizer, [text], bos=False)[0]  # long answers are why we cut
    if len(ids) <= tokens:
        return text
    # encode_data made no special tokens, so none are skipped: the head is the answer's own text
    return tokenizer.decode(ids[:tokens], skip_special_tokens=False).rstrip() + " ..."


def _cue(prompt: str) -> str:
    """The prompt's last line (the template's cue, e.g. "Better answer:"): options follow it."""
    return prompt.rsplit("\n", 1)[-1]


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def combine_orders(margin_first: float, margin_second: float) -> PairVerdict:
    """Average the A-over-B log-odds from the two presentation orders (both oriented to A)."""
    margin = (margin_first + margin_second) / 2.0
    prob_a = (_sigmoid(margin_first) + _sigmoid(margin_second)) / 2.0
    agree = (margin_first > 0) == (margin_second > 0)
    return PairVerdict(margin=margin, prob_a=prob_a, confidence=abs(2.0 * prob_a - 1.0), orders_agree=agree)
