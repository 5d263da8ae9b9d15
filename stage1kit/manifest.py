"""QC manifests: what a stage wrote, from what, how it measured up, and whether it passed.

Every stage that writes a dataset (or a training output folder) writes a manifest beside it:
hashes and record counts of its inputs and outputs, its config and config hash, the model's
provenance, plugin versions, QC metrics, a contamination scan of every text field, the audit
result and a verdict against explicit thresholds. The training gate trusts data only through its
manifest, so manifests validate against a JSON Schema shipped with the package
(``manifest.schema.json``), are written atomically, and can be re-verified at any time
(``stage1kit manifest verify``). This module imports neither torch nor transformers.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from stage1kit.chat_markers import find_markers
from stage1kit.errors import Stage1kitError
from stage1kit.hashing import file_sha256
from stage1kit.record_ids import QC_KEY as DUPLICATES_QC_KEY
from stage1kit.record_ids import duplicate_ids_in, duplicates_reason, recorded_duplicates
from stage1kit.records import RecordError, atomic_write_text, iter_records
from stage1kit.rundir import manifest_path_for
from stage1kit.thresholds import parse_threshold_key

SCHEMA_VERSION = 1
SCHEMA_FILE = "manifest.schema.json"
#: How many contamination findings a manifest spells out (the counts cover all of them).
MAX_EXAMPLES = 10


class ManifestError(Stage1kitError, ValueError):
    """A manifest is missing, unreadable or does not match the schema; the message names file and field."""


# --------------------------------------------------------------------------- hashing


def config_hash(config: Mapping[str, Any]) -> str:
    """sha256 of the config as canonical JSON (sorted keys), so equal configs hash equal."""
    canonical = json.dumps(_jsonable(config), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()



def _is_own_manifest(path: Path, manifest: Path) -> bool:
    """The manifest of a directory lives inside it; it (and its temp files) is not part of the output."""
    return path == manifest or (path.parent == manifest.parent and path.name.startswith(f".{manifest.name}."))


def _directory_files(directory: Path, manifest: Path) -> dict[str, str]:
    files = {}
    directory, manifest = directory.resolve(), manifest.resolve()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        if not _is_own_manifest(path, manifest):
            files[path.relative_to(directory).as_posix()] = file_sha256(path)
    return files


def _directory_digest(files: Mapping[str, str]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(f"{name}\0{files[name]}\n".encode("utf-8"))
    return digest.hexdigest()


def _count_records(path: Path) -> int | None:
    if path.suffix != ".jsonl":
        return None
    try:
        return sum(1 for _ in iter_records(path))
    except RecordError:
        return None


def _relative(path: Path, base: Path) -> str:
    return Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()


def file_entry(path: str | Path, manifest: Path) -> dict[str, Any]:
    """What a manifest records about one input or output (a file or a directory of files)."""
    path = Path(path)
    base = manifest.parent
    if path.is_dir():
        files = _directory_files(path, manifest)
        size = sum((path / name).stat().st_size for name in files)
        return {
            "path": _relative(path, base),
            "kind": "directory",
            "sha256": _directory_digest(files),
            "bytes": size,
            "records": None,
            "files": files,
        }
    if not path.is_file():
        raise ManifestError(f"{manifest}: cannot record {path}: no such file or directory")
    return {
        "path": _relative(path, base),
        "kind": "file",
        "sha256": file_sha256(path),
        "bytes": path.stat().st_size,
        "records": _count_records(path),
    }


# --------------------------------------------------------------------------- contamination scan


@dataclass
class ContaminationScan:
    """Chat markers and role/content structures found in the records of a dataset."""

    text_fields: tuple[str, ...] = ()
    records_scanned: int = 0
    strings_scanned: int = 0
    markers: dict[str, int] = field(default_factory=dict)
    role_content: int = 0
    non_text: int = 0
    contaminated_records: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.markers or self.role_content or self.non_text)

    def scan_file(self, path: Path) -> None:
        for line, record in enumerate(iter_records(path), start=1):
            self.records_scanned += 1
            where = f"{path.name}:{line} (id {record.get('id', '?')!r})"
            if self._scan_record(record, where):
                self.contaminated_records += 1

    def _scan_record(self, record: Mapping[str, Any], where: str) -> bool:
        found = False
        for name in self.text_fields:
            if name in record and not _is_text(record[name]):
                self.non_text += 1
                found = self._note(f"{where} field '{name}': {type(record[name]).__name__}, not plain text")
        for field_path, value in _walk(record, ""):
            if isinstance(value, str):
                self.strings_scanned += 1
                hits = find_markers(value)
                for marker in hits:
                    self.markers[marker] = self.markers.get(marker, 0) + 1
                if hits:
                    found = self._note(f"{where} field '{field_path}': chat marker {', '.join(hits)}")
            elif isinstance(value, Mapping) and "role" in value and "content" in value:
                self.role_content += 1
                found = self._note(f"{where} field '{field_path}': a role/content message")
        return found

    def _note(self, example: str) -> bool:
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(example)
        return True

    def to_dict(self) -> dict[str, Any]:
        return {
            "clean": self.clean,
            "records_scanned": self.records_scanned,
            "strings_scanned": self.strings_scanned,
            "text_fields": list(self.text_fields),
            "markers": dict(sorted(self.markers.items())),
            "role_content": self.role_content,
            "non_text": self.non_text,
            "contaminated_records": self.contaminated_records,
            "examples": list(self.examples),
        }


def _is_text(value: Any) -> bool:
    """A plain string, or a list of plain strings (e.g. a judgement's candidates)."""
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every value nested in a record with its dotted path (``candidates[2]``, ``provenance.seed``)."""
    yield path, value
    if isinstance(value, Mapping):
        for key, child in value.items():
            yield from _walk(child, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _walk(child, f"{path}[{index}]")


def scan_contamination(paths: Iterable[Path], text_fields: Sequence[str] = ()) -> ContaminationScan:
    """Scan every JSONL file in ``paths`` (directories: the JSONL files inside them)."""
    scan = ContaminationScan(text_fields=tuple(text_fields))
    for path in paths:
        files = sorted(path.rglob("*.jsonl")) if path.is_dir() else [path] if path.suffix == ".jsonl" else []
        for data_file in files:
            try:
                scan.scan_file(data_file)
            except RecordError as exc:
                raise ManifestError(f"contamination scan of {data_file} failed: {exc}") from exc
    return scan


# --------------------------------------------------------------------------- verdict


def qc_value(qc: Mapping[str, Any], dotted: str) -> Any:
    """``qc["a"]["b"]`` for ``"a.b"``; a flat key containing dots wins."""
    if dotted in qc:
        return qc[dotted]
    node: Any = qc
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def threshold_failures(qc: Mapping[str, Any], thresholds: Mapping[str, float]) -> list[str]:
    """Reasons ``qc`` misses ``{"min_<metric>": x, "max_<metric>": x}``; [] when it meets them all."""
    reasons = []
    for key, bound in sorted(thresholds.items()):
        try:
            kind, metric = parse_threshold_key(key)
        except ValueError as exc:
            reasons.append(f"threshold {exc}")
            continue
        value = qc_value(qc, metric)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            reasons.append(f"threshold '{key}': qc has no numeric metric '{metric}'")
        elif kind == "min" and value < bound:
            reasons.append(f"{metric} = {value:g} is below {key} = {bound:g}")
        elif kind == "max" and value > bound:
            reasons.append(f"{metric} = {value:g} is above {key} = {bound:g}")
    return reasons


def judge_verdict(
    qc: Mapping[str, Any],
    thresholds: Mapping[str, float],
    contamination: Mapping[str, Any],
    audit: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """pass unless a threshold is missed, record ids repeat, a text field is contaminated or the audit had findings."""
    reasons = threshold_failures(qc, thresholds)
    duplicates = duplicates_reason(qc)
    if duplicates:
        reasons.append(duplicates)
    if not contamination.get("clean", False):
        shown = "; ".join(contamination.get("examples", [])[:3])
        reasons.append(f"contamination: {contamination.get('contaminated_records', '?')} record(s) with chat markers or role/content structures ({shown})")
    if audit is not None and audit.get("clean") is not True:
        reasons.append(f"audit had {audit.get('findings', '?')} finding(s): run `stage1kit audit` on the code that produced this data")
    return {"status": "fail" if reasons else "pass", "thresholds": dict(thresholds), "reasons": reasons}


def verdict_of(manifest: Mapping[str, Any] | None) -> str | None:
    """A manifest's verdict status, ``"pass"`` or ``"fail"``; None for no manifest."""
    verdict = (manifest or {}).get("verdict")
    return verdict.get("status") if isinstance(verdict, Mapping) else None


def verdict_reasons(manifest: Mapping[str, Any] | None) -> list[str]:
    """The failed checks a manifest's verdict lists ([] when it passed)."""
    verdict = (manifest or {}).get("verdict")
    return [str(r) for r in verdict.get("reasons", [])] if isinstance(verdict, Mapping) else []


# --------------------------------------------------------------------------- schema


@lru_cache(maxsize=1)
def manifest_schema() -> dict[str, Any]:
    """The JSON Schema every manifest validates against (shipped as package data)."""
    return json.loads(resources.files("stage1kit").joinpath(SCHEMA_FILE).read_text(encoding="utf-8"))


def schema_problems(manifest: Any) -> list[str]:
    """Every schema violation, each naming the field (``outputs[0].sha256``) and what is wrong."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(manifest_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)
    problems = []
    for error in sorted(validator.iter_errors(manifest), key=lambda e: [str(p) for p in e.absolute_path]):
        if error.context:  # "not valid under any of the given schemas": say what the matching-type one wants
            error = next((c for c in error.context if c.validator != "type"), error.context[0])
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
        problems.append(f"{where or '(top level)'}: {error.message}")
    return problems


def _jsonable(value: Any) -> Any:
    """Plain JSON values: tuples become lists, paths and other objects their strings."""
    return json.loads(json.dumps(value, default=str))


# --------------------------------------------------------------------------- public API


def write_manifest(
    stage: str,
    output: str | Path,
    *,
    inputs: Iterable[str | Path] = (),
    config: Mapping[str, Any] | None = None,
    model: Mapping[str, Any] | None = None,
    plugins: Mapping[str, Any] | None = None,
    qc: Mapping[str, Any] | None = None,
    thresholds: Mapping[str, float] | None = None,
    audit: Mapping[str, Any] | None = None,
    text_fields: Sequence[str] = (),
    warnings: Sequence[str] = (),
) -> dict[str, Any]:
    """Hash, scan and judge ``output`` and write its manifest beside it (atomically); return it.

    ``warnings`` are what the user must know even when the verdict passes (the run summary prints
    them), e.g. a target the stage could not reach.

    ``output`` is a data file (manifest ``x.manifest.json``) or a directory (``dir/manifest.json``,
    every file in it hashed). ``text_fields`` name the fields that must hold plain text; every
    string anywhere in every record is scanned for chat markers regardless. A manifest that would
    not validate is never written, so a bad call leaves the previous manifest in place.
    """
    output = Path(output)
    path = manifest_path_for(output)
    if not output.exists():
        raise ManifestError(f"{path}: the output {output} does not exist; write the data before its manifest")
    config = _jsonable(dict(config or {}))
    qc = _jsonable(dict(qc or {}))
    thresholds = _jsonable(dict(thresholds or {}))
    audit = _jsonable(dict(audit)) if audit is not None else None
    contamination = scan_contamination([output], text_fields).to_dict()
    out_entry = file_entry(output, path)
    if out_entry["records"] is not None:
        qc.setdefault("records", out_entry["records"])
        duplicates = duplicate_ids_in(output)
        if duplicates:
            qc[DUPLICATES_QC_KEY] = duplicates.to_qc()
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "stage": stage,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "stage1kit_version": _stage1kit_version(),
        "inputs": [file_entry(p, path) for p in inputs],
        "outputs": [out_entry],
        "config": config,
        "config_hash": config_hash(config),
        "model": _jsonable(dict(model)) if model is not None else None,
        "plugins": _jsonable({str(k): v for k, v in (plugins or {}).items()}),
        "qc": qc,
        "warnings": [str(w) for w in warnings],
        "contamination": contamination,
        "audit": audit,
        "verdict": judge_verdict(qc, thresholds, contamination, audit),
    }
    problems = schema_problems(manifest)
    if problems:
        raise ManifestError(f"{path}: refusing to write an invalid manifest: " + "; ".join(problems))
    atomic_write_text(path, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest


def load_manifest(path: str | Path) -> dict[str, Any]:
    """Read and schema-validate a manifest; :class:`ManifestError` names the file and the field."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: no manifest here; the stage that writes the data writes its manifest beside it")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path}: not valid JSON ({exc}); rebuild the data with its stage") from exc
    if isinstance(manifest, dict) and isinstance(manifest.get("schema_version"), int) and manifest["schema_version"] > SCHEMA_VERSION:
        raise ManifestError(
            f"{path}: field 'schema_version' is {manifest['schema_version']}, newer than this stage1kit "
            f"understands ({SCHEMA_VERSION}); upgrade stage1kit"
        )
    problems = schema_problems(manifest)
    if problems:
        raise ManifestError(f"{path}: does not match the manifest schema: " + "; ".join(problems))
    return manifest


