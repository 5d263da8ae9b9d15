"""``callable``: your own check, a Python function named ``"module:function"`` in the config.

The function is called as ``function(instruction, answer)`` and may return a bool, a number in
[0, 1] (correct when at least ``threshold``), ``None`` (cannot judge this instruction: counted
apart) or a :class:`stage1kit.protocols.Verification`. The module is imported when the verifier is
built, so a bad name fails before any model loads. List the module's file under ``[run] user_code``
so the audit checks it too.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from typing import Any, Callable

from stage1kit import Stage1kitError, Verification, help_metadata


class CallableVerifierError(Stage1kitError):
    """The ``callable`` verifier's function cannot be found or returned something unusable."""


@dataclass
class CallableVerifier:
    """Settings of the ``callable`` verifier (``[evaluate] verifier_settings``)."""

    function: str = field(default="", metadata=help_metadata('"module:function" called as function(instruction, answer)'))
    threshold: float = field(default=0.5, metadata=help_metadata("a numeric result at least this counts as correct"))

    def __post_init__(self) -> None:
        self._function = self._import(self.function)

    @staticmethod
    def _import(spec: str) -> Callable[[str, str], Any]:
        module_name, _, attribute = spec.partition(":")
        if not module_name or not attribute:
            raise CallableVerifierError(
                f'[evaluate] verifier_settings.function = {spec!r}: give "module:function", e.g. "my_checks:is_correct"'
            )
        try:
            # stage1kit: allow[SK300] reason: the user's own check, named in the config; the module is audited as user code
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise CallableVerifierError(
                f"[evaluate] verifier_settings.function = {spec!r}: cannot import {module_name} ({exc}); "
                "put its folder on PYTHONPATH or install it"
            ) from None
        function = getattr(module, attribute, None)
        if not callable(function):
            raise CallableVerifierError(f"[evaluate] verifier_settings.function = {spec!r}: {module_name} has no function {attribute}")
        return function

    def verify(self, instruction: str, answer: str) -> Verification:
        result = self._function(instruction, answer)
        if isinstance(result, Verification):
            return result
        if result is None:
            return Verification(False, 0.0, known=False, detail=f"{self.function} returned None")
        if isinstance(result, bool):
            return Verification(result, 1.0 if result else 0.0)
        if isinstance(result, (int, float)) and math.isfinite(result):
            return Verification(result >= self.threshold, float(result))
        raise CallableVerifierError(
            f"verifier function {self.function} returned {result!r} for {instruction!r}; "
            "return a bool, a number, None or a Verification"
        )

    def describe(self) -> dict[str, Any]:
        return {"name": "callable", "function": self.function, "threshold": self.threshold}
