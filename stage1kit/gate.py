"""The training gate: no GPU hour is spent on data that did not pass QC.

:func:`check_gate` runs every check on a dataset and returns a :class:`GateReport`;
:func:`require_gate` raises :class:`GateRefused`, whose message lists every failed check and how to
fix it. A trainer runs only when all hold:

- the dataset's manifest exists, validates against the schema and says pass;
- the data file's sha256 and record count match the manifest (no edits after QC);
- the manifest's QC metrics meet the trainer's ``min_*``/``max_*`` requirements;
- the audit recorded in the manifest was clean, and the audit passes again now over the code that
  will run (the user's code and the trainer plugin's package);
- every record is plain text (no role/content lists) with no chat markers, and no two share an id;
- the model the data came from is the model about to be trained (unless the caller overrides
  this explicitly, which the report records).

There is no force flag. Third-party trainers call this directly; it imports neither torch nor
transformers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stage1kit.chat_markers import find_markers
from stage1kit.errors import Stage1kitError
from stage1kit.hashing import file_sha256
from stage1kit.manifest import qc_value, verdict_of, verdict_reasons
from stage1kit.record_ids import duplicate_ids_in
from stage1kit.records import RecordError, iter_records
from stage1kit.rundir import manifest_path_for

#: Fields that hold the text a trainer reads; each must be a plain string.
TEXT_FIELDS = ("prompt", "completion", "chosen", "rejected")
#: Record keys that mark a conversational (role/content) dataset TRL would template.
CONVERSATION_KEYS = ("messages", "conversations")
#: How many offending records a failed check lists before summarising.
SHOW = 5


class TrainingDataError(Stage1kitError):
    """Trainers raise a subclass when data that passed the gate fails a check after tokenization."""


class GateRefused(Stage1kitError):
    """The gate refused a dataset; ``report`` holds every check, the message every failure."""

    def __init__(self, report: "GateReport"):
        self.report = report
        super().__init__(report.refusal_message())


@dataclass
class GateCheck:
    """One check: its name, whether it held, what was found and how to fix a failure."""

    name: str
    ok: bool
    detail: str = ""
    fix: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "fix": self.fix}


@dataclass
class GateReport:
    """Every check the gate ran on one dataset, plus what the training manifest records."""

    dataset: Path
    manifest_path: Path
    checks: list[GateCheck] = field(default_factory=list)
    records: int = 0
    manifest_sha256: str | None = None
    audit: dict[str, Any] | None = None
    override: dict[str, Any] | None = None

    @property
    def passed(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failures(self) -> list[GateCheck]:
        return [check for check in self.checks if not check.ok]

    def add(self, name: str, ok: bool, detail: str = "", fix: str = "") -> GateCheck:
        check = GateCheck(name, ok, detail, "" if ok else fix)
        self.checks.append(check)
        return check

    def refusal_message(self) -> str:
        lines = [
            f"training gate refused {self.dataset}: {len(self.failures)} of {len(self.checks)} checks failed "
            "(no model was loaded)"
        ]
        for check in self.failures:
            lines.append(f"  FAILED {check.name}: {check.detail}")
            if check.fix:
                lines.append(f"         fix: {check.fix}")
        lines.append("There is no --force: fix the data or the code and rerun.")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """What the training manifest records about the gate."""
        return {
            "passed": self.passed,
            "dataset": str(self.dataset),
            "manifest": str(self.manifest_path),
            "manifest_sha256": self.manifest_sha256,
            "records": self.records,
            "checks": [check.to_dict() for check in self.checks],
            "model_override": self.override,
        }


# --------------------------------------------------------------------------- helpers



def _same_model(a: str, b: str) -> bool:
    if a == b:
        return True
    pa, pb = Path(a).expanduser(), Path(b).expanduser()
    return pa.exists() and pb.exists() and pa.resolve() == pb.resolve()


def _listing(items: Sequence[str]) -> str:
    shown = "; ".join(items[:SHOW])
    return shown + (f"; ... and {len(items) - SHOW} more" if len(items) > SHOW else "")


# --------------------------------------------------------------------------- checks


def _check_manifest(report: GateReport) -> dict[str, Any] | None:
    from stage1kit.manifest import ManifestError, load_manifest

    if not report.manifest_path.exists():
        report.add(
            "manifest exists",
            False,
            f"no manifest at {report.manifest_path}",
            "build the dataset with its stage (`stage1kit pairs` for sft/dpo), which writes the manifest beside it",
        )
        return None
    report.manifest_sha256 = file_sha256(report.manifest_path)
    try:
        manifest = load_manifest(report.manifest_path)
    except ManifestError as exc:
        report.add("manifest valid", False, str(exc), "rebuild the dataset with its stage; do not edit manifests by hand")
        return None
    report.add("manifest valid", True, f"{report.manifest_path} validates against the schema")
    status, reasons = verdict_of(manifest) or "missing", verdict_reasons(manifest)
    report.add(
        "verdict pass",
        status == "pass",
        f"verdict is '{status}'" + (f": {_listing(reasons)}" if reasons else ""),
        "the dataset failed its own QC for the reasons listed: fix what they name and rebuild it with its stage",
    )
    return manifest


def _check_data_matches(report: GateReport, manifest: Mapping[str, Any]) -> None:
    """Re-hash the data (sha256, record count) and the manifest's inputs against what it recorded."""
    from stage1kit.manifest import verify_manifest

    problems = list(verify_manifest(report.manifest_path))
    if _output_entry(manifest, report.dataset) is None:
        problems.append(f"the manifest describes other outputs, not {report.dataset.name}")
    report.add(
        "data matches manifest",
        not problems,
        _listing(problems) if problems else "sha256 and record count match",
        "the data changed after QC: rebuild it with its stage instead of editing the file",
    )


