"""Audit one Python source: parse with CPython's ``ast``, walk, place, suppress.

Only reached for files the prefilter could not clear. A top-level function or class that mentions
none of the words its file's findings could hang on (and none of the module-level names bound to
something that matters, such as ``p = transformers.pipeline``) is not walked: only the name it
binds is recorded, as walking it would (a class by its bases).
"""

from __future__ import annotations

import ast
import gc
import io
import re
import tokenize
import warnings

from .checker import Checker
from .config import AuditConfig
from .rules import ALL_CODES, RULES, Rule
from .suppressions import Raw, apply_suppressions
from .vocabulary import MARKER

SUPPRESSIBLE = set(ALL_CODES) - {"SK900", "SK999"}
# Line ends as CPython counts them (``str.splitlines`` also splits at form feeds and others).
_NEWLINE = re.compile(r"\r\n|\r|\n")
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def active_rules(config: AuditConfig, *, loader: bool) -> list[type[Rule]]:
    """The rules that apply to a file: loader modules are exempt from some."""
    return [r for r in RULES if r.enabled(config) and not (loader and r.loader_exempt)]


def _syntax_error(error: SyntaxError) -> Raw:
    """SK999 where CPython places the error."""
    return (error.lineno or 1, error.offset or 1, "SK999",
            f"file does not parse ({error.msg}); fix the syntax so the audit can check it")


def _decode(source: bytes) -> str:
    encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
    return source.decode(encoding)


def _definition_text(node: ast.stmt, lines: list[str]) -> str:
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", ()))])
    return "\n".join(lines[first - 1 : node.end_lineno])


def _walk(module: ast.Module, text: str, config: AuditConfig, loader: bool, words: frozenset[str] | None) -> list:
    checker = Checker(active_rules(config, loader=loader), config)
    checker.prebind(module.body)
    if words is None:
        checker.walk_body(module.body)
        return checker.raw
    lines = _NEWLINE.split(text)
    needles = set(words) | checker.resolver.interesting_names(words)
    for statement in module.body:
        if isinstance(statement, _DEFINITIONS) and not any(w in _definition_text(statement, lines) for w in needles):
            checker.skip_definition(statement)
        else:
            checker.walk(statement)
    return checker.raw


def _column(lines: list[str], line: int, byte_offset: int) -> int:
    """1-based character column of a UTF-8 byte offset (what ``ast`` gives) on a line."""
    if not 0 < line <= len(lines):
        return byte_offset + 1
    text = lines[line - 1]
    if text.isascii():
        return byte_offset + 1
    return len(text.encode("utf-8")[:byte_offset].decode("utf-8", errors="replace")) + 1


def analyse_source(
    source: bytes | str, config: AuditConfig, *, loader: bool, words: frozenset[str] | None = None
) -> list[Raw]:
    """Sorted (line, column, rule, message) findings for one Python source.

    ``words`` (from the prefilter) lets definitions that cannot matter go unwalked; None walks all.
    """
    # Trees are many small objects and no cycles: the cyclic collector would only rescan them.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _analyse(source, config, loader=loader, words=words)
    finally:
        if collecting:
            gc.enable()


def _analyse(source: bytes | str, config: AuditConfig, *, loader: bool, words: frozenset[str] | None) -> list[Raw]:
    try:
        text = source if isinstance(source, str) else _decode(source)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = ast.parse(text)
    except SyntaxError as error:  # a file that does not parse is a finding, never a crash
        return [_syntax_error(error)]
    except (UnicodeDecodeError, LookupError, ValueError) as error:
        return [(1, 1, "SK999", f"file could not be read ({type(error).__name__}: {error}); the audit cannot check it")]
    except (RecursionError, MemoryError):
        return [(1, 1, "SK999", "file is nested too deeply for the audit to check; simplify it")]
    try:
        raw = _walk(module, text, config, loader, words)
    except RecursionError:
        return [(1, 1, "SK999", "file is nested too deeply for the audit to check; simplify it")]
    lines = _NEWLINE.split(text)
    findings = sorted({(node.lineno, _column(lines, node.lineno, node.col_offset), code, message)
                       for node, code, message in raw})
    if MARKER in (source.encode() if isinstance(source, str) else source):
        findings = apply_suppressions(findings, text, SUPPRESSIBLE)
    return sorted(findings)
