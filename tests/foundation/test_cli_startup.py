"""The CLI's cheap paths must not drag in torch or transformers."""

import json
import subprocess
import sys

PROBE = """
import sys
from click.testing import CliRunner
from stage1kit.cli import cli
result = CliRunner().invoke(cli, {args!r})
assert result.exit_code == 0, result.output
heavy = [m for m in ("torch", "transformers", "trl", "peft") if m in sys.modules]
print("HEAVY=" + ",".join(heavy))
"""


def _heavy_modules_after(args):
    out = subprocess.run([sys.executable, "-c", PROBE.format(args=args)], capture_output=True, text=True, check=True)
    return out.stdout.strip().split("HEAVY=")[-1]


def test_help_imports_no_torch():
    assert _heavy_modules_after(["--help"]) == ""


def test_plugins_listing_imports_no_torch():
    assert _heavy_modules_after(["plugins", "--json"]) == ""


def test_version_is_printed():
    result = subprocess.run([sys.executable, "-m", "stage1kit.cli", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and "stage1kit, version" in result.stdout


def test_plugins_json_lists_builtin_plugins():
    result = subprocess.run([sys.executable, "-m", "stage1kit.cli", "plugins", "--json"], capture_output=True, text=True)
    names = {p["name"] for p in json.loads(result.stdout)}
    assert "hf-critic" in names and "trl-trainers" in names
