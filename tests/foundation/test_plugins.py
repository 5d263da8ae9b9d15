"""Entry-point discovery through real temporary distributions on sys.path (no mocks)."""

import subprocess
import sys

import pytest

from stage1kit.plugins import PluginConflictError, PluginError, UnknownPluginError, load_registry
from stage1kit.testing import make_plugin_distribution

GOOD = '''
from stage1kit.hookspecs import hookimpl

class Echo:
    negative_type = "echo"
    needs_model = False
    def __init__(self, times=1):
        self.times = times
    def mine(self, task, rng, model=None):
        return []

@hookimpl
def register_negative_miners(register):
    register("echo", Echo)
'''

BROKEN = "raise ImportError('this plugin needs a library that is not installed')\n"


@pytest.fixture
def only(monkeypatch):
    """Load only the named distributions, so the machine's other plugins stay out of the test."""

    def _only(*names):
        monkeypatch.setenv("STAGE1KIT_LOAD_PLUGINS", ",".join(names))

    return _only


def test_plugin_from_a_real_distribution_is_listed_and_used(tmp_path, monkeypatch, only):
    make_plugin_distribution(tmp_path, "echo-plugin", {"echo_plugin.py": GOOD}, {"echo": "echo_plugin"})
    monkeypatch.syspath_prepend(str(tmp_path))
    only("echo-plugin")
    registry = load_registry()
    [info] = registry.plugins
    assert (info.name, info.distribution, info.version) == ("echo", "echo-plugin", "0.0.1")
    assert info.registered == {"negative_miners": ["echo"]}
    miner = registry.create("negative_miners", "echo", times=3)
    assert miner.times == 3


def test_broken_plugin_is_reported_and_skipped(tmp_path, monkeypatch, only):
    make_plugin_distribution(tmp_path, "echo-plugin", {"echo_plugin.py": GOOD}, {"echo": "echo_plugin"})
    make_plugin_distribution(tmp_path, "broken-plugin", {"broken_plugin.py": BROKEN}, {"broken": "broken_plugin"})
    monkeypatch.syspath_prepend(str(tmp_path))
    only("echo-plugin", "broken-plugin")
    registry = load_registry()
    errors = {p.name: p.error for p in registry.plugins}
    assert "library that is not installed" in errors["broken"]
    assert errors["echo"] is None
    assert registry.names("negative_miners") == ["echo"]


def test_strict_mode_raises_on_a_broken_plugin(tmp_path, monkeypatch, only):
    make_plugin_distribution(tmp_path, "broken-plugin", {"broken_plugin.py": BROKEN}, {"broken": "broken_plugin"})
    monkeypatch.syspath_prepend(str(tmp_path))
    only("broken-plugin")
    monkeypatch.setenv("STAGE1KIT_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="broken.*failed to load"):
        load_registry()


def test_duplicate_names_name_both_distributions(tmp_path, monkeypatch, only):
    make_plugin_distribution(tmp_path, "echo-plugin", {"echo_plugin.py": GOOD}, {"echo": "echo_plugin"})
    make_plugin_distribution(tmp_path, "echo-clone", {"echo_clone.py": GOOD}, {"clone": "echo_clone"})
    monkeypatch.syspath_prepend(str(tmp_path))
    only("echo-plugin", "echo-clone")
    with pytest.raises(PluginConflictError) as raised:
        load_registry()
    assert "echo-plugin" in str(raised.value) and "echo-clone" in str(raised.value)


def test_same_entry_point_name_in_two_distributions_loads_both(tmp_path, monkeypatch, only):
    """Entry-point names are per distribution: a third party's ``evaluators`` must not evict ours."""
    other = GOOD.replace('"echo"', '"echo-two"')
    make_plugin_distribution(tmp_path, "echo-plugin", {"echo_plugin.py": GOOD}, {"evaluators": "echo_plugin"})
    make_plugin_distribution(tmp_path, "echo-two", {"echo_two.py": other}, {"evaluators": "echo_two"})
    monkeypatch.syspath_prepend(str(tmp_path))
    only("echo-plugin", "echo-two")
    registry = load_registry(strict=True)
    assert registry.names("negative_miners") == ["echo", "echo-two"]
    assert {p.distribution: p.registered for p in registry.plugins} == {
        "echo-plugin": {"negative_miners": ["echo"]},
        "echo-two": {"negative_miners": ["echo-two"]},
    }


def test_unknown_name_lists_what_is_available(tmp_path, monkeypatch, only):
    make_plugin_distribution(tmp_path, "echo-plugin", {"echo_plugin.py": GOOD}, {"echo": "echo_plugin"})
    monkeypatch.syspath_prepend(str(tmp_path))
    only("echo-plugin")
    with pytest.raises(UnknownPluginError, match="available: echo"):
        load_registry().get("negative_miners", "missing")


def test_builtin_plugins_come_through_the_entry_point_group():
    registry = load_registry()
    builtin = {p.name for p in registry.plugins if p.distribution == "stage1kit"}
    assert {"hf-generators", "hf-critic", "trl-trainers", "evaluators", "negatives-truncated"} <= builtin


def test_cli_answers_with_a_broken_plugin_installed(tmp_path):
    make_plugin_distribution(tmp_path, "broken-plugin", {"broken_plugin.py": BROKEN}, {"broken": "broken_plugin"})
    env = {"PYTHONPATH": str(tmp_path), "STAGE1KIT_LOAD_PLUGINS": "broken-plugin", "PATH": ""}
    result = subprocess.run(
        [sys.executable, "-m", "stage1kit.cli", "plugins", "--json"], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    assert "library that is not installed" in result.stdout


def test_plugins_settings_lists_every_plugins_settings_with_help():
    import json

    from click.testing import CliRunner

    from stage1kit.cli import cli

    result = CliRunner().invoke(cli, ["plugins", "--settings", "--json"])
    assert result.exit_code == 0, result.output
    settings = json.loads(result.output)["settings"]
    best_of_n = {row["name"]: row for row in settings["response_generators:best-of-n"]}
    assert best_of_n["temperature"]["type"] == "float" and best_of_n["temperature"]["default"] == 0.8
    assert "temperature" in best_of_n["temperature"]["help"]
    assert {row["name"] for row in settings["trainers:trl-sft"]} >= {"max_steps", "lora_r", "requirements"}
    # a miner registered without a settings class: its constructor's keywords are listed
    assert isinstance(settings["negative_miners:truncated"], list)


def test_a_setting_of_the_wrong_type_names_the_plugin_and_the_key():
    from stage1kit.plugins import get_registry

    registry = get_registry()
    with pytest.raises(PluginError, match=r"response generator 'best-of-n' rejected its settings: temperature: expected float, got str 'hot'"):
        registry.create("response_generators", "best-of-n", temperature="hot")
