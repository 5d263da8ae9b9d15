"""Decide, without walking a syntax tree, whether a file can possibly produce a finding.

Two cheap stages, each sound with respect to the rules (a file they skip has no finding):

1. *Bytes*: every rule needs some word in the source: the name of a load method or callable, a
   template key, a reflective builtin, ``role`` and ``content``, a suppression marker, a retired
   name. A file that contains none of them (and compiles: a syntax error is a finding) is skipped.
   (Aliases do not escape this: an alias is introduced by an import or assignment that spells the
   original name.)
2. *Compiled names*: CPython's compiler (C, faster than building and walking a tree) lists every
   identifier a module uses (``co_names``: globals, attributes, imported names) and its constants
   (string literals, keyword-argument names). Words that appear only in comments or docstrings are
   not identifiers, and most docstring mentions of ``from_pretrained`` end here. Rules that need a
   library (``torch.load``) also need that library's name among them, because resolution starts at
   an import or an ``import_module`` literal.

   A shortcut comes first: the same test over the tokens of the code's text with comments and
   plain triple-quoted strings (docstrings) stripped by one regex pass. Its tokens hold at least the
   compiled names, so when it already shows a possible finding the file goes straight to the
   analysis, which parses it anyway; only the other files pay the compile.

Code after an unconditional ``return``/``raise`` can lose its constants in the compiler; it can
never run, and the audit does not promise findings there.
"""

from __future__ import annotations

import re
import types
import warnings
from collections.abc import Iterable

from .vocabulary import LOAD_CALLABLES, LOAD_METHODS, MARKER, TEMPLATE_CALLS, TEMPLATE_KEYS, retired_needles

_TEMPLATE_WORDS = TEMPLATE_CALLS | TEMPLATE_KEYS
_BUILTIN_CALLS = ("exec", "eval", "getattr", "setattr", "delattr", "__import__")

# Stage 1: any of these as bytes means "look closer".
WORDS: tuple[bytes, ...] = tuple(
    sorted(
        {w.encode() for w in LOAD_METHODS}
        | {leaf.encode() for _, leaf in LOAD_CALLABLES}
        | {b"chat_template", b"trust_remote_code", b"Trainer", b"import_module", b"__import__",
           b"exec", b"eval", b"modules", b"getattr", b"setattr", b"delattr", b"role"}
    )
)
_DOTTED = re.compile(r"[A-Za-z_][\w.]*\Z")
# ``getattr(obj, "name"`` / ``setattr(obj.attr, 'name',``: a plain literal name, which SK300 allows.
_LITERAL_NAME_CALL = re.compile(
    rb"""\s*\(\s*[\w.]+\s*,\s*[rRuU]?(?:"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')\s*[,)]"""
)
ALL_WORDS = frozenset(w.decode() for w in WORDS)
# An escape that can spell a letter (``"\\x63hat_template"``) hides a word from the byte search; the
# compiled constants hold the evaluated strings, so such a file goes on to stage 2.
_LETTER_ESCAPE = re.compile(rb"\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|N\{|[0-7]{1,3})")
_BUILTIN_WORD = re.compile(rb"\b(?:exec|eval|getattr|setattr|delattr)\b")


def retired_words(retired: Iterable[str]) -> tuple[bytes, ...]:
    """The words whose presence forces a parse when retired components are configured."""
    out = set()
    for entry in retired:
        texts, modules = retired_needles(entry)
        out.update(t.encode() for t in texts)
        out.update(m.rsplit(".", 1)[-1].encode() for m in modules)
    return tuple(sorted(out))


def _code_words(code: types.CodeType, names: set[str], consts: set[str]) -> None:
    names.update(code.co_names)
    # Parameters and locals: ``def f(x, apply_chat_template): apply_chat_template(x)``.
    names.update(code.co_varnames)
    names.update(code.co_cellvars)
    for const in code.co_consts:
        if type(const) is str:
            consts.add(const)
        elif type(const) is tuple:
            consts.update(c for c in const if type(c) is str)
        elif isinstance(const, types.CodeType):
            _code_words(const, names, consts)


