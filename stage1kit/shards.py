"""Data-parallel shards of the work-list stages (``responses``, ``judge``) and their merge.

Shard ``i`` of ``n`` takes a contiguous block of the stage's work list, by position in the *whole*
list. The stage is handed the whole list with every item outside the block counted as done, so its
batches (and their seeds, which follow their position) are cut exactly as in a single-process run:
a batch that straddles a block boundary is computed whole by both neighbours and each writes only
its own items. Merged, the shards equal the single-process output record for record.

A shard writes ``<stage output>.shard-<i>-of-<n>.jsonl`` and its manifest beside the final output
(``responses.shard-00-of-04.jsonl``), never the final output itself. :func:`merge_shards` checks that
every shard is there, finished, and made from the same config and inputs, then writes the final
output and manifest exactly as a single-process run would, and only then removes the shard files.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stage1kit.errors import Stage1kitError
from stage1kit.rundir import RunDir, manifest_path_for

if TYPE_CHECKING:
    from stage1kit.stages.base import Stage, StageOutcome


class ShardError(Stage1kitError, ValueError):
    """A shard spec is malformed, a stage cannot be sharded, or shards cannot be merged."""


@dataclass(frozen=True)
class ShardSpec:
    """Shard ``index`` (0-based) of ``count``."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ShardError(f"shard {self.index}/{self.count}: need 0 <= I < N (shards are numbered from 0)")

    @classmethod
    def parse(cls, text: str) -> "ShardSpec":
        """``"2/4"`` -> shard 2 of 4 (``--shard $SLURM_ARRAY_TASK_ID/$N`` with ``--array=0-(N-1)``)."""
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if not match:
            raise ShardError(f"--shard {text!r}: expected I/N, e.g. 0/4 for the first of four shards")
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def block(self, total: int) -> range:
        """The positions of the work list this shard computes: contiguous, sizes differ by at most one."""
        return range(self.index * total // self.count, (self.index + 1) * total // self.count)

    def outside(self, ids: Sequence[str]) -> set[str]:
        """The ids of ``ids`` (the whole work list, in order) that other shards compute."""
        block = self.block(len(ids))
        return {item for position, item in enumerate(ids) if position not in block}

    @property
    def tag(self) -> str:
        width = max(2, len(str(self.count - 1)))
        return f"shard-{self.index:0{width}d}-of-{self.count:0{width}d}"

    def path(self, output: Path) -> Path:
        """``responses.jsonl`` -> ``responses.shard-00-of-04.jsonl``."""
        return output.with_name(f"{output.stem}.{self.tag}{output.suffix}")

    def log_path(self, output: Path) -> Path:
        """Where a launched worker's output goes: ``responses.shard-00-of-04.log``."""
        return output.with_name(f"{output.stem}.{self.tag}.log")

    def describe(self) -> dict[str, int]:
        return {"index": self.index, "count": self.count}


# --------------------------------------------------------------------------- which stages


def check_shardable(stage: "Stage") -> None:
    """Only stages that map a work list item by item can be split; say why otherwise."""
    if getattr(stage, "work_list", None):
        return
    if stage.name == "instructions":
        raise ShardError(
            "the instructions stage cannot be sharded: it grows its pool round by round, each round prompted "
            "with instructions the earlier rounds accepted; run it in one process (--shard works for responses and judge)"
        )
    raise ShardError(f"the {stage.name} stage cannot be sharded: it has no work list to split; --shard works for responses and judge")


def work_ids(stage: "Stage", run_dir: RunDir) -> list[str]:
    """The stage's work list as instruction ids, in order (what shard blocks and merge order follow)."""
    from stage1kit.stages.base import read_input

    artifact, key = stage.work_list  # type: ignore[attr-defined]
    producer = next(s.name for s in _catalogue() if artifact in s.outputs)
    return [str(r[key]) for r in read_input(run_dir.artifact(artifact), (key,), producer)]


def _catalogue() -> Sequence["Stage"]:
    from stage1kit.stages.catalogue import CATALOGUE

    return CATALOGUE


# --------------------------------------------------------------------------- finding shards


#: a shard's data file, finished or still being written (``.partial``)
SHARD_NAME = re.compile(r"^(?P<stem>.+)\.shard-(?P<index>\d+)-of-(?P<count>\d+)(\.partial)?\.jsonl$")


def shard_counts(output: Path) -> set[int]:
    """The shard counts of the finished or unfinished shard files of ``output`` in its folder."""
    counts = set()
    for path in output.parent.glob(f"{output.stem}.shard-*-of-*.jsonl"):
        match = SHARD_NAME.match(path.name)
        if match and match.group("stem") == output.stem:
            counts.add(int(match.group("count")))
    return counts


def shard_files(output: Path, spec: ShardSpec) -> list[Path]:
    """Everything a shard leaves beside ``output``: data, manifest, staging file, marker, log."""
    from stage1kit.resume import progress_marker
    from stage1kit.stages.base import staging_path

    data = spec.path(output)
    staged = staging_path(data)
    return [data, manifest_path_for(data), staged, progress_marker(staged), spec.log_path(output)]


# --------------------------------------------------------------------------- merge


@dataclass
class ShardManifests:
    """The checked manifests of shards 0..n-1 of one stage."""

    output: Path
    count: int
    manifests: list[dict[str, Any]]


def check_shards(stage: "Stage", run_dir: RunDir, count: int, expected_config: dict[str, Any] | None = None) -> ShardManifests:
    """Every shard 0..count-1 present, finished, unchanged, from one config and today's inputs.

    ``expected_config`` (the stage's cache key, when the caller has the config) must be the one the
    shards were made with. Raises :class:`ShardError` naming the shard, its file and the field.
    """
    from stage1kit.manifest import ManifestError, config_hash, load_manifest, stale_reason
    from stage1kit.stages.base import staging_path

    (output,) = stage.output_paths(run_dir)
    inputs = stage.input_paths(run_dir)
    manifests: list[dict[str, Any]] = []
    for index in range(count):
        spec = ShardSpec(index, count)
        data = spec.path(output)
        if not data.exists() and staging_path(data).exists():
            raise ShardError(
                f"shard {spec} of {stage.name} did not finish: only {staging_path(data).name} is there; "
                f"rerun it ({_rerun_hint(stage, spec)}: it resumes) and merge again"
            )
        if not data.exists() and not manifest_path_for(data).exists():
            raise ShardError(f"shard {spec} of {stage.name} is missing: no {data}; run it ({_rerun_hint(stage, spec)}) and merge again")
        try:
            manifest = load_manifest(manifest_path_for(data))
        except ManifestError:
            raise ShardError(
                f"shard {spec} of {stage.name} did not finish: {data.name} has no (readable) manifest {manifest_path_for(data).name}; "
                f"rerun it ({_rerun_hint(stage, spec)}) and merge again"
            ) from None
        _check_same(stage, spec, data, manifest, manifests[0] if manifests else None, expected_config)
        reason = stale_reason(data, inputs=inputs, config=manifest["config"])
        if reason:
            raise ShardError(f"shard {spec} of {stage.name} ({data.name}) is out of date: {reason}; rerun it ({_rerun_hint(stage, spec)}) and merge again")
        if manifest["config_hash"] != config_hash(manifest["config"]):
            raise ShardError(f"shard {spec} of {stage.name}: {manifest_path_for(data).name} field 'config_hash' does not match its 'config' (edited?)")
        manifests.append(manifest)
    return ShardManifests(output, count, manifests)


def _check_same(
    stage: "Stage", spec: ShardSpec, data: Path, manifest: dict[str, Any], first: dict[str, Any] | None, expected: dict[str, Any] | None
) -> None:
    """A shard's manifest agrees with shard 0's (and with the caller's config): stage, config, inputs."""
    from stage1kit.manifest import config_hash

    where = f"shard {spec} of {stage.name} ({manifest_path_for(data).name})"
    if manifest["stage"] != stage.name:
        raise ShardError(f"{where}: field 'stage' is {manifest['stage']!r}, not {stage.name!r}")
    if expected is not None and manifest["config_hash"] != config_hash(expected):
        fields = _differing_keys(manifest["config"], _plain(expected))
        raise ShardError(
            f"{where}: made with another config than this run's (field 'config_hash'; differing: {', '.join(fields) or '?'}); "
            f"delete the {stage.name} shard files and rerun"
        )
    if first is None:
        return
    if manifest["config_hash"] != first["config_hash"]:
        fields = _differing_keys(first["config"], manifest["config"])
        raise ShardError(
            f"{where}: field 'config_hash' differs from shard 0's (config keys {', '.join(fields) or '?'}): "
            "the shards were run with different settings; rerun the odd ones with the same options"
        )
    ours, theirs = _input_hashes(manifest), _input_hashes(first)
    if ours != theirs:
        names = sorted(n for n in set(ours) | set(theirs) if ours.get(n) != theirs.get(n))
        raise ShardError(f"{where}: field 'inputs' differs from shard 0's ({', '.join(names)}): the shards read different input files")


def _input_hashes(manifest: dict[str, Any]) -> dict[str, str]:
    return {Path(e["path"]).name: e["sha256"] for e in manifest["inputs"]}


def _plain(config: dict[str, Any]) -> Any:
    import json

    return json.loads(json.dumps(config, default=str))


def _differing_keys(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two configs (what the error names)."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = sorted(set(a) | set(b))
        return [d for k in keys for d in _differing_keys(a.get(k), b.get(k), f"{prefix}{k}.")]
    return [] if a == b else [prefix.rstrip(".")]


def _rerun_hint(stage: "Stage", spec: ShardSpec) -> str:
    return f"`stage1kit {stage.name} --shard {spec} ...` with the same options, or `stage1kit run` with [parallel] shards = {spec.count}"


def merge_shards(stage: "Stage", run_dir: RunDir, count: int | None = None, expected_config: dict[str, Any] | None = None) -> "StageOutcome":
    """Check shards 0..n-1, write the stage's final output and manifest, then remove the shard files.

    Nothing is written before every check passes, and the final output replaces the previous one
    only once complete; shard files go last. ``count`` defaults to the one count found on disk.
    """
    import time

    check_shardable(stage)
    started = time.perf_counter()
    (output,) = stage.output_paths(run_dir)
    count = count or _only_count(stage, output)
    checked = check_shards(stage, run_dir, count, expected_config)
    records = _ordered_records(stage, run_dir, checked)
    outcome = stage.write_merged(run_dir, records, checked.manifests)  # type: ignore[attr-defined]
    for index in range(count):
        for path in shard_files(output, ShardSpec(index, count)):
            path.unlink(missing_ok=True)
    outcome.seconds = time.perf_counter() - started
    return outcome


def _only_count(stage: "Stage", output: Path) -> int:
    counts = shard_counts(output)
    if not counts:
        raise ShardError(f"no shard files of {stage.name} in {output.parent} (expected {output.stem}.shard-00-of-NN.jsonl ...)")
    if len(counts) > 1:
        raise ShardError(
            f"{output.parent} holds {stage.name} shards of different runs ({', '.join(f'of {c}' for c in sorted(counts))}); "
            "pass --shards N to say which to merge, and delete the others"
        )
    return counts.pop()


def _ordered_records(stage: "Stage", run_dir: RunDir, checked: ShardManifests) -> list[dict[str, Any]]:
    """The shards' records in work-list order; each shard must hold exactly its block."""
    from stage1kit.records import read_records

    ids = work_ids(stage, run_dir)
    position = {item: n for n, item in enumerate(ids)}
    merged: list[dict[str, Any]] = []
    for index in range(checked.count):
        spec = ShardSpec(index, checked.count)
        data = spec.path(checked.output)
        records = read_records(data)
        wanted = [ids[n] for n in spec.block(len(ids))]
        got = [str(r.get("instruction_id")) for r in records]
        missing = [i for i in wanted if i not in set(got)]
        extra = [i for i in got if i not in set(wanted)]
        if missing or extra or len(got) != len(wanted):
            detail = f"missing {missing[:3]}" if missing else f"holds {extra[:3]} of other shards" if extra else "repeats ids"
            raise ShardError(f"shard {spec} of {stage.name} ({data.name}): does not hold exactly its {len(wanted)} work items ({detail}); rerun it")
        merged += sorted(records, key=lambda r: position[str(r["instruction_id"])])
    return merged
