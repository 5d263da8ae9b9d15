"""Audit one Python source with libcst: parse, walk, locate, suppress.

Only reached for files the prefilter could not clear, so libcst is imported here and nowhere on
the cheap path.
"""

from __future__ import annotations

import io
import tokenize
import warnings

import libcst as cst

from .checker import Checker
from .config import AuditConfig
from .pieces import Chunk, mentions, split_chunks
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


class _PieceDoesNotParse(Exception):
    """A textual split landed inside a string or bracket: parse the whole file instead."""


def _parse_piece(text: str) -> cst.Module:
    try:
        return cst.parse_module(text)
    except Exception as exc:
        raise _PieceDoesNotParse from exc


def _check_pieces(
    chunks: list[Chunk], words: frozenset[str], config: AuditConfig, loader: bool
) -> list[tuple[int, int, str, str]]:
    """Findings of a file checked piece by piece, skipping top-level definitions that cannot matter."""
    checker = Checker(active_rules(config, loader=loader), config)
    parsed: dict[int, cst.Module] = {}
    for index, chunk in enumerate(chunks):
        if chunk.name is None or mentions(chunk.text, words):
            parsed[index] = module = _parse_piece(chunk.text)
            checker.prebind(module)
    aliases = checker.resolver.interesting_names(words) - {c.name for c in chunks}
    if aliases:
        for index, chunk in enumerate(chunks):
            if index not in parsed and mentions(chunk.text, aliases):
                parsed[index] = _parse_piece(chunk.text)
    # A class resolves to its bases (a local subclass of a model class loads like one), which only
    # its header tells: parse the classes that the parsed pieces name.
    texts = [chunks[i].text for i in parsed]
    for index, chunk in enumerate(chunks):
        if index not in parsed and chunk.is_class and any(chunk.name in t for t in texts):
            parsed[index] = _parse_piece(chunk.text)
    for index, chunk in enumerate(chunks):
        if index in parsed:
            checker.walk_module(parsed[index], index)
        elif chunk.is_class:
            checker.resolver.bind_names([chunk.name])  # not named in any parsed piece: never resolved
        else:
            checker.resolver.bind_function(chunk.name)  # what walking the definition would bind
    found: list[tuple[int, int, str, str]] = []
    for index, module in parsed.items():
        raw = [r for r in checker.raw if r[4] == index]
        if raw:
            places = locate(module, chunks[index].text, [(node, chain) for node, _, _, chain, _ in raw])
            offset = chunks[index].line - 1
            found += [(line + offset, column, r[1], r[2]) for (line, column), r in zip(places, raw, strict=True)]
    return found


def _check_module(module: cst.Module, text: str, config: AuditConfig, loader: bool) -> list[tuple[int, int, str, str]]:
    raw = Checker(active_rules(config, loader=loader), config).run(module)
    if not raw:
        return []
    places = locate(module, text, [(node, chain) for node, _, _, chain, _ in raw])
    return [(line, column, r[1], r[2]) for (line, column), r in zip(places, raw, strict=True)]


def _decode(source: bytes) -> str:
    encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
    return source.decode(encoding)


def analyse_source(
    source: bytes | str, config: AuditConfig, *, loader: bool, words: frozenset[str] | None = None
) -> list[Raw]:
    """Sorted (line, column, rule, message) findings for one Python source.

    ``words`` (from the prefilter) allows checking piece by piece; None checks the whole module.
    """
    found: list[tuple[int, int, str, str]] | None = None
    text: str | None = None
    try:
        if words is not None:
            text = source if isinstance(source, str) else _decode(source)
            chunks = split_chunks(text)
            if any(c.name for c in chunks):
                found = _check_pieces(chunks, words, config, loader)
        if found is None:
            try:
                module = cst.parse_module(source)
            except Exception as exc:  # a file that does not parse is a finding, never a crash
                return [_syntax_error(exc, source)]
            if text is None:
                text = source if isinstance(source, str) else source.decode(module.encoding, errors="replace")
            found = _check_module(module, text, config, loader)
    except (_PieceDoesNotParse, UnicodeDecodeError, SyntaxError, LookupError):
        return analyse_source(source, config, loader=loader, words=None)
    except RecursionError:
        return [(1, 1, "SK999", "file is nested too deeply for the audit to check; simplify it")]
    findings = sorted(set(found))
    if MARKER in (source.encode() if isinstance(source, str) else source):
        findings = apply_suppressions(findings, text, SUPPRESSIBLE)
    return sorted(findings)
