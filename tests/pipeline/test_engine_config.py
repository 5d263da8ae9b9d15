"""``[engine]``: checked with the rest of the config before anything runs, and in the cache key only
when it is not the default (so runs made before it existed stay up to date)."""

from __future__ import annotations

import importlib.util

import pytest
from click.testing import CliRunner

from stage1kit.cli import cli
from stage1kit.config import config_problems, load_config
from stage1kit.plugins import get_registry
from stage1kit.stages.catalogue import find_stage

ENGINE = 'name = "transformers"\n# engine settings, e.g. { tensor_parallel_size = 2, gpu_memory_utilization = 0.85 }\nsettings = {  }'


def test_an_unknown_engine_is_refused_before_anything_runs(config_path, edit):
    edit(config_path, ENGINE, 'name = "tgi"\nsettings = {  }')
    result = CliRunner().invoke(cli, ["run", str(config_path)])
    assert result.exit_code == 1
    assert "[engine] name = 'tgi'" in result.output and "vllm" in result.output  # lists what is there
    assert not (config_path.parent / "run").exists()


@pytest.mark.vllm
@pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="checks vLLM's settings, which need vLLM installed")
def test_bad_vllm_settings_name_the_key(config_path, edit):
    edit(config_path, ENGINE, 'name = "vllm"\nsettings = { tensor_parallel_size = 0 }')
    problems = config_problems(load_config(config_path), get_registry())
    assert problems and all("[engine] settings: " in p and "tensor_parallel_size = 0" in p for p in problems)


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="checks the message of a machine without vLLM")
def test_vllm_without_vllm_installed_says_what_to_install(config_path, edit):
    edit(config_path, ENGINE, 'name = "vllm"\nsettings = {  }')
    problems = config_problems(load_config(config_path), get_registry())
    # one per stage that samples or scores, each naming the table and the install command
    assert len(problems) == 4 and all("[engine] settings: " in p and "pip install" in p for p in problems)


def test_the_default_engine_leaves_cache_keys_as_they_were_and_another_changes_them(config_path, edit):
    config = load_config(config_path)
    keys = {name: find_stage(name).cache_key(config) for name in ("instructions", "responses", "judge", "pairs", "evaluate")}
    assert all("engine" not in key for key in keys.values())
    edit(config_path, ENGINE, 'name = "vllm"\nsettings = { max_num_seqs = 8 }')
    served = load_config(config_path)
    for name in ("instructions", "responses", "judge", "pairs"):  # they sample or score through it
        assert find_stage(name).cache_key(served)["engine"] == {"name": "vllm", "settings": {"max_num_seqs": 8}}
    assert find_stage("evaluate").cache_key(served) == keys["evaluate"]  # evaluation always runs on transformers


def test_stage_commands_take_engine_options():
    result = CliRunner().invoke(cli, ["responses", "--help"])
    assert "--engine TEXT" in result.output and "--engine-set KEY=VALUE" in result.output
    assert "--engine" not in CliRunner().invoke(cli, ["train", "sft", "--help"]).output


def test_doctor_lists_engines_and_the_optional_libraries_without_calling_them_problems(monkeypatch):
    from stage1kit.commands.info import doctor_problems
    from stage1kit.plugins import Registry

    registry = get_registry()
    without_engines = Registry(registry.plugins, {**registry._by_kind, "engines": {}}, registry.plugin_manager)
    problems, facts = doctor_problems(without_engines)
    assert problems == []  # the transformers engine is built in: no engine plugin is no problem
    assert "engines: none (and the built-in transformers)" in facts
    assert any(f.startswith("vllm: ") and '(for [engine] name = "vllm")' in f for f in facts)
    assert any(f.startswith("ray: ") and '(for [parallel] launcher = "ray")' in f for f in facts)