def verify_manifest(path: str | Path) -> list[str]:
    """Re-hash every input and output and re-check the recorded verdict; [] means all is as recorded.

    A verdict of ``fail`` is not a problem here (the manifest is then honest about the data);
    a verdict that does not follow from the recorded QC, thresholds, scan and audit is.
    """
    path = Path(path)
    try:
        manifest = load_manifest(path)
    except ManifestError as exc:
        return [str(exc)]
    problems = []
    for role in ("outputs", "inputs"):
        for entry in manifest[role]:
            problems += _entry_problems(entry, path, role[:-1])
    problems += _unrecorded_duplicates(manifest, path)
    if config_hash(manifest["config"]) != manifest["config_hash"]:
        problems.append(f"{path}: field 'config_hash' does not match field 'config' (the manifest was edited)")
    expected = judge_verdict(manifest["qc"], manifest["verdict"]["thresholds"], manifest["contamination"], manifest["audit"])
    if expected["status"] != manifest["verdict"]["status"]:
        problems.append(
            f"{path}: field 'verdict.status' says {manifest['verdict']['status']}, but the recorded QC gives "
            f"{expected['status']}" + (f" ({'; '.join(expected['reasons'])})" if expected["reasons"] else "")
        )
    return problems


def _unrecorded_duplicates(manifest: Mapping[str, Any], path: Path) -> list[str]:
    """Duplicated record ids in a JSONL output that the manifest does not own up to.

    A manifest that records them has already failed its verdict (honest, not a problem); one
    written before ids were checked, or over data that changed, would otherwise vouch for them.
    """
    problems = []
    for entry in manifest["outputs"]:
        target = (path.parent / entry["path"]).resolve()
        if entry["records"] is None or not target.is_file():
            continue
        try:
            duplicates = duplicate_ids_in(target)
        except RecordError:
            continue  # the record count check already reports an unreadable file
        if duplicates and len(duplicates.occurrences) != recorded_duplicates(manifest["qc"]):
            problems.append(
                f"output {entry['path']}: {duplicates.describe()}, which the manifest does not record; "
                "two runs wrote into one run directory? delete the file and its manifest and rerun its stage"
            )
    return problems


