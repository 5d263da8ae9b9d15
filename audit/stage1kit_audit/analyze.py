"""Audit one Python source with libcst: parse, walk, locate, suppress.

Only reached for files the prefilter could not clear, so libcst is imported here and nowhere on
the cheap path.
"""

from __future__ import annotations

import warnings

import libcst as cst

from .checker import Checker
from .config import AuditConfig
from .positions import locate
from .rules import ALL_CODES, RULES, Rule
from .suppressions import Raw, apply_suppressions
from .vocabulary import MARKER

SUPPRESSIBLE = set(ALL_CODES) - {"SK900", "SK999"}


def active_rules(config: AuditConfig, *, loader: bool) -> list[type[Rule]]:
    """The rules that apply to a file: loader modules are exempt from some."""
    return [r for r in RULES if r.enabled(config) and not (loader and r.loader_exempt)]


def _syntax_error(exc: Exception, source: bytes | str) -> Raw:
    """SK999, placed where CPython places the error (libcst's native parser is vaguer)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, "<audit>", "exec", dont_inherit=True)
    except SyntaxError as error:
        if error.lineno:
            return (error.lineno, error.offset or 1, "SK999",
                    f"file does not parse ({error.msg}); fix the syntax so the audit can check it")
    except Exception:
        pass
    if isinstance(exc, cst.ParserSyntaxError):
        return (exc.raw_line, exc.raw_column + 1, "SK999",
                f"file does not parse ({exc.message}); fix the syntax so the audit can check it")
    return (1, 1, "SK999", f"file could not be parsed ({type(exc).__name__}: {exc}); the audit cannot check it")


def analyse_source(source: bytes | str, config: AuditConfig, *, loader: bool) -> list[Raw]:
    """Sorted (line, column, rule, message) findings for one Python source."""
    try:
        module = cst.parse_module(source)
    except Exception as exc:  # a file that does not parse is a finding, never a crash
        return [_syntax_error(exc, source)]
    try:
        raw = Checker(active_rules(config, loader=loader), config).run(module)
    except RecursionError:
        return [(1, 1, "SK999", "file is nested too deeply for the audit to check; simplify it")]
    text = source if isinstance(source, str) else source.decode(module.encoding, errors="replace")
    findings: list[Raw] = []
    if raw:
        places = locate(module, text, [(node, chain) for node, _, _, chain in raw])
        seen = set()
        for (line, column), (_, rule, message, _) in zip(places, raw):
            if (line, column, rule) not in seen:
                seen.add((line, column, rule))
                findings.append((line, column, rule, message))
    if MARKER in (source.encode() if isinstance(source, str) else source):
        findings = apply_suppressions(findings, text, SUPPRESSIBLE)
    return sorted(findings)
