"""Jupyter notebooks: the code cells as one Python source, with a map back to cell and line."""

from __future__ import annotations

import json
import re

# IPython line magics, shell escapes and help requests are not Python; they become ``pass``.
_MAGIC = re.compile(r"^(\s*)(?:[%!]|\?|\w[\w.]*\?{1,2}\s*$)")


class NotebookError(ValueError):
    """The file is not a readable notebook."""


def notebook_source(raw: bytes) -> tuple[str, list[tuple[int, int]]]:
    """(source, line_map): ``line_map[i]`` is the (cell, line) of source line ``i + 1``, 1-based."""
    try:
        data = json.loads(raw)
        cells = data["cells"]
    except (ValueError, KeyError, TypeError) as exc:
        raise NotebookError(f"not a readable notebook: {exc}") from None
    lines: list[str] = []
    line_map: list[tuple[int, int]] = []
    code_cell = 0
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        code_cell += 1
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        if text.lstrip().startswith("%%"):
            continue  # a cell magic: the whole cell is another language
        for number, line in enumerate(text.splitlines(), 1):
            magic = _MAGIC.match(line)
            lines.append(f"{magic.group(1)}pass" if magic else line)
            line_map.append((code_cell, number))
    return "\n".join(lines) + "\n", line_map
