"""Registers the built-in generators: "self-instruct" (instructions) and "best-of-n" (responses).

This module stays light (no torch import): the plugin manager imports it whenever the CLI starts.
The factories import the generator modules when a stage actually builds one.
"""

from __future__ import annotations

from typing import Any

from stage1kit import hookimpl


def make_self_instruct(**settings: Any) -> Any:
    """Factory: ``SelfInstructGenerator`` from the user's settings (see ``SelfInstructSettings``)."""
    from stage1kit_hf.self_instruct import SelfInstructGenerator, SelfInstructSettings

    return SelfInstructGenerator(SelfInstructSettings(**settings))


def make_best_of_n(**settings: Any) -> Any:
    """Factory: ``BestOfNGenerator`` from the user's settings (see ``BestOfNSettings``)."""
    from stage1kit_hf.best_of_n import BestOfNGenerator, BestOfNSettings

    return BestOfNGenerator(BestOfNSettings(**settings))


@hookimpl
def register_instruction_generators(register) -> None:
    register("self-instruct", make_self_instruct, settings="stage1kit_hf.self_instruct:SelfInstructSettings")


@hookimpl
def register_response_generators(register) -> None:
    register("best-of-n", make_best_of_n, settings="stage1kit_hf.best_of_n:BestOfNSettings")
