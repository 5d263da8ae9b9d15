"""Config mistakes are errors that name the file and the key, before any work starts."""

import pytest
from click.testing import CliRunner

from stage1kit.cli import cli
from stage1kit.config import ConfigError, config_problems, load_config
from stage1kit.plugins import get_registry


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
    problems = config_problems(load_config(config_path), get_registry())
    assert any("no checkpoint folder" in p for p in problems)


def test_missing_config_file_says_how_to_make_one(tmp_path):
    with pytest.raises(ConfigError, match="stage1kit init"):
        load_config(tmp_path / "absent.toml")


def test_doctor_with_a_bad_config_exits_1_and_names_the_problem(config_path, edit):
    edit(config_path, 'strategy = "all"', 'strategy = 3')
    result = CliRunner().invoke(cli, ["doctor", str(config_path)])
    assert result.exit_code == 1
    assert "[pairs].strategy: expected str" in result.output


def test_run_refuses_unknown_plugin_before_loading_anything(config_path, edit):
    edit(config_path, 'critic = "logprob"', 'critic = "gpt-judge"')
    result = CliRunner().invoke(cli, ["run", str(config_path)])
    assert result.exit_code == 1
    assert "critic = 'gpt-judge'" in result.output
    assert not (config_path.parent / "run").exists()