def _output_entry(manifest: Mapping[str, Any], dataset: Path) -> Mapping[str, Any] | None:
    for entry in manifest.get("outputs") or []:
        if isinstance(entry, Mapping) and Path(str(entry.get("path", ""))).name == dataset.name:
            return entry
    return None


def _check_requirements(report: GateReport, manifest: Mapping[str, Any], requirements: Mapping[str, float]) -> None:
    qc = dict(manifest.get("qc") or {})
    qc.setdefault("records", report.records)
    unmet = []
    for key, bound in sorted(requirements.items()):
        kind, _, metric = key.partition("_")
        value = report.records if metric == "records" else qc_value(qc, metric)
        if kind not in ("min", "max") or not metric:
            unmet.append(f"'{key}' is not a min_<metric>/max_<metric> requirement")
        elif not isinstance(value, (int, float)) or isinstance(value, bool):
            unmet.append(f"{metric} is not in the manifest's qc (has: {', '.join(sorted(qc)) or 'nothing'})")
        elif (kind == "min" and value < bound) or (kind == "max" and value > bound):
            unmet.append(f"{metric} = {value:g}, the trainer requires {kind} {bound:g}")
    report.add(
        "qc requirements",
        not unmet,
        _listing(unmet) if unmet else f"meets {', '.join(f'{k}={v:g}' for k, v in sorted(requirements.items())) or 'no requirements'}",
        "generate more or better data (more rounds, larger k), or lower the trainer's requirements ([train.*] requirements, or --require KEY=VALUE / --min-records)",
    )


def _check_recorded_audit(report: GateReport, manifest: Mapping[str, Any]) -> None:
    audit = manifest.get("audit")
    clean = isinstance(audit, Mapping) and audit.get("clean") is True
    if audit is None:
        detail = "the manifest records no audit result"
    else:
        findings = audit.get("findings") if isinstance(audit, Mapping) else audit
        detail = "the audit recorded with the data was clean" if clean else f"the audit recorded with the data had findings ({findings})"
    report.add(
        "recorded audit clean",
        clean,
        detail,
        "the data was produced by code that failed the audit: fix that code (`stage1kit audit`) and rebuild the data",
    )


def _check_audit_now(report: GateReport, audit_paths: Sequence[str | Path], audit_modules: Sequence[str]) -> None:
    from stage1kit.audit_gate import AuditGateError, run_audit_gate

    try:
        report.audit = run_audit_gate("train", user_paths=audit_paths, modules=audit_modules)
    except AuditGateError as exc:
        report.audit = {"clean": False, "error": str(exc)}
        report.add("audit passes now", False, str(exc), "fix the findings in the code that will run, then rerun")
        return
    report.add("audit passes now", True, f"{report.audit['files_checked']} files clean")


def _record_problems(dataset: Path) -> tuple[int | None, list[str], list[str], str | None]:
    """(records, conversational problems, chat-marker problems, unreadable) of the data file."""
    conversational: list[str] = []
    markers: list[str] = []
    count = 0
    try:
        for line, record in enumerate(iter_records(dataset), start=1):
            count += 1
            where = f"{dataset.name}:{line} (id {record.get('id', '?')})"
            for key in CONVERSATION_KEYS:
                if key in record:
                    conversational.append(f"{where}: has a '{key}' field")
            present = [name for name in TEXT_FIELDS if name in record]
            if not present:
                conversational.append(f"{where}: none of the text fields {', '.join(TEXT_FIELDS)}")
            for name in present:
                value = record[name]
                if not isinstance(value, str):
                    conversational.append(f"{where}: field '{name}' is a {type(value).__name__}, not a string")
                    value = json.dumps(value, ensure_ascii=False)
                found = find_markers(value)
                if found:
                    markers.append(f"{where}: field '{name}' contains {', '.join(found)}")
    except RecordError as exc:
        return None, conversational, markers, str(exc)
    return count, conversational, markers, None


