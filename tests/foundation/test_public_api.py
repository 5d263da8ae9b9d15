"""The public plugin API: built-in plugins use only ``from stage1kit import ...``, every public name
resolves, and the core never imports a plugin package."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import stage1kit

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_PACKAGES = sorted(p.name for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").exists())


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) of every import in a file; relative imports keep their dots."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            found.append((node.lineno, "." * node.level + (node.module or ""), [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
    return found


def _python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def test_built_in_plugins_import_only_the_public_api():
    outside = []
    for path in _python_files(ROOT / "plugins"):
        for line, module, names in _imports(path):
            where = f"{path.relative_to(ROOT)}:{line}"
            if module.startswith("stage1kit."):
                outside.append(f"{where}: from {module} import {', '.join(names)}")
            elif module == "stage1kit":
                outside += [f"{where}: stage1kit.{name} is not public" for name in names if name not in stage1kit.__all__]
    assert outside == [], "plugins must import from the public API (`from stage1kit import ...`):\n" + "\n".join(outside)


def test_the_core_imports_no_plugin_package():
    offending = [
        f"{path.relative_to(ROOT)}:{line}: {module}"
        for path in _python_files(ROOT / "stage1kit")
        for line, module, _ in _imports(path)
        if module.split(".")[0] in PLUGIN_PACKAGES
    ]
    assert offending == []


@pytest.mark.parametrize("name", [n for n in stage1kit.__all__ if n != "__version__"])
def test_every_public_name_resolves(name):
    assert getattr(stage1kit, name) is not None


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'CleanModelLoader'"):
        stage1kit.CleanModelLoader  # noqa: B018 - loading models is the engine's job, not a plugin's


def test_importing_the_package_stays_light():
    code = "import sys, stage1kit; from stage1kit import hookimpl, Negative; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