def _entry_problems(entry: Mapping[str, Any], manifest: Path, role: str) -> list[str]:
    target = (manifest.parent / entry["path"]).resolve()
    name = f"{role} {entry['path']}"
    if not target.exists():
        return [f"{name}: missing (expected at {target})"]
    if entry["kind"] == "directory":
        if not target.is_dir():
            return [f"{name}: expected a directory, found a file"]
        return _directory_problems(name, entry["files"], _directory_files(target, manifest))
    if not target.is_file():
        return [f"{name}: expected a file, found a directory"]
    problems = []
    if file_sha256(target) != entry["sha256"]:
        problems.append(f"{name}: sha256 differs from the manifest (the file changed after it was recorded)")
    records = _count_records(target)
    if entry["records"] is not None and records != entry["records"]:
        problems.append(f"{name}: {records} records, the manifest says {entry['records']}")
    return problems


def _directory_problems(name: str, recorded: Mapping[str, str], found: Mapping[str, str]) -> list[str]:
    problems = [f"{name}: file {f} is missing" for f in sorted(set(recorded) - set(found))]
    problems += [f"{name}: file {f} was added after the manifest" for f in sorted(set(found) - set(recorded))]
    problems += [f"{name}: file {f} changed (sha256 differs)" for f in sorted(set(recorded) & set(found)) if recorded[f] != found[f]]
    return problems


