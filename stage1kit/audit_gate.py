"""The audit gate the engine runs in-process before every stage that loads a model.

It audits the user's code and the source files of every plugin module the stage will run; any
finding stops the stage before a model is loaded. The summary it returns goes into the stage's
manifest, where the training gate checks it again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from stage1kit.errors import Stage1kitError


class AuditGateError(Stage1kitError):
    """The audit found problems in code a stage was about to run."""


def plugin_modules(registrations: Iterable[Any]) -> list[str]:
    """The top-level import packages of the plugins behind some registrations."""
    modules = set()
    for registration in registrations:
        factory = registration.factory
        module = getattr(factory, "__module__", None) or registration.plugin.module
        modules.add(module.split(".")[0])
    return sorted(modules)


def run_audit_gate(stage: str, *, user_paths: Sequence[str | Path] = (), modules: Sequence[str] = ()) -> dict[str, Any]:
    """Audit ``user_paths`` and ``modules``; raise :class:`AuditGateError` on any finding or missing path."""
    from stage1kit_audit import audit_modules, audit_paths

    paths = [Path(p) for p in user_paths]
    missing = [p for p in paths if not p.exists()]
    if missing:
        # Skipping them would report a clean audit of code that was never read.
        raise AuditGateError(
            f"audit gate before stage '{stage}': user code {', '.join(str(p) for p in missing)} does not exist; "
            "no model was loaded. Fix [run] user_code in the config (or the --user-code paths) and rerun."
        )
    reports = []
    if paths:
        reports.append(audit_paths(paths))
    if modules:
        reports.append(audit_modules(modules))
    findings = [f for report in reports for f in report.findings]
    summary = {
        "clean": not findings,
        "findings": len(findings),
        "files_checked": sum(r.files_checked for r in reports),
        "paths": [str(p) for p in paths],
        "modules": list(modules),
    }
    if findings:
        listing = "\n".join(f"  {f.path}:{f.line}:{f.column}: {f.rule} {f.message}" for f in findings[:20])
        more = f"\n  ... and {len(findings) - 20} more" if len(findings) > 20 else ""
        raise AuditGateError(
            f"audit gate before stage '{stage}': {len(findings)} finding(s); no model was loaded.\n"
            f"{listing}{more}\nFix them (or suppress one with '# stage1kit: allow[CODE] reason: ...') and rerun."
        )
    return summary
