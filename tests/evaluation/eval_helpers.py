"""Test helpers for the evaluator tests: a scripted critic and a registry of the real evaluators."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from stage1kit.plugins import PluginInfo, Registration, Registry, new_plugin_manager
from stage1kit.protocols import PairQuery, PairVerdict
from stage1kit_eval.accuracy import AccuracyEvaluator
from stage1kit_eval.likelihood import HeldoutLikelihoodEvaluator
from stage1kit_eval.win_rate import WinRateEvaluator


class ScriptedCritic:
    """A Critic whose pair verdicts come from ``decide(query)``; it records what it was asked."""

    def __init__(self, decide: Callable[[PairQuery], PairVerdict] | None = None):
        self.decide = decide or (lambda q: verdict(0.8))
        self.calls: list[tuple[Any, list[PairQuery]]] = []

    def score_instructions(self, model: Any, instructions: Sequence[str]) -> list[float]:
        return [0.5 for _ in instructions]

    def compare(self, model: Any, queries: Sequence[PairQuery]) -> list[PairVerdict]:
        self.calls.append((model, list(queries)))
        return [self.decide(q) for q in queries]

    def describe(self) -> dict[str, Any]:
        return {"name": "scripted", "version": "0"}


def verdict(prob_a: float, orders_agree: bool = True) -> PairVerdict:
    margin = math.log(prob_a) - math.log(1 - prob_a)
    return PairVerdict(margin=margin, prob_a=prob_a, confidence=abs(2 * prob_a - 1), orders_agree=orders_agree)


def make_registry(critic: ScriptedCritic | None, verifiers: dict[str, Any] | None = None) -> Registry:
    """A registry holding the real built-in evaluators, the scripted critic (if any) and the given
    verifier factories by name."""
    info = PluginInfo("test", "tests.evaluation", "tests", "0")
    critics = {"scripted": Registration("critics", "scripted", lambda: critic, info)} if critic else {}
    regs = {
        "critics": critics,
        "evaluators": {
            "win-rate": Registration("evaluators", "win-rate", WinRateEvaluator, info),
            "heldout-likelihood": Registration("evaluators", "heldout-likelihood", HeldoutLikelihoodEvaluator, info),
            "accuracy": Registration("evaluators", "accuracy", AccuracyEvaluator, info),
        },
        "verifiers": {name: Registration("verifiers", name, f, info) for name, f in (verifiers or {}).items()},
    }
    return Registry([info], regs, new_plugin_manager())
