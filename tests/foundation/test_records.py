"""JSONL records survive crashes: torn tails are dropped, bad lines are named."""

import json
import os
import stat

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


def test_a_torn_last_line_in_an_input_is_an_error_naming_file_and_line(tmp_path):
    from stage1kit.records import read_input_records

    path = tmp_path / "instructions.jsonl"
    path.write_text('{"id": "a"}\n{"id": "b"}\n{"id": "c", "te', encoding="utf-8")
    with pytest.raises(RecordError, match=r"instructions.jsonl:3: the last line is incomplete"):
        read_input_records(path)
    path.write_text('{"id": "a"}\n{"id": "b"}', encoding="utf-8")  # valid JSON, but cut before its newline
    with pytest.raises(RecordError, match=r"instructions.jsonl:2: .*rerun the stage that writes it"):
        read_input_records(path)
    path.write_text('{"id": "a"}\n{"id": "b"}\n', encoding="utf-8")
    assert [r["id"] for r in read_input_records(path)] == ["a", "b"]


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077], ids=["022", "002", "077"])
def test_atomic_writes_get_the_mode_a_plain_open_gives(tmp_path, umask):
    from stage1kit.records import atomic_write_text

    old = os.umask(umask)
    try:
        with open(tmp_path / "plain.txt", "w") as handle:
            handle.write("x")
        atomic_write_text(tmp_path / "report.md", "# report\n")
        write_records_atomic(tmp_path / "sft.jsonl", [{"id": 1}])
    finally:
        os.umask(old)
    expected = stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode)
    assert expected == 0o666 & ~umask
    for name in ("report.md", "sft.jsonl"):
        assert oct(stat.S_IMODE((tmp_path / name).stat().st_mode)) == oct(expected), name


def test_an_atomic_rewrite_keeps_the_mode_of_the_file_it_replaces(tmp_path):
    path = tmp_path / "sft.jsonl"
    write_records_atomic(path, [{"id": 1}])
    path.chmod(0o640)
    write_records_atomic(path, [{"id": 2}])
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_a_stage_refuses_an_upstream_file_with_a_torn_last_line(tmp_path):
    from stage1kit.stages.base import read_input

    path = tmp_path / "instructions.jsonl"
    path.write_text('{"id": "a", "instruction": "x"}\n{"id": "b", "instruction": "y"', encoding="utf-8")
    with pytest.raises(RecordError, match=r"instructions.jsonl:2: the last line is incomplete"):
        read_input(path, ("id", "instruction"), "instructions")
