"""Jupyter notebooks: the code cells as one Python source, with a map back to the ``.ipynb`` file.

Findings in a notebook are placed on the line of the ``.ipynb`` file that holds the source line
(what SARIF viewers and GitHub annotations show), and also name the code cell and its line.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass

# IPython line magics, shell escapes, help requests and ``x = !cmd`` / ``x = %magic`` are not
# Python; they become ``pass`` (and lines continuing them with a trailing ``\`` become blank).
_MAGIC = re.compile(r"^(\s*)(?:[%!]|\?|\w[\w.]*\?{1,2}\s*$|[\w.]+(?:\s*,\s*[\w.]+)*\s*=\s*[%!])")
_SOURCE_KEY = re.compile(r'"source"\s*:\s*')
_DECODER = json.JSONDecoder()


class NotebookError(ValueError):
    """The file is not a readable notebook."""


@dataclass(frozen=True)
class SourceLine:
    """Where one line of the extracted program comes from.

    ``file_line`` is the 1-based line of the ``.ipynb`` file holding it and ``file_column`` the
    0-based column of its first character there (after the JSON string's opening quote); both are
    None when the notebook's layout could not be matched (the cell line is then all we know).
    """

    cell: int
    cell_line: int
    file_line: int | None = None
    file_column: int | None = None
    text: str = ""

    def column_in_file(self, column: int) -> int | None:
        """The 1-based column in the ``.ipynb`` file of the 1-based ``column`` of this line."""
        if self.file_column is None:
            return None
        encoded = json.dumps(self.text[: column - 1], ensure_ascii=False)
        return self.file_column + len(encoded) - 2 + 1


def _source_lines(cell: dict) -> list[str]:
    source = cell.get("source", "")
    return list(source) if isinstance(source, list) else [str(source)]


def _locate_sources(text: str, cells: list) -> list[list[tuple[int, int]] | None]:
    """Per cell, the (character offset, line offset) of each element of its ``source`` list.

    Scans for ``"source":`` keys in order and checks each decoded value against the cell, so a
    key elsewhere (in metadata, say) is skipped. None for a cell whose source was not found.
    """
    out: list[list[tuple[int, int]] | None] = []
    position = 0
    for cell in cells:
        found = None
        expected = cell.get("source") if isinstance(cell, dict) else None
        for match in _SOURCE_KEY.finditer(text, position):
            start = match.end()
            try:
                value, end = _DECODER.raw_decode(text, start)
            except ValueError:
                continue
            if value == expected:
                found = _element_offsets(text, start, value)
                position = end
                break
        out.append(found)
    return out


def _element_offsets(text: str, start: int, value: object) -> list[tuple[int, int]]:
    """Offsets of the strings of a JSON array at ``start`` (a plain string: one offset)."""
    if isinstance(value, str):
        return [(start, 0)]
    offsets = []
    index = start + 1  # past "["
    for _ in value:  # type: ignore[attr-defined]
        while text[index] in " \t\r\n,":
            index += 1
        offsets.append((index, 0))
        _, index = _DECODER.raw_decode(text, index)
    return offsets


def notebook_source(raw: bytes) -> tuple[str, list[SourceLine]]:
    """(source, line_map): ``line_map[i]`` says where line ``i + 1`` of the source comes from."""
    try:
        text = raw.decode("utf-8")
        data = json.loads(text)
        cells = data["cells"]
        if not isinstance(cells, list):
            raise TypeError("'cells' is not a list")
    except (ValueError, KeyError, TypeError) as exc:
        raise NotebookError(f"not a readable notebook: {exc}") from None
    places = _locate_sources(text, cells)
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    lines: list[str] = []
    line_map: list[SourceLine] = []
    code_cell = 0
    for cell, place in zip(cells, places, strict=True):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        code_cell += 1
        elements = _source_lines(cell)
        body = "".join(elements)
        if body.lstrip().startswith("%%"):
            continue  # a cell magic: the whole cell is another language
        located = _split_lines(elements, place, text, starts)
        continued = False
        for number, (line, (file_line, file_column)) in enumerate(zip(body.splitlines(), located, strict=False), 1):
            magic = _MAGIC.match(line)
            if continued:
                lines.append("")  # the rest of a shell command continued with "\"
            else:
                lines.append(f"{magic.group(1)}pass" if magic else line)
            continued = (continued or magic is not None) and line.rstrip().endswith("\\")
            line_map.append(SourceLine(code_cell, number, file_line, file_column, line))
    return "\n".join(lines) + "\n", line_map


def _split_lines(
    elements: list[str], place: list[tuple[int, int]] | None, text: str, starts: list[int]
) -> list[tuple[int | None, int | None]]:
    """(file line, 0-based file column of the line's first character) for each line of the cell.

    Known when the cell's ``source`` is the usual list of one line per string; otherwise unknown.
    """
    count = len("".join(elements).splitlines())
    one_per_string = all(e.count("\n") == (1 if i < len(elements) - 1 else e.endswith("\n"))
                         and (e.endswith("\n") or i == len(elements) - 1) for i, e in enumerate(elements))
    if place is None or len(place) != len(elements) or not one_per_string:
        return [(None, None)] * count
    out: list[tuple[int | None, int | None]] = []
    for offset, _ in place:
        line_index = bisect.bisect_right(starts, offset) - 1
        out.append((line_index + 1, offset - starts[line_index] + 1))
    return out[:count]
