"""SK400: ``trust_remote_code=True``."""

from __future__ import annotations

import ast

from ..resolver import TRUE_LITERAL, Resolver, string_value
from .base import Rule

INSTEAD = "remote code can install its own template and tokenizer; use a model that loads without it"


def _is_true(resolver: Resolver, node: ast.AST) -> bool:
    """``True``, or a name bound to it (``TRUST = True``)."""
    return TRUE_LITERAL in resolver.resolve(node)


class TrustRemoteCode(Rule):
    """``trust_remote_code=True`` runs code from the model repository, which the audit cannot see."""

    code = "SK400"
    name = "trust-remote-code"
    summary = "trust_remote_code=True"
    loader_exempt = True
    VALID = [
        "load(name, trust_remote_code=False)",
        "TRUST = False\nload(name, trust_remote_code=TRUST)",
        "text = 'trust_remote_code=True'",
    ]
    INVALID = [
        "model = load(name, trust_remote_code=True)",
        "kwargs = {'trust_remote_code': True}",
        "TRUST = True\nmodel = load(name, trust_remote_code=TRUST)",
    ]

    def on_call(self, node: ast.Call) -> None:
        for keyword in node.keywords:
            if keyword.arg == "trust_remote_code" and _is_true(self.resolver, keyword.value):
                self.report(keyword, f"`trust_remote_code=True`: {INSTEAD}")

    def on_dict(self, node: ast.Dict) -> None:
        for key, value in zip(node.keys, node.values, strict=True):
            if key is not None and string_value(key) == "trust_remote_code" and _is_true(self.resolver, value):
                self.report(key, f"`'trust_remote_code': True`: {INSTEAD}")