def compiled_words(source: bytes) -> tuple[set[str], set[str]] | None:
    """(identifiers, string constants) of ``source``, or None when it does not compile."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            code = compile(source, "<audit>", "exec", dont_inherit=True, optimize=0)
    except Exception:  # SyntaxError, ValueError (null bytes), RecursionError, MemoryError...
        return None
    names: set[str] = set()
    consts: set[str] = set()
    _code_words(code, names, consts)
    return names, consts


def _builtin_position(source: bytes) -> set[str]:
    """Which of ``exec``/``eval``/``getattr``... appear other than right after a ``.``.

    A ``getattr``/``setattr``/``delattr`` call whose name argument is a plain string literal does
    not count: SK300 only reports computed names.
    """
    found = set()
    for match in _BUILTIN_WORD.finditer(source):
        word = match.group().decode()
        if word in found:
            continue
        index = match.start() - 1
        while index >= 0 and source[index] in b" \t\r\n\\(":
            index -= 1
        if index >= 0 and source[index] == 0x2E:  # "." : an attribute, not the builtin
            continue
        if word.endswith("attr") and _LITERAL_NAME_CALL.match(source, match.end()):
            continue
        found.add(word)
    return found


def relevant_words(names: set[str], consts: set[str], libraries: Iterable[str], source: bytes) -> set[str]:
    """Stage 2 over the compiled identifiers and constants: the words of the findings still possible.

    Empty means none is possible. The words also tell :mod:`stage1kit_audit.analyze` which top-level
    functions and classes are worth parsing.
    """
    words = names | consts
    # Resolution starts from an import (a name) or an ``import_module`` literal (a dotted string).
    roots = {w.split(".", 1)[0] for w in names}
    roots.update(c.split(".", 1)[0] for c in consts if _DOTTED.match(c))
    out: set[str] = set()
    if words & LOAD_METHODS:
        out |= LOAD_METHODS
    if words & _TEMPLATE_WORDS:
        out.add("chat_template")
    if "trust_remote_code" in words:
        out.add("trust_remote_code")
    if "role" in consts and "content" in consts:
        out.add("role")
    out.update(leaf for pkg, leaf in LOAD_CALLABLES if leaf in words and pkg in roots)
    if "trl" in roots and any(n.endswith("Trainer") for n in names):
        out.add("Trainer")
    if "import_module" in names or "__import__" in names:
        out |= {"import_module", "__import__"}
    if "modules" in names and "sys" in roots:
        out.add("modules")
    builtin_names = names.intersection(_BUILTIN_CALLS)
    if builtin_names:
        if "builtins" not in roots:
            builtin_names &= _builtin_position(source) | {"__import__"}
        out |= builtin_names & {"exec", "eval"}
        if builtin_names - {"exec", "eval"} and roots & set(libraries):
            out |= builtin_names - {"exec", "eval"}
    return out


# Stage 2 shortcut: comments and unprefixed triple-quoted strings (the docstrings) removed from the
# text; other strings kept (an f-string holds code). Literals side by side or joined by ``+`` are also
# read joined. Every alternative starts with a quote or ``#``, which keeps the scan fast.
_TRIPLE = rb'''(?:"""[^"\\]*(?:(?:\\.|"(?!""))[^"\\]*)*"""|\'\'\'[^'\\]*(?:(?:\\.|'(?!''))[^'\\]*)*\'\'\')'''
_SINGLE = rb'''(?:"[^"\\\n]*(?:\\.[^"\\\n]*)*"|'[^'\\\n]*(?:\\.[^'\\\n]*)*')'''
_NOISE = re.compile(
    rb"(?P<p>(?<=[A-Za-z])" + _TRIPLE + rb")"  # a prefixed (f, r, b) triple-quoted string: kept
    + rb"|" + _TRIPLE  # a plain one: a docstring in practice, dropped
    + rb"|(?P<s>" + _SINGLE + rb")"  # one-line strings: kept
    + rb"|\#[^\r\n]*",  # a comment, dropped
    re.S,
)
_JOINED = re.compile(rb"""(['"])\s*\+?\s*[rRuU]?(['"])""")
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def code_words(source: bytes, libraries: Iterable[str]) -> set[str]:
    """The words of possible findings, from the code's text without comments and docstrings.

    A cheap, coarser stand-in for the compiled names: every identifier-like token of the code and
    its one-line strings counts as both a name and a constant, so it finds at least what
    :func:`relevant_words` finds in the compiled code (triple-quoted strings aside, which are
    docstrings in practice). Used only to send a file to the analysis sooner; an empty answer
    falls back to the compiler.
    """
    code = _NOISE.sub(rb"\g<p>\g<s>", source)
    tokens = set(_TOKEN.findall(code.decode("latin-1")))  # ASCII words: any 8-bit decoding will do
    found = relevant_words(tokens, tokens, libraries, code)
    if not found:  # words split over literals ("chat_" "template") read joined
        tokens.update(_TOKEN.findall(_JOINED.sub(b"", code).decode("latin-1")))
        found = relevant_words(tokens, tokens, libraries, code)
    return found


def parse_words(source: bytes, libraries: Iterable[str], forced: tuple[bytes, ...] = ()) -> frozenset[str] | None:
    """None when the file provably has no finding; else the words findings may hang on
    (``ALL_WORDS`` when unknown). ``forced`` words (retired names) always mean parse.

    A file whose code text already shows a possible finding goes straight to the analysis (which
    parses it anyway and reports a syntax error itself); any other file is compiled, which tells
    exactly, and reports syntax errors, at the cost of a compile.
    """
    present = [word.decode() for word in forced if word in source]
    marked = MARKER in source
    if not marked and any(word in source for word in WORDS) and not _LETTER_ESCAPE.search(source):
        quick = code_words(source, libraries)
        if quick:
            return frozenset(quick | set(present))
    compiled = compiled_words(source)
    if compiled is None:
        return ALL_WORDS  # let the analysis report the syntax error
    if not (marked or present or any(word in source for word in WORDS) or _LETTER_ESCAPE.search(source)):
        return None
    words = relevant_words(*compiled, libraries, source) | set(present)
    if words or marked:
        return frozenset(words)
    return None


def needs_parse(source: bytes, libraries: Iterable[str], forced: tuple[bytes, ...] = ()) -> bool:
    """True unless the file provably has no finding."""
    return parse_words(source, libraries, forced) is not None
