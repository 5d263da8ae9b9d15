"""The audit's rules, one class each. SK900 and SK999 come from the engine, not from a class."""

from __future__ import annotations

from .base import Rule
from .chat_template import ChatTemplateUse
from .dynamic_access import UnverifiableDynamicAccess
from .model_load import ModelLoadOutsideLoader
from .remote_code import TrustRemoteCode
from .retired import RetiredComponent

RULES: tuple[type[Rule], ...] = (
    ModelLoadOutsideLoader,
    ChatTemplateUse,
    UnverifiableDynamicAccess,
    TrustRemoteCode,
    RetiredComponent,
)

# Findings the engine itself produces.
ENGINE_CODES = {
    "SK900": "bad suppression comment (no reason, unknown code, or suppresses nothing)",
    "SK999": "file does not parse",
}

ALL_CODES: dict[str, str] = {**{r.code: r.summary for r in RULES}, **ENGINE_CODES}

__all__ = ["ALL_CODES", "ENGINE_CODES", "RULES", "Rule"]
