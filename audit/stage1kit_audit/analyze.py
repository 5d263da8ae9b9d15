"""Audit one file's source: prefilter, parse, walk, position, suppress.

Pure functions of (bytes, settings) so results can be cached by content hash and computed in
worker processes.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import libcst as cst

from .checker import Checker
from .config import AuditConfig
from .notebook import NotebookError, notebook_source
from .positions import locate
from .prefilter import needs_parse, retired_words
from .rules import ALL_CODES, RULES
from .suppressions import MARKER, Raw, apply_suppressions

SUPPRESSIBLE = set(ALL_CODES) - {"SK900", "SK999"}


@dataclass(frozen=True)
class Settings:
    """What a worker needs to audit a file (picklable, unlike compiled globs)."""

    config: AuditConfig
    use_prefilter: bool = True

    def rules(self, loader: bool) -> list[type]:
        return [r for r in RULES if r.enabled(self.config) and not (loader and r.loader_exempt)]


@dataclass
class FileResult:
    """Findings as (line, column, rule, message, cell); ``parsed`` says whether libcst ran."""

    findings: list[tuple[int, int, str, str, int | None]]
    parsed: bool


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


def audit_python(source: bytes | str, settings: Settings, *, loader: bool) -> tuple[list[Raw], bool]:
    """Findings for one Python source, and whether it had to be parsed."""
    raw_bytes = source.encode("utf-8") if isinstance(source, str) else source
    config = settings.config
    if settings.use_prefilter and not needs_parse(raw_bytes, config.model_libraries, retired_words(config.retired)):
        return [], False
    try:
        module = cst.parse_module(source)
    except Exception as exc:  # a file that does not parse is a finding, never a crash
        return [_syntax_error(exc, source)], True
    try:
        raw = Checker(settings.rules(loader), config).run(module)
    except RecursionError:
        return [(1, 1, "SK999", "file is nested too deeply for the audit to check; simplify it")], True
    findings: list[Raw] = []
    text = source if isinstance(source, str) else source.decode(module.encoding, errors="replace")
    if raw:
        places = locate(module, text, [(node, chain) for node, _, _, chain in raw])
        seen = set()
        for (line, column), (_, rule, message, _) in zip(places, raw):
            if (line, column, rule) not in seen:
                seen.add((line, column, rule))
                findings.append((line, column, rule, message))
    if MARKER in raw_bytes:
        findings = apply_suppressions(findings, text, SUPPRESSIBLE)
    return sorted(findings), True


def audit_bytes(data: bytes, settings: Settings, *, loader: bool, notebook: bool) -> FileResult:
    """Audit a file's bytes; notebooks are mapped back to (cell, line)."""
    if not notebook:
        raw, parsed = audit_python(data, settings, loader=loader)
        return FileResult([(*f, None) for f in raw], parsed)
    try:
        source, line_map = notebook_source(data)
    except NotebookError as exc:
        return FileResult([(1, 1, "SK999", f"{exc}; the audit cannot check it", None)], True)
    raw, parsed = audit_python(source, settings, loader=loader)
    out = []
    for line, column, rule, message in raw:
        cell, cell_line = line_map[line - 1] if 0 < line <= len(line_map) else (None, line)
        out.append((cell_line, column, rule, message, cell))
    return FileResult(out, parsed)
