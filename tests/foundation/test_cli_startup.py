"""The CLI's cheap paths must not drag in torch or transformers."""

import json
import subprocess
import sys

PROBE = """
import sys
from stage1kit.cli import main
sys.argv = ["stage1kit", *{args!r}]
try:
    main()  # the console script itself: plugins loaded, their register_commands hooks run
except SystemExit as exit:
    assert not exit.code, exit.code
heavy = [m for m in ("torch", "transformers", "trl", "peft", "ray") if m in sys.modules]
print("HEAVY=" + ",".join(heavy))
"""


def _heavy_modules_after(args):
    out = subprocess.run([sys.executable, "-c", PROBE.format(args=args)], capture_output=True, text=True, check=True)
    return out.stdout.strip().split("HEAVY=")[-1]


def test_help_imports_no_torch():
    assert _heavy_modules_after(["--help"]) == ""


def test_merge_help_imports_no_torch_or_ray():
    assert _heavy_modules_after(["merge", "--help"]) == ""


def test_plugins_listing_imports_no_torch():
    assert _heavy_modules_after(["plugins", "--json"]) == ""


def test_version_is_printed():
    result = subprocess.run([sys.executable, "-m", "stage1kit.cli", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and "stage1kit, version" in result.stdout


def test_plugins_json_lists_builtin_plugins():
    result = subprocess.run([sys.executable, "-m", "stage1kit.cli", "plugins", "--json"], capture_output=True, text=True)
    names = {p["name"] for p in json.loads(result.stdout)}
    assert "hf-critic" in names and "trl-trainers" in names


def test_audit_imports_no_torch(tmp_path):
    (tmp_path / "clean.py").write_text("x = 1\n")
    assert _heavy_modules_after(["audit", str(tmp_path / "clean.py"), "--no-cache"]) == ""
