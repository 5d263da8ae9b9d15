"""The accelerate configurations in docs/scale.md are ones the installed accelerate reads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

SCALE_DOC = Path(__file__).resolve().parents[2] / "docs" / "scale.md"


def yaml_blocks() -> list[dict]:
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", SCALE_DOC.read_text(), flags=re.S)]


def launch_options() -> set[str]:
    """Every option `accelerate launch` has: the keys of a config's fsdp/deepspeed sections become these."""
    from accelerate.commands.launch import launch_command_parser

    return {action.dest for action in launch_command_parser()._actions}


def test_the_doc_shows_an_fsdp_and_a_deepspeed_configuration():
    assert sorted(block["distributed_type"] for block in yaml_blocks()) == ["DEEPSPEED", "FSDP"]


@pytest.mark.parametrize("block", yaml_blocks(), ids=lambda block: block["distributed_type"])
def test_each_configuration_loads_and_every_section_key_is_a_launch_option(block, tmp_path):
    from accelerate.commands.config.config_args import ClusterConfig

    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(block))
    config = ClusterConfig.from_yaml_file(path)  # refuses unknown top-level keys
    assert config.num_processes % config.num_machines == 0
    options = launch_options()
    # accelerate prefixes fsdp_config keys with fsdp_ where they lack it; deepspeed_config keys are used as they are
    section_keys = list((block.get("fsdp_config") or {})) + list((block.get("deepspeed_config") or {}))
    unknown = [key for key in section_keys if key not in options]
    assert unknown == []
