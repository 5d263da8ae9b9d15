"""Registers the built-in verifiers. Imported whenever plugins are listed; the verifier modules
import only the standard library and the stage1kit core."""

from __future__ import annotations

from stage1kit import Register, hookimpl


@hookimpl
def register_verifiers(register: Register) -> None:
    """``exact-match``: a JSONL reference file; ``regex``: a pattern; ``callable``: "module:function"."""
    from stage1kit_verifiers.callable import CallableVerifier
    from stage1kit_verifiers.exact import ExactMatchVerifier
    from stage1kit_verifiers.regex import RegexVerifier

    register("exact-match", ExactMatchVerifier, settings=ExactMatchVerifier)
    register("regex", RegexVerifier, settings=RegexVerifier)
    register("callable", CallableVerifier, settings=CallableVerifier)
