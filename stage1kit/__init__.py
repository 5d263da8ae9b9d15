"""stage1kit: post-train a base language model on its own outputs, never through a chat template.

This package's top level is the public API for plugin authors: everything a generator, critic,
negative miner, trainer or evaluator needs is importable from here (``from stage1kit import
hookimpl, Negative, LoadedModel``), and the built-in plugins use nothing else (a test checks).
Names load on first use, so ``import stage1kit`` stays light (``stage1kit --help`` imports no torch).
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("stage1kit")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

#: public name -> the module that defines it
_PUBLIC: dict[str, str] = {
    # registering plugins
    "hookimpl": "stage1kit.hookspecs",
    "Register": "stage1kit.hookspecs",
    # what plugins implement, and the records they exchange with the engine
    "Critic": "stage1kit.protocols",
    "PairQuery": "stage1kit.protocols",
    "PairVerdict": "stage1kit.protocols",
    "InstructionGenerator": "stage1kit.protocols",
    "ResponseGenerator": "stage1kit.protocols",
    "GenerationStats": "stage1kit.protocols",
    "Progress": "stage1kit.protocols",
    "RecordSink": "stage1kit.protocols",
    "NegativeMiner": "stage1kit.protocols",
    "MiningTask": "stage1kit.protocols",
    "Negative": "stage1kit.protocols",
    "Trainer": "stage1kit.protocols",
    "TrainResult": "stage1kit.protocols",
    "Evaluator": "stage1kit.protocols",
    "EvalContext": "stage1kit.protocols",
    "Verifier": "stage1kit.protocols",
    "ReferenceSet": "stage1kit.protocols",
    "Verification": "stage1kit.protocols",
    "Engine": "stage1kit.protocols",
    "EngineLoader": "stage1kit.protocols",
    # the clean model handle the engine hands plugins
    "LoadedModel": "stage1kit.loader",
    "special_ids": "stage1kit.loader",
    "stop_tokens": "stage1kit.loader",
    "model_provenance": "stage1kit.stages.base",
    # the one way to encode data text, sample and score
    "encode_data": "stage1kit.encoding",
    "encode_pairs": "stage1kit.encoding",
    "SamplingSettings": "stage1kit.sampling",
    "Completion": "stage1kit.sampling",
    "sample": "stage1kit.sampling",
    "cut_at_stops": "stage1kit.sampling",
    "make_completion": "stage1kit.sampling",
    "ScoringConfig": "stage1kit.logprobs",
    "continuation_logprobs": "stage1kit.logprobs",
    "option_logprobs": "stage1kit.logprobs",
    "option_tokens": "stage1kit.logprobs",
    "OptionTokens": "stage1kit.logprobs",
    "encode_prompts": "stage1kit.logprobs",
    "context_length": "stage1kit.logprobs",
    "ContextLengthError": "stage1kit.logprobs",
    # the one prompt format ([prompt]): generators sample under it, trainers and evaluators use it
    "PromptFormat": "stage1kit.prompting",
    "DEFAULT_FORMAT": "stage1kit.prompting",
    "training_prompt": "stage1kit.prompting",
    "training_completion": "stage1kit.prompting",
    # what DPO did to the chosen/rejected likelihood (trainers record it, the report reads it)
    "likelihood_trend": "stage1kit.dpo_likelihood",
    # records, resume, data checks
    "RecordWriter": "stage1kit.records",
    "read_input_records": "stage1kit.records",
    "atomic_write_text": "stage1kit.records",
    "resume_batches": "stage1kit.resume",
    "candidate_counts": "stage1kit.stages.responses",
    "find_markers": "stage1kit.chat_markers",
    "CHAT_MARKERS": "stage1kit.chat_markers",
    "click_thresholds": "stage1kit.thresholds",
    # settings dataclasses: help text for their fields, checked building from a table
    "help_metadata": "stage1kit.settings",
    "require_range": "stage1kit.settings",
    # errors a plugin raises for the user to read
    "Stage1kitError": "stage1kit.errors",
    "TrainingDataError": "stage1kit.gate",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'stage1kit' has no attribute {name!r}")
    # stage1kit: allow[SK300] reason: the public API's own modules, by the fixed names listed above
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
