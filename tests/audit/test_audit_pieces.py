"""Splitting a module at top-level definitions: lossless, decorators kept with their definition."""

from __future__ import annotations

from stage1kit_audit.pieces import split_chunks

SOURCE = '''import os

@decorator(
    option=1,
)
@other
def first():
    return 1
# a comment between definitions

class Second:
    x = 1
VALUE = 2
def third(
a):
    pass
'''


def test_chunks_join_back_to_the_source_with_their_start_lines() -> None:
    chunks = split_chunks(SOURCE)
    assert "".join(c.text for c in chunks) == SOURCE
    lines = SOURCE.split("\n")
    for chunk in chunks:
        assert lines[chunk.line - 1] == chunk.text.split("\n")[0]


def test_only_whole_definitions_are_skippable() -> None:
    names = [c.name for c in split_chunks(SOURCE)]
    # module code; decorated first(); Second is followed by module code; third's header spans lines
    assert names == [None, "first", None, None]
