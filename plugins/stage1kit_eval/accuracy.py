"""Exact accuracy of every model (base, SFT, DPO) on held-out questions a verifier can check.

Each model answers each question greedily with the plain training prompt; the configured verifier
(no model involved) says whether the answer is correct. Accuracy carries a Wilson 95% interval;
models are compared pairwise on the *same* items with the exact McNemar test (two-sided binomial
test on the discordant items: gained = wrong before and right after, lost = the reverse), which is
what a paired design calls for and what stays valid at the few dozen items a toy run has.

Beside it, the section scores the critic itself against the verifier on ``judgements.jsonl``: of the
judged pairs where one candidate is correct and the other is not, how often the critic preferred
the correct one, and how often the judge's best pick was correct against the candidates' own rate.
That is the signal self-judging has to offer; a lift without it would be luck.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from stage1kit import EvalContext, Verification, Verifier, read_input_records

from stage1kit_eval.answers import GenerationSettings, generate_answers
from stage1kit_eval.win_rate import listed, wilson_interval

PAIRED_TEST = "exact McNemar (two-sided binomial test on discordant items)"


def mcnemar_exact(gained: int, lost: int) -> float:
    """Two-sided exact McNemar p-value for ``gained`` vs ``lost`` discordant items (1.0 when none)."""
    n = gained + lost
    if n == 0:
        return 1.0
    k = min(gained, lost)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2.0**n
    return min(1.0, 2.0 * tail)


def accuracy_summary(correct: Sequence[bool]) -> dict[str, Any]:
    """Correct count, accuracy and its Wilson 95% interval."""
    n, hits = len(correct), sum(1 for c in correct if c)
    interval = wilson_interval(hits, n)
    return {"n": n, "correct": hits, "accuracy": hits / n if n else None, "ci95": list(interval) if interval else None}


def paired_comparison(before: str, after: str, a: Sequence[bool], b: Sequence[bool]) -> dict[str, Any]:
    """``after`` against ``before`` on the same items: accuracy change, discordant counts, McNemar p."""
    gained = sum(1 for x, y in zip(a, b) if not x and y)
    lost = sum(1 for x, y in zip(a, b) if x and not y)
    n = len(a)
    return {
        "from": before,
        "to": after,
        "delta": (sum(b) - sum(a)) / n if n else None,
        "gained": gained,
        "lost": lost,
        "p_value": mcnemar_exact(gained, lost),
        "test": PAIRED_TEST,
    }


def critic_agreement(judgements: Sequence[dict[str, Any]], verifier: Verifier) -> dict[str, Any]:
    """How well the critic's judgements agree with the verifier (see the module docstring)."""
    decisive = prefers_correct = picks = picks_correct = 0
    candidate_hits = candidates = 0
    for record in judgements:
        instruction, texts = record.get("instruction"), record.get("candidates") or []
        if not isinstance(instruction, str) or not texts:
            continue
        checks = [verifier.verify(instruction, str(t)) for t in texts]
        if not all(c.known for c in checks):
            continue
        right = [c.correct for c in checks]
        candidates += len(right)
        candidate_hits += sum(right)
        best = record.get("best_index")
        if isinstance(best, int) and 0 <= best < len(right):
            picks += 1
            picks_correct += right[best]
        for comparison in record.get("comparisons") or []:
            a, b, margin = comparison.get("a"), comparison.get("b"), comparison.get("margin")
            if not (isinstance(a, int) and isinstance(b, int) and isinstance(margin, (int, float))):
                continue
            if 0 <= a < len(right) and 0 <= b < len(right) and right[a] != right[b] and margin != 0:
                decisive += 1
                prefers_correct += (margin > 0) == right[a]
    return {
        "judged_instructions": picks,
        "candidate_accuracy": candidate_hits / candidates if candidates else None,
        "best_pick_accuracy": picks_correct / picks if picks else None,
        "best_pick_ci95": listed(wilson_interval(picks_correct, picks)),
        "mixed_pairs": decisive,
        "prefers_correct": prefers_correct / decisive if decisive else None,
        "prefers_correct_ci95": listed(wilson_interval(prefers_correct, decisive)),
    }


@dataclass
class AccuracyEvaluator:
    """Settings of the ``accuracy`` evaluator (``[evaluate.evaluator_settings.accuracy]``); decoding is greedy."""

    max_new_tokens: int = 32
    batch_size: int = 32
    examples: int = 6

    def evaluate(self, ctx: EvalContext) -> dict[str, Any]:
        """Answer, verify and compare; a section of the evaluation report."""
        if ctx.verifier is None:
            return {"kind": "accuracy", "missing": "no verifier configured: set [evaluate] verifier (see `stage1kit plugins`)"}
        questions = list(ctx.accuracy_questions)
        if not questions:
            return {"kind": "accuracy", "missing": "no held-out questions the verifier can check"}
        models = ctx.models or {"base": ctx.base, "trained": ctx.trained}
        gen = GenerationSettings(self.max_new_tokens, self.batch_size, temperature=0.0)
        answers = {name: [a.text for a in generate_answers(m, questions, gen, seed=ctx.seed, prompt_format=ctx.prompt_format)] for name, m in models.items()}
        checks = {name: [ctx.verifier.verify(q, a) for q, a in zip(questions, texts)] for name, texts in answers.items()}
        known = [i for i in range(len(questions)) if all(checks[name][i].known for name in models)]
        correct = {name: [checks[name][i].correct for i in known] for name in models}
        names = list(models)
        return {
            "kind": "accuracy",
            "decoding": "greedy",
            "verifier": _describe(ctx.verifier),
            "source": ctx.accuracy_source,
            "questions": len(questions),
            "unverifiable": len(questions) - len(known),
            "models": {name: accuracy_summary(correct[name]) for name in names},
            "paired": [paired_comparison(a, b, correct[a], correct[b]) for i, a in enumerate(names) for b in names[i + 1:]],
            "critic": critic_agreement(_judgements(ctx.run_dir), ctx.verifier),
            "settings": asdict(self),
            "items": [_item(questions[i], answers, checks, i) for i in known],
            "examples": [_item(questions[i], answers, checks, i) for i in known[: self.examples]],
        }


def _item(question: str, answers: dict[str, list[str]], checks: dict[str, list[Verification]], i: int) -> dict[str, Any]:
    first = next(iter(checks.values()))[i]
    return {
        "instruction": question,
        "expected": first.expected,
        "answers": {name: texts[i] for name, texts in answers.items()},
        "correct": {name: checks[name][i].correct for name in checks},
    }


def _judgements(run_dir: Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / "judgements.jsonl"
    return read_input_records(path) if path.is_file() else []


def _describe(verifier: Any) -> dict[str, Any]:
    try:
        return dict(verifier.describe())
    except Exception as exc:  # provenance is best effort; the verdicts are what matter
        return {"error": f"describe() failed: {type(exc).__name__}: {exc}"}