def is_up_to_date(output: str | Path, *, inputs: Iterable[str | Path], config: Mapping[str, Any]) -> bool:
    """True when ``output``'s manifest records these very inputs (by content) and this config.

    A stage calls this to skip work already done. The output itself must still match its hashes,
    so an edited or half-written output is recomputed. The verdict is not considered: the same
    inputs and config would produce the same data again.
    """
    return stale_reason(output, inputs=inputs, config=config) is None


def stale_reason(output: str | Path, *, inputs: Iterable[str | Path], config: Mapping[str, Any]) -> str | None:
    """Why ``output`` must be (re)computed, in words for the user; None when it is up to date."""
    output = Path(output)
    path = manifest_path_for(output)
    if not output.exists():
        return f"no {output.name} yet"
    if not path.is_file():
        return f"{output.name} has no manifest (an interrupted run)"
    try:
        manifest = load_manifest(path)
    except ManifestError as exc:
        return f"its manifest cannot be read ({exc})"
    if manifest["config_hash"] != config_hash(dict(config)):
        return "its settings (or the model) changed"
    recorded = {(path.parent / e["path"]).resolve(): e["sha256"] for e in manifest["inputs"]}
    wanted = [Path(p) for p in inputs]
    missing = [p.name for p in wanted if not p.exists()]
    if missing:
        return f"input {', '.join(missing)} is missing"
    if {p.resolve() for p in wanted} != set(recorded):
        return "it was made from other input files"
    changed = [p.name for p in wanted if file_entry(p, path)["sha256"] != recorded[p.resolve()]]
    if changed:
        return f"input {', '.join(changed)} changed"
    if any(_entry_problems(e, path, "output") for e in manifest["outputs"]):
        return f"{output.name} was changed after its manifest was written"
    return None


def _stage1kit_version() -> str:
    from stage1kit import __version__

    return str(__version__)
