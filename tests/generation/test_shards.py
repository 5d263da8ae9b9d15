"""Data-parallel shards of responses and judge: sharded == single-process, record for record; the
merge refuses what does not belong together; the local launcher runs shards as processes."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from stage1kit.cli import cli
from stage1kit.launchers import ShardFailed
from stage1kit.manifest import load_manifest
from stage1kit.records import read_records
from stage1kit.rundir import RunDir
from stage1kit.shards import ShardError, ShardSpec, merge_shards
from stage1kit.stages.catalogue import find_stage
from stage1kit.stages.responses import ResponsesSettings

from shard_helpers import RESPONSES, config_for, run_stages, write_instructions


@pytest.fixture(scope="module")
def single(tmp_path_factory, talking_model, talking_model_dir, registry):
    """The single-process run every sharded run must equal."""
    run = tmp_path_factory.mktemp("single")
    write_instructions(run)
    run_stages(config_for(run, talking_model_dir), registry, ["responses", "judge"], talking_model)
    return run


def _sharded(run, config, registry, loaded, stage, count):
    for index in range(count):
        run_stages(config, registry, [stage], loaded, shard=ShardSpec(index, count))
    return merge_shards(find_stage(stage), RunDir.at(run), count)


def test_shard_blocks_are_contiguous_and_cover_the_work_list():
    blocks = [ShardSpec(i, 3).block(7) for i in range(3)]
    assert [list(b) for b in blocks] == [[0, 1], [2, 3], [4, 5, 6]]
    assert ShardSpec.parse("2/4") == ShardSpec(2, 4) and ShardSpec(2, 4).tag == "shard-02-of-04"
    for bad in ("4/4", "1", "-1/2", "a/b"):
        with pytest.raises(ShardError, match="I/N|0 <= I < N"):
            ShardSpec.parse(bad)


def test_each_local_worker_gets_its_own_gpus(monkeypatch):
    from stage1kit.launchers import ShardFailed, gpu_groups, worker_env

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3")
    assert gpu_groups(2, 2) == ["0,1", "2,3"]
    assert gpu_groups(4, 1) == ["0", "1", "2", "3"]
    assert gpu_groups(3, 0) == [None, None, None], "gpus_per_shard = 0: the workers share the visible GPUs"
    assert worker_env("2,3", 2) == {"CUDA_VISIBLE_DEVICES": "2,3"}
    with pytest.raises(ShardFailed, match=r"shards = 3 with gpus_per_shard = 2 needs 6 GPUs; this machine has 4 \(0, 1, 2, 3\)"):
        gpu_groups(3, 2)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert gpu_groups(2, 1) == [None, None], "no GPUs: plain processes"


def test_ray_missing_is_a_config_problem(tmp_path, talking_model_dir, monkeypatch):
    import importlib.util

    from stage1kit.launchers import parallel_problems

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    [problem] = parallel_problems(config_for(tmp_path, talking_model_dir, shards=2, launcher="ray"))
    assert '[parallel] launcher = "ray": Ray is not installed; pip install "stage1kit[ray]"' in problem
    assert parallel_problems(config_for(tmp_path, talking_model_dir, shards=1, launcher="ray")) == []


def test_more_shards_than_work_items_leaves_some_empty(tmp_path, talking_model, talking_model_dir, registry):
    write_instructions(tmp_path, count=2)
    config = config_for(tmp_path, talking_model_dir)
    outcome = _sharded(tmp_path, config, registry, talking_model, "responses", 3)
    assert outcome.records_out == 2 and outcome.verdict == "pass"
    assert [r["instruction_id"] for r in read_records(tmp_path / "responses.jsonl")] == ["ins_0", "ins_1"]


@pytest.mark.parametrize("count", [2, 3])
def test_merged_shards_equal_the_single_process_run(tmp_path, single, talking_model, talking_model_dir, registry, count):
    write_instructions(tmp_path)
    config = config_for(tmp_path, talking_model_dir)
    for stage in ("responses", "judge"):
        for index in range(count):
            run_stages(config, registry, [stage], talking_model, shard=ShardSpec(index, count))
            assert (tmp_path / f"{'judgements' if stage == 'judge' else stage}.shard-0{index}-of-0{count}.jsonl").is_file()
        assert not (tmp_path / f"{stage}.jsonl").exists() or stage != "responses"
        merge_shards(find_stage(stage), RunDir.at(tmp_path), count)
    for name in ("responses", "judgements"):
        assert (tmp_path / f"{name}.jsonl").read_bytes() == (single / f"{name}.jsonl").read_bytes()
        merged, alone = load_manifest(tmp_path / f"{name}.manifest.json"), load_manifest(single / f"{name}.manifest.json")
        assert merged["config_hash"] == alone["config_hash"] and merged["verdict"] == alone["verdict"]
        assert {k: v for k, v in merged["qc"].items() if k != "generator"} == {k: v for k, v in alone["qc"].items() if k != "generator"}
    assert load_manifest(tmp_path / "responses.manifest.json")["qc"]["generator"]["accepted"] == 7
    assert not list(tmp_path.glob("*.shard-*")), "shard files go once merged"
    outcomes = run_stages(config, registry, ["responses", "judge"], talking_model)
    assert [o.skipped for o in outcomes] == [True, True], "a run after the merge finds both stages up to date"


def test_a_shard_run_that_finished_is_skipped(tmp_path, talking_model, talking_model_dir, registry):
    write_instructions(tmp_path)
    config = config_for(tmp_path, talking_model_dir)
    (first,) = run_stages(config, registry, ["responses"], talking_model, shard=ShardSpec(0, 2))
    (again,) = run_stages(config, registry, ["responses"], talking_model, shard=ShardSpec(0, 2))
    assert not first.skipped and again.skipped and again.records_out == first.records_out == 3


def test_an_interrupted_shard_resumes_and_still_equals_the_single_process_run(tmp_path, single, talking_model, talking_model_dir, registry):
    write_instructions(tmp_path)
    config = config_for(tmp_path, talking_model_dir)
    for index in range(2):
        run_stages(config, registry, ["responses"], talking_model, shard=ShardSpec(index, 2))
    data = tmp_path / "responses.shard-01-of-02.jsonl"
    first_record = data.read_text().splitlines(keepends=True)[0]
    (tmp_path / "responses.shard-01-of-02.manifest.json").unlink()
    data.unlink()
    (tmp_path / "responses.shard-01-of-02.partial.jsonl").write_text(first_record + '{"id": "res_ins_4", "instr')  # killed mid-write
    (again,) = run_stages(config, registry, ["responses"], talking_model, shard=ShardSpec(1, 2))
    assert not again.skipped
    generated = load_manifest(tmp_path / "responses.shard-01-of-02.manifest.json")["qc"]["generator"]
    assert generated["accepted"] == 3, "the written record is kept, the torn one cut, the other three sampled"
    merge_shards(find_stage("responses"), RunDir.at(tmp_path))
    assert (tmp_path / "responses.jsonl").read_bytes() == (single / "responses.jsonl").read_bytes()


def test_merge_refuses_a_missing_shard_and_keeps_what_was_written(tmp_path, talking_model, talking_model_dir, registry):
    write_instructions(tmp_path)
    config = config_for(tmp_path, talking_model_dir)
    earlier = ResponsesSettings(k=3, generator_settings=dict(RESPONSES.generator_settings))
    run_stages(config_for(tmp_path, talking_model_dir, earlier), registry, ["responses"], talking_model)  # an earlier result
    before = (tmp_path / "responses.jsonl").read_bytes()
    run_stages(config, registry, ["responses"], talking_model, shard=ShardSpec(0, 2))
    with pytest.raises(ShardError, match=r"shard 1/2 of responses is missing: no .*responses.shard-01-of-02.jsonl"):
        merge_shards(find_stage("responses"), RunDir.at(tmp_path))
    assert (tmp_path / "responses.jsonl").read_bytes() == before
    assert (tmp_path / "responses.shard-00-of-02.jsonl").is_file() and (tmp_path / "responses.shard-00-of-02.manifest.json").is_file()


def test_merge_refuses_an_unfinished_shard(tmp_path, talking_model, talking_model_dir, registry):
    write_instructions(tmp_path)
    config = config_for(tmp_path, talking_model_dir)
    for index in range(2):
        run_stages(config, registry, ["responses"], talking_model, shard=ShardSpec(index, 2))
    (tmp_path / "responses.shard-01-of-02.manifest.json").unlink()
    with pytest.raises(ShardError, match=r"shard 1/2 of responses did not finish: .*no \(readable\) manifest"):
        merge_shards(find_stage("responses"), RunDir.at(tmp_path))
    (tmp_path / "responses.shard-01-of-02.jsonl").rename(tmp_path / "responses.shard-01-of-02.partial.jsonl")  # killed mid-way
    with pytest.raises(ShardError, match=r"shard 1/2 of responses did not finish: only responses.shard-01-of-02.partial.jsonl is there"):
        merge_shards(find_stage("responses"), RunDir.at(tmp_path))


def test_merge_refuses_shards_of_different_settings_naming_the_field(tmp_path, talking_model, talking_model_dir, registry):
    write_instructions(tmp_path)
    run_stages(config_for(tmp_path, talking_model_dir), registry, ["responses"], talking_model, shard=ShardSpec(0, 2))
    other = ResponsesSettings(k=3, generator_settings=dict(RESPONSES.generator_settings))
    run_stages(config_for(tmp_path, talking_model_dir, other), registry, ["responses"], talking_model, shard=ShardSpec(1, 2))
    with pytest.raises(ShardError, match=r"shard 1/2 of responses \(responses.shard-01-of-02.manifest.json\): field 'config_hash' differs .*settings.k"):
        merge_shards(find_stage("responses"), RunDir.at(tmp_path))
    assert not (tmp_path / "responses.jsonl").exists()


def test_merge_refuses_shards_made_from_other_inputs(tmp_path, talking_model, talking_model_dir, registry):
    write_instructions(tmp_path)
    config = config_for(tmp_path, talking_model_dir)
    for index in range(2):
        run_stages(config, registry, ["responses"], talking_model, shard=ShardSpec(index, 2))
    write_instructions(tmp_path, count=8)
    with pytest.raises(ShardError, match=r"shard 0/2 of responses \(responses.shard-00-of-02.jsonl\) is out of date: input instructions.jsonl changed"):
        merge_shards(find_stage("responses"), RunDir.at(tmp_path))


def test_shard_and_merge_commands(tmp_path, single, talking_model_dir):
    write_instructions(tmp_path)
    runner = CliRunner()
    common = ["--run-dir", str(tmp_path), "--model", str(talking_model_dir), "--quiet", "--device", "cpu", "-k", "2"]
    sets = ["--set", "max_new_tokens=6", "--set", "batch_size=1"]
    for index in range(2):
        result = runner.invoke(cli, ["responses", *common, *sets, "--shard", f"{index}/2"])
        assert result.exit_code == 0, result.output
        assert f"shard {index}/2 of responses written" in result.output
    assert not (tmp_path / "responses.jsonl").exists()
    result = runner.invoke(cli, ["merge", "responses", "--run-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "responses.jsonl").read_bytes() == (single / "responses.jsonl").read_bytes()
    again = runner.invoke(cli, ["responses", *common, *sets, "--shard", "1/2"])
    assert again.exit_code == 0 and "up to date (merged" in again.output, again.output
    assert not list(tmp_path.glob("responses.shard-*")), "a shard of a merged, up-to-date stage computes nothing"


def test_merge_applies_the_stage_thresholds_to_the_whole(tmp_path, talking_model, talking_model_dir, registry):
    write_instructions(tmp_path)
    strict = ResponsesSettings(k=2, generator_settings=dict(RESPONSES.generator_settings), thresholds={"min_instructions": 5})
    config = config_for(tmp_path, talking_model_dir, strict)
    for index in range(2):  # 3 and 4 instructions: each shard alone would miss the bar; a shard has no thresholds
        (outcome,) = run_stages(config, registry, ["responses"], talking_model, shard=ShardSpec(index, 2))
        assert outcome.verdict == "pass"
    result = CliRunner().invoke(cli, ["merge", "responses", "--run-dir", str(tmp_path)])
    assert result.exit_code == 0 and "verdict pass" in result.output, result.output
    strict.thresholds["min_instructions"] = 100
    for index in range(2):
        run_stages(config, registry, ["responses"], talking_model, shard=ShardSpec(index, 2))
    result = CliRunner().invoke(cli, ["merge", "responses", "--run-dir", str(tmp_path)])
    assert result.exit_code == 1 and "verdict FAIL" in result.output and "instructions = 7 is below min_instructions = 100" in result.output
    assert load_manifest(tmp_path / "responses.manifest.json")["verdict"]["status"] == "fail", "the data and its manifest stay"


def test_instructions_cannot_be_sharded_and_says_why(tmp_path, talking_model_dir):
    result = CliRunner().invoke(cli, ["instructions", "--run-dir", str(tmp_path), "--model", str(talking_model_dir), "--shard", "0/2"])
    assert result.exit_code == 1 and "instructions stage cannot be sharded" in result.output and "round by round" in result.output
    result = CliRunner().invoke(cli, ["merge", "responses", "--run-dir", str(tmp_path)])
    assert result.exit_code == 1 and "no shard files of responses" in result.output


@pytest.mark.slow
def test_the_local_launcher_runs_shards_as_processes_and_reruns_only_a_failed_one(tmp_path, single, talking_model_dir, registry):
    model = tmp_path / "model"
    shutil.copytree(talking_model_dir, model)
    run = tmp_path / "run"
    write_instructions(run)
    config = config_for(run, model, shards=2)
    run_stages(config, registry, ["responses"], shard=ShardSpec(0, 2))  # shard 0 finished before
    weights = next(model.glob("*.safetensors"))
    weights.rename(weights.with_suffix(".away"))  # the config and tokenizer still open: only loading fails
    with pytest.raises(ShardFailed) as failed:
        run_stages(config, registry, ["responses"])
    message = str(failed.value)
    assert "1 of 2 responses shards failed" in message and "shard 1/2: worker exited with status 1" in message
    assert "log: " + str(run / "responses.shard-01-of-02.log") in message and "    | " in message, "names the log, shows its tail"
    assert (run / "responses.shard-00-of-02.manifest.json").is_file(), "the finished shard is kept"
    weights.with_suffix(".away").rename(weights)

    # `stage1kit run` holds the run-directory lock while its workers write their shards
    toml = tmp_path / "run.toml"
    toml.write_text(RUN_TOML.format(model=model))
    result = CliRunner().invoke(cli, ["run", str(toml), "--from", "responses", "--until", "judge", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "[responses] 2 shards on the local launcher (1 already finished, kept)" in result.output
    assert "[responses] shard 1/2 finished (4 records)" in result.output and "[judge] shard 0/2 finished (3 records)" in result.output
    for name in ("responses", "judgements"):  # the same model, from another folder
        assert _without_model_path(run / f"{name}.jsonl") == _without_model_path(single / f"{name}.jsonl")
    assert not list(run.glob("*.shard-*")) and not (run / ".stage1kit.lock").exists()


RUN_TOML = """
[run]
dir = "run"
[model]
id = "{model}"
device = "cpu"
[critic]
settings = {{ batch_size = 4 }}
[responses]
k = 2
generator_settings = {{ max_new_tokens = 6, batch_size = 1 }}
[judge]
instructions_per_batch = 2
[parallel]
shards = 2
"""


def _without_model_path(path):
    records = read_records(path)
    for record in records:
        record["provenance"].pop("model_id")
    return records
