"""Line and column of flagged nodes, without libcst's PositionProvider over the whole module.

libcst nodes carry no positions; its provider re-generates the code of the entire module (and
re-visits it), which costs more than the parse. Findings are rare, so instead: CPython's ``ast``
(a C parser) gives the line of each statement; we descend through classes and functions to the
innermost statement holding a finding and generate positions for that statement alone. A check
against the source falls back to the full provider if anything disagrees.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider
from libcst.metadata.position_provider import PositionProvidingCodegenState

Chain = tuple[cst.CSTNode, ...]
_DESCEND = (cst.ClassDef, cst.FunctionDef)


def _ast_index(body: Sequence[cst.CSTNode], statement: cst.CSTNode) -> int:
    """Index in the ast body of ``statement``: ``a; b`` is one libcst line but two ast statements."""
    index = 0
    for item in body:
        if item is statement:
            return index
        index += len(item.body) if isinstance(item, cst.SimpleStatementLine) else 1
    raise LookupError("statement not in body")


def _start_line(statement: cst.CSTNode, node: ast.stmt) -> int:
    """First line of ``statement`` including its leading blank/comment lines and decorators."""
    decorators = getattr(statement, "decorators", ())
    if decorators:
        first = min(d.lineno for d in node.decorator_list)  # type: ignore[attr-defined]
        return first - len(decorators[0].leading_lines) - len(statement.leading_lines)
    return node.lineno - len(statement.leading_lines)  # type: ignore[attr-defined]


class _Locator:
    def __init__(self, module: cst.Module, source: str) -> None:
        self.module = module
        self.lines = source.splitlines(keepends=True)
        self.tree = ast.parse(source)
        self._statement_positions: dict[int, tuple[int, dict]] = {}

    def innermost(self, chain: Chain) -> tuple[cst.CSTNode, int, list[str]]:
        """(statement, absolute first line, indents) for the deepest statement we can place."""
        body: Sequence[cst.CSTNode] = self.module.body
        ast_body: list[ast.stmt] = self.tree.body
        indents: list[str] = []
        for depth, statement in enumerate(chain):
            node = ast_body[_ast_index(body, statement)]
            deeper = depth + 1 < len(chain)
            if deeper and isinstance(statement, _DESCEND) and isinstance(statement.body, cst.IndentedBlock):
                block = statement.body
                indents.append(self.module.default_indent if block.indent is None else block.indent)
                body, ast_body = block.body, node.body  # type: ignore[attr-defined]
                continue
            return statement, _start_line(statement, node), indents
        raise LookupError("empty statement chain")

    def positions(self, statement: cst.CSTNode, start: int, indents: list[str]) -> dict:
        cached = self._statement_positions.get(id(statement))
        if cached is not None:
            return cached[1]
        provider = PositionProvider()
        state = PositionProvidingCodegenState(
            default_indent=self.module.default_indent,
            default_newline=self.module.default_newline,
            provider=provider,
        )
        state.indent_tokens = list(indents)
        statement._codegen(state)
        text = "".join(state.tokens)
        expected = "".join(self.lines[start - 1 : start - 1 + len(text.splitlines())])
        if text.rstrip("\r\n") != expected.rstrip("\r\n"):
            raise LookupError("statement text does not match the source")
        computed = provider._computed
        self._statement_positions[id(statement)] = (start, computed)
        return computed


def locate(module: cst.Module, source: str, found: list[tuple[cst.CSTNode, Chain]]) -> list[tuple[int, int]]:
    """1-based (line, column) for each (node, statement chain) in ``found``."""
    try:
        locator = _Locator(module, source)
        out = []
        for node, chain in found:
            statement, start, indents = locator.innermost(chain)
            position = locator.positions(statement, start, indents)[node].start
            out.append((start + position.line - 1, position.column + 1))
        return out
    except (LookupError, SyntaxError, ValueError, KeyError, AttributeError, IndexError):
        positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
        return [(positions[node].start.line, positions[node].start.column + 1) for node, _ in found]
