"""A top-level key that should hold a table but holds a value is an error naming the file and the key."""

import pytest
from click.testing import CliRunner

from stage1kit.cli import cli
from stage1kit.config import ConfigError, load_config


@pytest.mark.parametrize("section", ["train = 5", "run = 5", "instructions = 5", "judge = 5"])
def test_a_section_given_as_a_value_names_file_and_key(tmp_path, section):
    path = tmp_path / "stage1kit.toml"
    path.write_text(f'{section}\n[model]\nid = "gpt2"\n')
    key = section.split(" = ")[0]
    with pytest.raises(ConfigError, match=rf"stage1kit.toml: {section}: expected a \[{key}\] table"):
        load_config(path)


def test_a_train_subsection_given_as_a_value_names_it(tmp_path):
    path = tmp_path / "stage1kit.toml"
    path.write_text('[model]\nid = "gpt2"\n[train]\nsft = 3\n')
    with pytest.raises(ConfigError, match=r"stage1kit.toml: train.sft = 3: expected a \[train.sft\] table"):
        load_config(path)


def test_run_with_a_section_given_as_a_value_is_a_clean_error(tmp_path):
    path = tmp_path / "stage1kit.toml"
    path.write_text('train = 5\n[model]\nid = "gpt2"\n')
    result = CliRunner().invoke(cli, ["run", str(path)])
    assert result.exit_code == 1
    assert "train = 5: expected a [train] table" in result.output
    assert isinstance(result.exception, SystemExit)  # a ClickException, not a traceback
