"""SK400: ``trust_remote_code=True``."""

from __future__ import annotations

import libcst as cst

from ..resolver import TRUE_LITERAL, Resolver, string_value
from .base import Rule

INSTEAD = "remote code can install its own template and tokenizer; use a model that loads without it"


def _is_true(resolver: Resolver, node: cst.BaseExpression) -> bool:
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

    def on_call(self, node: cst.Call) -> None:
        for arg in node.args:
            if arg.keyword is not None and arg.keyword.value == "trust_remote_code" and _is_true(self.resolver, arg.value):
                self.report(arg, f"`trust_remote_code=True`: {INSTEAD}")

    def on_dict(self, node: cst.Dict) -> None:
        for element in node.elements:
            if (
                isinstance(element, cst.DictElement)
                and string_value(element.key) == "trust_remote_code"
                and _is_true(self.resolver, element.value)
            ):
                self.report(element, f"`'trust_remote_code': True`: {INSTEAD}")
