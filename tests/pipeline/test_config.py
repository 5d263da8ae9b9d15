"""Config mistakes are errors that name the file and the key, before any work starts; what a stage
raises once running ends the run with its message, not a traceback."""

import pytest
from click.testing import CliRunner

from stage1kit.audit_gate import AuditGateError, run_audit_gate
from stage1kit.cli import cli
from stage1kit.config import ConfigError, config_problems, load_config
from stage1kit.gate import TrainingDataError
from stage1kit.loader import LoaderError
from stage1kit.plugins import get_registry
from stage1kit.stages.evaluate import EvaluateError
from stage1kit.stages.pairs import PairsStageError
from stage1kit.stages.base import StageConfigError, StageInputError
from stage1kit.stages.train import TrainStageError


def test_starter_config_loads_as_written(config_path):
    config = load_config(config_path)
    assert config.stages["instructions"].generator == "self-instruct"
    assert config_problems(config, get_registry()) == []


def test_unknown_key_names_file_and_key(config_path, edit):
    edit(config_path, "[responses]\n", "[responses]\ntemprature = 0.7\n")
    with pytest.raises(ConfigError, match=r"stage1kit.toml: \[responses\]: unknown key 'temprature'"):
        load_config(config_path)


def test_wrong_type_names_key_and_expected_type(config_path, edit):
    edit(config_path, "k = 4", 'k = "four"')
    with pytest.raises(ConfigError, match=r"\[responses\]\.k: expected int, got str"):
        load_config(config_path)


@pytest.mark.parametrize(
    "old, new, why",
    [
        ('launcher = "local"', 'launcher = "slurm"', r"\[parallel\]: launcher = 'slurm': must be one of local, ray"),
        ("shards = 1", "shards = 0", r"\[parallel\]: shards = 0: must be at least 1"),
    ],
)
def test_parallel_settings_are_checked(config_path, edit, old, new, why):
    edit(config_path, old, new)
    with pytest.raises(ConfigError, match=why):
        load_config(config_path)


def test_parallel_shards_come_from_the_config(config_path, edit):
    edit(config_path, "shards = 1", "shards = 4")
    parallel = load_config(config_path).parallel
    assert (parallel.shards, parallel.launcher, parallel.gpus_per_shard, parallel.ray_address) == (4, "local", 1, None)


def test_a_pinned_gpu_with_shards_is_a_config_problem(config_path, edit):
    edit(config_path, "shards = 1", "shards = 2")
    config = load_config(config_path)
    config.model.device = "cuda:1"
    [problem] = config_problems(config, get_registry())
    assert "[model] device = 'cuda:1' pins one GPU" in problem and "[parallel] shards = 2" in problem


def test_unknown_section_is_an_error(config_path):
    config_path.write_text(config_path.read_text() + "\n[trainng]\nx = 1\n")
    with pytest.raises(ConfigError, match=r"unknown section \[trainng\]"):
        load_config(config_path)


def test_unknown_plugin_name_lists_available_ones(config_path, edit):
    edit(config_path, 'generator = "self-instruct"', 'generator = "self-instruct-v0"')
    problems = config_problems(load_config(config_path), get_registry())
    assert len(problems) == 1
    assert "generator = 'self-instruct-v0'" in problems[0] and "available:" in problems[0]
    assert "self-instruct" in problems[0].split("available:")[1]


def test_missing_model_folder_is_reported(config_path, tmp_path, edit):
    edit(config_path, f'id = "{load_config(config_path).model.id}"', f'id = "{tmp_path / "no-such-model"}"')
    from stage1kit.loader import LoaderError
    from stage1kit.models import ModelAccess

    config = load_config(config_path)
    with pytest.raises(LoaderError, match="no checkpoint folder"):
        ModelAccess(config.model, config.model_id).preflight()


def test_missing_config_file_says_how_to_make_one(tmp_path):
    with pytest.raises(ConfigError, match="stage1kit init"):
        load_config(tmp_path / "absent.toml")


def test_doctor_with_a_bad_config_exits_1_and_names_the_problem(config_path, edit):
    edit(config_path, 'strategy = "all"', 'strategy = 3')
    result = CliRunner().invoke(cli, ["doctor", str(config_path)])
    assert result.exit_code == 1
    assert "[pairs].strategy: expected str" in result.output


