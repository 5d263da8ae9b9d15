"""The rule interface: one class per rule, with the examples that document and test it.

A rule reacts to events from the single walk in :mod:`stage1kit_audit.checker` (``on_call``,
``on_attribute``...) and calls ``self.report(node, message)``. ``VALID`` snippets must produce no
finding of the rule and ``INVALID`` snippets at least one; the test-suite runs them all.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from ..config import AuditConfig
    from ..resolver import Resolver


class Rule:
    """Base class. Subclasses set the class attributes and implement some ``on_*`` hooks."""

    code: ClassVar[str]
    name: ClassVar[str]
    summary: ClassVar[str]
    # Files matching ``loader-modules`` are exempt from rules with this set.
    loader_exempt: ClassVar[bool] = False
    VALID: ClassVar[list[str]] = []
    INVALID: ClassVar[list[str]] = []

    def __init__(
        self, resolver: Resolver, config: AuditConfig, record: Callable[[ast.AST, str, str], None]
    ) -> None:
        self.resolver = resolver
        self.config = config
        self._record = record

    @classmethod
    def enabled(cls, config: AuditConfig) -> bool:
        """Whether the rule has anything to check under ``config``."""
        return True

    def report(self, node: ast.AST, message: str) -> None:
        self._record(node, self.code, message)

    # Hooks (all optional), on ``ast`` nodes: on_call(Call), on_attribute(Attribute, store),
    # on_name(Name), on_dict(Dict), on_sequence(List|Tuple|Set), on_subscript(Subscript, store),
    # on_string(Constant str), on_import(node, dotted_names), on_boolean(expr read as a truth
    # value), on_bound(value of ``name = value``).


def keyword_args(call: ast.Call) -> dict[str, ast.keyword]:
    return {k.arg: k for k in call.keywords if k.arg is not None}


def positional_args(call: ast.Call) -> list[ast.expr]:
    return [a for a in call.args if not isinstance(a, ast.Starred)]
