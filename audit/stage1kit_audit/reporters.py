"""Render an :class:`AuditReport` as text, JSON, SARIF 2.1.0 or GitHub workflow annotations."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import PurePosixPath
from urllib.parse import quote

from . import __version__
from .findings import AuditReport, Finding

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
# SARIF requires absolute URIs for help (a relative one fails the official schema's "uri" format).
DOCS_URL = "https://github.com/stage1kit/stage1kit/blob/main/docs/audit.md"


def _where(finding: Finding) -> str:
    if finding.cell is None:
        return ""
    return f"[cell {finding.cell}, line {finding.cell_line}] " if finding.cell_line else f"[cell {finding.cell}] "


def to_text(report: AuditReport) -> str:
    """``path:line:col: CODE message`` lines and a one-line summary."""
    lines = [f"{f.path}:{f.line}:{f.column}: {f.rule} {_where(f)}{f.message}" for f in report.findings]
    status = "clean" if report.clean else f"{len(report.findings)} finding(s)"
    lines.append(
        f"stage1kit audit: {status} in {report.files_checked} file(s) "
        f"({report.files_parsed} parsed, {report.files_cached} from cache)"
    )
    return "\n".join(lines)


def to_json(report: AuditReport) -> str:
    return json.dumps(report.to_dict(), indent=2)


def _rule_descriptors() -> list[dict]:
    from .rules import ALL_CODES, RULES

    docs = {r.code: (r.name, (r.__doc__ or r.summary).strip()) for r in RULES}
    out = []
    for code, summary in ALL_CODES.items():
        name, full = docs.get(code, (summary.split(" (")[0].replace(" ", "-"), summary))
        out.append(
            {
                "id": code,
                "name": name,
                "shortDescription": {"text": summary},
                "fullDescription": {"text": " ".join(full.split())},
                "helpUri": f"{DOCS_URL}#{code.lower()}",
                "defaultConfiguration": {"level": "error"},
            }
        )
    return out


def _artifact(path: str) -> dict:
    """A relative path is relative to the checkout (%SRCROOT%); an absolute one becomes a file URI."""
    if PurePosixPath(path).is_absolute():
        return {"uri": PurePosixPath(path).as_uri()}
    return {"uri": quote(path), "uriBaseId": "%SRCROOT%"}


def to_sarif_dict(report: AuditReport) -> dict:
    """A SARIF 2.1.0 log with one run; rule ids are the SK codes."""
    rules = _rule_descriptors()
    index = {r["id"]: i for i, r in enumerate(rules)}
    results = []
    for f in report.findings:
        message = f"{_where(f)}{f.message}"
        results.append(
            {
                "ruleId": f.rule,
                "ruleIndex": index[f.rule],
                "level": "error",
                "message": {"text": message},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": _artifact(f.path),
                            "region": {"startLine": f.line, "startColumn": f.column},
                        }
                    }
                ],
            }
        )
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "stage1kit-audit",
                        "version": __version__,
                        "informationUri": "https://github.com/stage1kit/stage1kit",
                        "rules": rules,
                    }
                },
                "results": results,
                "columnKind": "unicodeCodePoints",
            }
        ],
    }


def to_sarif(report: AuditReport) -> str:
    return json.dumps(to_sarif_dict(report), indent=2)


def _escape(text: str, *, property_value: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def to_github(report: AuditReport) -> str:
    """``::error file=...,line=...,col=...,title=CODE::message`` workflow commands."""
    lines = []
    for f in report.findings:
        props = f"file={_escape(f.path, property_value=True)},line={f.line},col={f.column},title={f.rule}"
        lines.append(f"::error {props}::{_escape(f'{f.rule} {_where(f)}{f.message}')}")
    return "\n".join(lines)


FORMATS: dict[str, Callable[[AuditReport], str]] = {
    "text": to_text,
    "json": to_json,
    "sarif": to_sarif,
    "github": to_github,
}
