"""Check one file's bytes: notebook extraction, prefilter, then (only if needed) the full analysis.

Pure function of (bytes, settings), so results can be cached by content hash and computed in
worker processes. Imports nothing heavy until a file really needs parsing.
"""

from __future__ import annotations

from .config import AuditConfig
from .notebook import NotebookError, notebook_source
from .prefilter import ALL_WORDS, parse_words, retired_words

# (line, column, rule, message, code cell or None, line within that cell or None)
Found = tuple[int, int, str, str, "int | None", "int | None"]


def check_source(
    source: bytes | str, config: AuditConfig, *, loader: bool, prefilter: bool = True
) -> tuple[list[tuple[int, int, str, str]], bool]:
    """(findings, whether it was parsed and walked) for one Python source."""
    raw = source.encode("utf-8") if isinstance(source, str) else source
    words = None
    if prefilter:
        words = parse_words(raw, config.model_libraries, retired_words(config.retired))
        if words is None:
            return [], False
        if words is ALL_WORDS:  # it did not compile: check it whole (and report the syntax error)
            words = None
    from .analyze import analyse_source

    return analyse_source(source, config, loader=loader, words=words), True


def check_bytes(data: bytes, config: AuditConfig, *, loader: bool, notebook: bool) -> tuple[list[Found], bool]:
    """(findings, parsed) for a file's bytes.

    A notebook finding is placed on the line and column of the ``.ipynb`` file (what SARIF and
    GitHub annotations point at) and carries its code cell and the line within that cell.
    """
    if not notebook:
        found, parsed = check_source(data, config, loader=loader)
        return [(*f, None, None) for f in found], parsed
    try:
        source, line_map = notebook_source(data)
    except NotebookError as exc:
        return [(1, 1, "SK999", f"{exc}; the audit cannot check it", None, None)], False
    found, parsed = check_source(source, config, loader=loader)
    out: list[Found] = []
    for line, column, rule, message in found:
        if not 0 < line <= len(line_map):
            out.append((1, 1, rule, message, None, None))
            continue
        where = line_map[line - 1]
        file_column = where.column_in_file(column)
        out.append((where.file_line or 1, file_column or 1, rule, message, where.cell, where.cell_line))
    return out, parsed
