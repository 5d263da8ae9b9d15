"""The Python API the pipeline uses: audit paths, audit modules' files, parallel == serial."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from stage1kit_audit import AuditConfig, audit_modules, audit_paths

PLUGIN = {
    "demo_plugin/__init__.py": "",
    "demo_plugin/gen.py": "from transformers import pipeline\n\ndef make():\n    return pipeline('x')\n",
    "demo_plugin/clean.py": "def score(handle, text):\n    return handle.logprob(text)\n",
}


@pytest.fixture
def plugin_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for relative, text in PLUGIN.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_audit_modules_finds_a_package_s_files_without_importing_it(plugin_on_path: Path) -> None:
    report = audit_modules(["demo_plugin"], config=AuditConfig(root=plugin_on_path), use_cache=False)
    assert "demo_plugin" not in sys.modules
    assert report.files_checked == 3
    assert [(Path(f.path).name, f.line, f.rule) for f in report.findings] == [("gen.py", 4, "SK100")]


def test_audit_modules_takes_a_single_module(plugin_on_path: Path) -> None:
    report = audit_modules(["demo_plugin.clean"], config=AuditConfig(root=plugin_on_path), use_cache=False)
    assert report.clean and report.files_checked == 1


def test_report_to_dict_is_json(plugin_on_path: Path) -> None:
    report = audit_paths([plugin_on_path], config=AuditConfig(root=plugin_on_path), use_cache=False)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["files_checked"] == 3 and len(data["findings"]) == 1


def test_parallel_and_serial_agree(tmp_path: Path) -> None:
    sources = [
        "from transformers import AutoModel\nAutoModel.from_pretrained('x')\n",
        "tokenizer.chat_template = None\n",
        "x = 1\n",
        "def f(:\n",
    ]
    for index in range(60):
        (tmp_path / f"m{index:02d}.py").write_text(sources[index % len(sources)])
    config = AuditConfig(root=tmp_path)
    serial = audit_paths([tmp_path], config=config, use_cache=False, jobs=1)
    parallel = audit_paths([tmp_path], config=config, use_cache=False, jobs=2)
    assert serial.findings == parallel.findings and len(serial.findings) == 45


def test_importing_the_audit_loads_neither_torch_nor_libcst() -> None:
    """Nor stage1kit's core: the audit is its own distribution."""
    code = (
        "import sys, stage1kit_audit, stage1kit_audit.cli\n"
        "heavy = [m for m in ('torch', 'transformers', 'libcst', 'stage1kit') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    audit_root = str(Path(__file__).resolve().parents[2] / "audit")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": audit_root, "PATH": ""})
    assert out.stdout.strip() == "[]"


def test_auditing_a_file_with_findings_needs_only_the_standard_library_and_click(tmp_path: Path) -> None:
    """The pre-commit hook's environment holds click and nothing else: analysis is CPython's ``ast``."""
    (tmp_path / "bad.py").write_text("from transformers import AutoModel\nAutoModel.from_pretrained('gpt2')\n")
    code = (
        "import sys\nfrom pathlib import Path\nfrom stage1kit_audit import AuditConfig, audit_paths\n"
        f"root = Path({str(tmp_path)!r})\n"
        "report = audit_paths([root], config=AuditConfig(root=root), use_cache=False)\n"
        "third = sorted({m.split('.')[0] for m in sys.modules} - set(sys.stdlib_module_names) - {'stage1kit_audit', '__main__'})\n"
        "print(len(report.findings), third)\n"
    )
    audit_root = str(Path(__file__).resolve().parents[2] / "audit")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", f"import sys; sys.path.insert(0, {audit_root!r})\n" + code],
                         capture_output=True, text=True, check=True, env={"PATH": ""})
    assert out.stdout.split("\n")[0] == "1 []"


def test_audit_modules_ignores_excludes(plugin_on_path: Path) -> None:
    config = AuditConfig(root=plugin_on_path, exclude=("demo_plugin/**",))
    assert audit_paths([plugin_on_path / "demo_plugin"], config=config, use_cache=False).files_checked == 0
    report = audit_modules(["demo_plugin"], config=config, use_cache=False)
    assert report.files_checked == 3 and not report.clean