def _check_records(report: GateReport) -> int | None:
    if not report.dataset.exists():
        report.add("data file exists", False, f"no data file at {report.dataset}", "build the dataset with its stage first")
        return None
    count, conversational, markers, unreadable = _record_problems(report.dataset)
    if unreadable:
        report.add("data file readable", False, unreadable, "rebuild the dataset with its stage")
        return None
    report.records = count or 0
    report.add(
        "plain text records",
        not conversational,
        _listing(conversational) if conversational else f"{count} records, every text field a plain string",
        "records must carry plain strings (prompt/completion or prompt/chosen/rejected), never role/content "
        "message lists, which TRL would put through a chat template; rebuild with `stage1kit pairs`",
    )
    report.add(
        "no chat markers",
        not markers,
        _listing(markers) if markers else "no chat markers in any text field",
        "drop or regenerate the records that contain chat markers; the base model must never see a chat format",
    )
    _check_unique_ids(report)
    return count


def _check_unique_ids(report: GateReport) -> None:
    duplicates = duplicate_ids_in(report.dataset)
    report.add(
        "unique record ids",
        not duplicates,
        f"{report.dataset}: {duplicates.describe()}" if duplicates else "every record id occurs once",
        f"two runs wrote into this run directory at once, or records were appended to {report.dataset.name}: delete it "
        "and its manifest and rebuild them with their stage (`stage1kit pairs` for sft/dpo); run one `stage1kit run` "
        "per run directory at a time",
    )


def _check_model(
    report: GateReport,
    manifest: Mapping[str, Any],
    model_provenance: Mapping[str, Any] | None,
    allow_model_mismatch: bool,
) -> None:
    data_model = manifest.get("model") or {}
    if model_provenance is None:
        report.add("model matches", True, "no model given to compare (caller checks it)")
        return
    want = (str(model_provenance.get("model_id", "")), model_provenance.get("revision"))
    have = (str(data_model.get("model_id", "")), data_model.get("revision"))
    same = bool(have[0]) and _same_model(want[0], have[0]) and want[1] == have[1]
    detail = f"data generated by {have[0] or '(unrecorded)'}@{have[1] or 'default'}, training {want[0]}@{want[1] or 'default'}"
    if same:
        report.add("model matches", True, detail)
    elif allow_model_mismatch:
        report.override = {"allow_model_mismatch": True, "data_model": list(have), "trained_model": list(want)}
        report.add("model matches", True, f"OVERRIDDEN (allow_model_mismatch): {detail}")
    else:
        report.add(
            "model matches",
            False,
            detail,
            "train the model that generated the data (--model), or regenerate the data with this model; "
            "to train across models on purpose pass --allow-model-mismatch (recorded in the training manifest)",
        )


# --------------------------------------------------------------------------- public API


def check_gate(
    dataset_path: str | Path,
    *,
    requirements: Mapping[str, float],
    model_provenance: Mapping[str, Any] | None,
    audit_paths: Sequence[str | Path] = (),
    audit_modules: Sequence[str] = (),
    allow_model_mismatch: bool = False,
) -> GateReport:
    """Run every gate check on ``dataset_path`` (its manifest sits beside it) and report them all.

    ``model_provenance`` is ``{"model_id", "revision"}`` of the model about to be trained (None
    skips that comparison: the caller then owns it). ``audit_paths`` are the user's code and
    ``audit_modules`` the importable packages of the trainer that will run.
    """
    dataset = Path(dataset_path)
    report = GateReport(dataset=dataset, manifest_path=manifest_path_for(dataset))
    manifest = _check_manifest(report)
    _check_records(report)
    if manifest is not None:
        _check_data_matches(report, manifest)
        _check_requirements(report, manifest, requirements)
        _check_recorded_audit(report, manifest)
        _check_model(report, manifest, model_provenance, allow_model_mismatch)
    _check_audit_now(report, audit_paths, audit_modules)
    return report


def require_gate(dataset_path: str | Path, **kwargs: Any) -> GateReport:
    """:func:`check_gate`, raising :class:`GateRefused` unless every check passed."""
    report = check_gate(dataset_path, **kwargs)
    if not report.passed:
        raise GateRefused(report)
    return report
