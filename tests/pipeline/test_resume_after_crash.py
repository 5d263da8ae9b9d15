"""A stage that crashed part-way resumes only when it would continue the same work: same config,
same inputs. Otherwise its partial records are discarded, never mixed into a different run."""

import pytest
from click.testing import CliRunner

from stage1kit.cli import cli
from stage1kit.records import RecordWriter, read_records


def _run(config_path):
    return CliRunner().invoke(cli, ["run", str(config_path), "--quiet", "--until", "instructions"])


def _crash_after(monkeypatch, writes):
    """Make the n-th record write raise, as a crash in the middle of the stage would."""
    original, count = RecordWriter.write, []

    def write(self, record):
        if len(count) >= writes:
            raise RuntimeError("simulated crash")
        count.append(1)
        original(self, record)

    monkeypatch.setattr(RecordWriter, "write", write)


def _strip(records):
    return [{k: v for k, v in r.items() if k != "provenance"} for r in records]


@pytest.mark.slow
def test_crashed_stage_resumes_with_the_same_config_and_restarts_with_another(config_path, edit, monkeypatch):
    data = config_path.parent / "run" / "instructions.jsonl"
    staged = config_path.parent / "run" / "instructions.partial.jsonl"  # where the stage writes until complete
    assert _run(config_path).exit_code == 0
    reference = read_records(data)
    data.unlink()
    (config_path.parent / "run" / "instructions.manifest.json").unlink()

    with monkeypatch.context() as patch:
        _crash_after(patch, 3)
        crashed = _run(config_path)
    assert crashed.exit_code != 0 and len(read_records(staged)) == 3 and not data.exists()
    assert _run(config_path).exit_code == 0
    assert _strip(read_records(data)) == _strip(reference)  # resumed: same config, same work

    text = config_path.read_text()
    data.unlink()
    (config_path.parent / "run" / "instructions.manifest.json").unlink()
    with monkeypatch.context() as patch:
        _crash_after(patch, 3)
        assert _run(config_path).exit_code != 0
    partial = read_records(staged)
    assert len(partial) == 3
    start = text.index("[instructions]")
    edit(config_path, text[start:].split("seed = 0", 1)[0] + "seed = 0", text[start:].split("seed = 0", 1)[0] + "seed = 1")
    assert _run(config_path).exit_code == 0
    records = read_records(data)
    assert {r["provenance"]["seed"] for r in records} == {1}  # nothing of the crashed seed-0 run is left