def test_run_refuses_unknown_plugin_before_loading_anything(config_path, edit):
    edit(config_path, 'name = "logprob"', 'name = "gpt-judge"')
    result = CliRunner().invoke(cli, ["run", str(config_path)])
    assert result.exit_code == 1
    assert "[critic] name = 'gpt-judge'" in result.output
    assert not (config_path.parent / "run").exists()


@pytest.mark.parametrize(
    ("old", "new", "where", "why"),
    [
        ("generator_settings = {  }", "generator_settings = { bogus_knob = 1 }", "[instructions] generator_settings", "'bogus_knob'"),
        ("max_steps = 8", "max_steps = 8\nbogus = 1", "[train.sft] trainer", "unknown key 'bogus'"),
        ("max_steps = 8", "max_steps = 0", "[train.sft] trainer", "max_steps must be positive, got 0"),
        ("miner_settings = {  }", "miner_settings = { truncated = { nope = 1 } }", "[pairs] miner_settings", "'nope'"),
    ],
)
def test_plugin_settings_are_checked_before_any_stage_starts(config_path, edit, old, new, where, why):
    edit(config_path, old, new)
    problems = config_problems(load_config(config_path), get_registry())
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{config_path}: {where}: ")
    assert why in problems[0]


def test_doctor_reports_a_setting_the_trainer_rejects(config_path, edit):
    edit(config_path, "max_steps = 8", "max_steps = 8\nlora_r = \"big\"")
    result = CliRunner().invoke(cli, ["doctor", str(config_path)])
    assert result.exit_code == 1
    assert "[train.sft] trainer:" in result.output and "lora_r: expected int, got str 'big'" in result.output


def test_missing_user_code_is_a_config_problem(config_path, edit):
    edit(config_path, "user_code = []", 'user_code = ["my_code/prep.py"]')
    problems = config_problems(load_config(config_path), get_registry())
    assert problems == [f"{config_path}: [run] user_code: 'my_code/prep.py': no such file or folder at {config_path.parent / 'my_code/prep.py'}"]


def test_audit_gate_refuses_a_user_code_path_that_does_not_exist(tmp_path):
    with pytest.raises(AuditGateError, match=r"prep\.py does not exist.*Fix \[run\] user_code"):
        run_audit_gate("instructions", user_paths=[tmp_path / "prep.py"])


def test_a_stage_error_ends_the_run_cleanly_and_keeps_earlier_outputs(config_path, edit):
    edit(config_path, "target = 24", "target = 2")
    assert CliRunner().invoke(cli, ["run", str(config_path), "--quiet", "--until", "instructions"]).exit_code == 0
    run = config_path.parent / "run"
    before = (run / "instructions.jsonl").read_bytes()
    edit(config_path, 'generator = "best-of-n"', 'generator = "self-instruct"')  # not a response generator
    result = CliRunner().invoke(cli, ["run", str(config_path), "--quiet", "--until", "responses"])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # a ClickException, not a traceback
    assert "no response generator named 'self-instruct'" in result.output
    assert (run / "instructions.jsonl").read_bytes() == before and (run / "instructions.manifest.json").exists()


@pytest.mark.parametrize(
    "error",
    [TrainStageError, TrainingDataError, LoaderError, EvaluateError, StageInputError, StageConfigError, PairsStageError],
)
def test_errors_stages_raise_end_as_a_message(config_path, monkeypatch, error):
    def fail(self, stages):
        raise error(f"{error.__name__} says what to fix")

    monkeypatch.setattr("stage1kit.pipeline.Pipeline.run", fail)
    result = CliRunner().invoke(cli, ["run", str(config_path), "--quiet"])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert f"Error: {error.__name__} says what to fix" in result.output


def test_an_error_outside_the_user_error_root_keeps_its_traceback(config_path, monkeypatch):
    """A plain ValueError is a bug, not a message: the CLI must not swallow its traceback."""

    def fail(self, stages):
        raise ValueError("a bug deep in a stage")

    monkeypatch.setattr("stage1kit.pipeline.Pipeline.run", fail)
    result = CliRunner().invoke(cli, ["run", str(config_path), "--quiet"])
    assert isinstance(result.exception, ValueError) and "Error: a bug" not in result.output
