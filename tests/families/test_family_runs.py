"""The whole pipeline, `stage1kit run`, on a tiny checkpoint of every base family the kit reproduces."""

import json

import pytest
from click.testing import CliRunner

from stage1kit.cli import cli
from stage1kit.manifest import verify_manifest
from stage1kit.records import read_records
from stage1kit.sampling import LENGTH, STOP_STRING
from stage1kit.testing_families import family

from conftest import FAMILY_NAMES
from family_helpers import small_config


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_whole_pipeline_runs_on_every_family(name, family_dir, tmp_path):
    fam = family(name)
    config = small_config(tmp_path, family_dir(name))
    result = CliRunner().invoke(cli, ["run", str(config), "--quiet"])
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    for stage in ("instructions", "responses", "judgements", "sft", "dpo"):
        assert verify_manifest(run / f"{stage}.manifest.json") == [], stage
    assert (run / "train-dpo" / "adapter_config.json").exists()
    assert json.loads((run / "eval" / "report.json").read_text())["evaluators"]
    # every candidate says what ended it: EOS, one of the family's turn-ending tokens, a special
    # token it was cut at, the stop string, or the length limit
    responses = read_records(run / "responses.jsonl")
    allowed = {fam.eos, *fam.turn_end, STOP_STRING, LENGTH}
    for record in responses:
        for stopped, cut in zip(record["stopped_by"], record["cut_at_special"]):
            assert stopped in allowed or stopped == cut, (stopped, cut)
    model = json.loads((run / "responses.manifest.json").read_text())["model"]
    assert set(model["chat_special_tokens"]) == set(fam.chat_special_tokens)  # held, recorded, never encoded from data
    assert set(model["stop_tokens"]) == {fam.eos, *fam.turn_end}
