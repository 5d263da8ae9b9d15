"""JSONL records survive crashes: torn tails are dropped, bad lines are named."""

import json

import pytest

from stage1kit.records import RecordError, RecordWriter, read_records, write_records_atomic


def test_torn_last_line_is_ignored_and_cut_before_appending(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text('{"id": "a"}\n{"id": "b"}\n{"id": "c", "te', encoding="utf-8")
    assert [r["id"] for r in read_records(path)] == ["a", "b"]
    with RecordWriter(path) as writer:
        writer.write({"id": "c"})
    assert [r["id"] for r in read_records(path)] == ["a", "b", "c"]
    assert path.read_text(encoding="utf-8").count("\n") == 3


def test_bad_line_in_the_middle_names_file_and_line(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text('{"id": "a"}\nnot json\n{"id": "b"}\n', encoding="utf-8")
    with pytest.raises(RecordError, match=r"data.jsonl:2: not valid JSON"):
        read_records(path)


def test_non_object_record_is_rejected(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text('["a", "b"]\n', encoding="utf-8")
    with pytest.raises(RecordError, match="expected a JSON object"):
        read_records(path)


def test_atomic_write_replaces_whole_file(tmp_path):
    path = tmp_path / "out.jsonl"
    write_records_atomic(path, [{"id": 1}, {"id": 2}])
    write_records_atomic(path, [{"id": 3}])
    assert [json.loads(line) for line in path.read_text().splitlines()] == [{"id": 3}]
    assert list(tmp_path.iterdir()) == [path]  # no temp files left behind
