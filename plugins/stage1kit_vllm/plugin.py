"""Registers the ``vllm`` engine ([engine] name = "vllm").

This module stays light (no vLLM or torch import): the plugin manager imports it whenever the CLI
starts. The engine is imported by the factory, when a stage first needs the model.
"""

from __future__ import annotations

from typing import Any

from stage1kit import hookimpl


def make_vllm_engine(**settings: Any) -> Any:
    """Factory: ``VllmEngineLoader`` from ``[engine] settings`` (see ``VllmSettings``)."""
    from stage1kit_vllm.engine import VllmEngineLoader, VllmSettings

    return VllmEngineLoader(VllmSettings(**settings))


@hookimpl
def register_engines(register) -> None:
    register("vllm", make_vllm_engine, settings="stage1kit_vllm.engine:VllmSettings")
