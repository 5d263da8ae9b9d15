"""In-progress markers: partial records are resumed only by a run started the same way."""

from stage1kit.records import read_records, write_records_atomic
from stage1kit.resume import finish_output, progress_marker, start_output

CONFIG = {"stage": "responses", "settings": {"k": 4, "seed": 0}}


def _partial(tmp_path):
    source = tmp_path / "instructions.jsonl"
    write_records_atomic(source, [{"id": "ins_1", "instruction": "Name a colour."}])
    output = tmp_path / "responses.jsonl"
    assert start_output(output, config=CONFIG, inputs=[source]) is False
    write_records_atomic(output, [{"id": "res_ins_1", "instruction_id": "ins_1"}])  # then a crash
    return source, output


def test_same_config_and_inputs_resume(tmp_path):
    source, output = _partial(tmp_path)
    assert start_output(output, config=CONFIG, inputs=[source]) is False
    assert len(read_records(output)) == 1


def test_another_config_discards_the_partial_records(tmp_path):
    source, output = _partial(tmp_path)
    assert start_output(output, config=CONFIG | {"settings": {"k": 4, "seed": 1}}, inputs=[source]) is True
    assert not output.exists()


def test_changed_inputs_discard_the_partial_records(tmp_path):
    source, output = _partial(tmp_path)
    write_records_atomic(source, [{"id": "ins_2", "instruction": "Name a fruit."}])
    assert start_output(output, config=CONFIG, inputs=[source]) is True


def test_a_finished_output_is_never_discarded_and_leaves_no_marker(tmp_path):
    source, output = _partial(tmp_path)
    output.with_suffix(".manifest.json").write_text("{}")  # the stage finished
    finish_output(output)
    assert not progress_marker(output).exists()
    assert start_output(output, config=CONFIG | {"settings": {"seed": 9}}, inputs=[source]) is False
    assert output.exists()
