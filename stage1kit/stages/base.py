"""The stage contract: what every stage declares, the context it runs in, and the JSONL stage base.

A stage is an object. It declares its name, its config table and settings type, the run-directory
artifacts it reads and writes, the plugins it will run (for the up-front checks, the audit gate and
``doctor``) and its cache key, and implements ``run(ctx, settings)``. The pipeline loop, ``--from`` /
``--until``, the config schema, ``init``, ``doctor`` and the stand-alone commands all read the one
catalogue of stage objects (:mod:`stage1kit.stages.catalogue`), so nothing is wired by hand twice.

:class:`JsonlStage` does what every appending stage shares -- a staging file beside the output, the
in-progress marker, the crash-safe writer, the progress bar, the manifest, the timing -- so a stage
module holds only its own work and its QC. The finished output replaces the previous one only when
it is complete: a failed rerun leaves the previous result intact.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from stage1kit.errors import Stage1kitError
from stage1kit.rundir import RunDir, manifest_path_for

if TYPE_CHECKING:
    from stage1kit.config import PipelineConfig
    from stage1kit.models import ModelAccess
    from stage1kit.plugins import Registry
    from stage1kit.prompting import PromptFormat
    from stage1kit.shards import ShardSpec


class StageInputError(Stage1kitError):
    """A stage's input file is missing or holds a record without the fields the stage needs."""


class StageConfigError(Stage1kitError, ValueError):
    """A stage's settings name a plugin that cannot do the stage's job."""


@dataclass
class StageOutcome:
    """What one stage did, for the end-of-run summary."""

    stage: str
    records_in: int = 0
    records_out: int = 0
    skipped: bool = False
    seconds: float = 0.0
    outputs: list[Path] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    verdict: str | None = None
    #: the failed checks of a "fail" verdict, from the manifest(s)
    failures: list[str] = field(default_factory=list)
    #: what the user must know although the verdict may pass (the manifests' ``warnings``)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PluginUse:
    """One plugin a stage will build: where the config names it, its kind, name and settings."""

    #: the config keys that name the plugin and hold its settings (for error messages)
    name_key: str
    settings_key: str
    kind: str
    name: str
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass
class StageContext:
    """Everything a stage needs besides its own settings: one object instead of threaded parameters."""

    config: "PipelineConfig"
    registry: "Registry"
    models: "ModelAccess"
    audit: dict[str, Any] | None = None
    show_progress: bool = True
    echo: Callable[[str], None] = print
    #: set when this process computes one shard of a work-list stage (see :mod:`stage1kit.shards`)
    shard: "ShardSpec | None" = None

    @property
    def run_dir(self) -> RunDir:
        return RunDir.at(self.config.run_dir)

    def outside_shard(self, ids: "Sequence[str]") -> set[str]:
        """Ids of the whole work list ``ids`` that other shards compute (none outside a shard run):
        a stage counts them as done, so its batches are cut from the whole list as in one process."""
        return self.shard.outside(ids) if self.shard is not None else set()

    def base_model(self) -> Any:
        """The base model as the data stages use it: served by the ``[engine]`` (transformers by default)."""
        return self.models.served(self.config.engine, self.registry)

    def prompt_format(self) -> "PromptFormat":
        """The run's one prompt format (``[prompt]``): sampling, judging, training and evaluation use it."""
        from stage1kit.prompting import PromptFormat

        return PromptFormat.from_settings(self.config.prompt)

    def critic(self) -> Any:
        """The one critic every judging stage uses, built from ``[critic]``."""
        critic = self.config.critic
        return self.registry.create("critics", critic.name, **critic.settings)

    @contextlib.contextmanager
    def progress(self, description: str, total: int, completed: int = 0) -> Iterator[Callable[[int], None]]:
        """Yield ``advance(n)``; a rich progress bar unless the run is quiet."""
        if not self.show_progress:
            yield lambda n=1: None
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, transient=False) as bar:
            task = bar.add_task(description, total=max(total, completed), completed=completed)
            yield lambda n=1: bar.advance(task, n)


class Stage:
    """One step of the pipeline. Subclasses set the class attributes and implement :meth:`run`."""

    #: the stage's name (``--from``/``--until``, manifests, summaries)
    name: ClassVar[str]
    #: its table in the run config (``train.sft`` is ``[train.sft]``)
    table: ClassVar[str]
    settings_type: ClassVar[type]
    #: run-directory artifacts (see :meth:`RunDir.artifact`) it reads and writes
    inputs: ClassVar[tuple[str, ...]] = ()
    outputs: ClassVar[tuple[str, ...]] = ()
    #: whether it judges with the ``[critic]`` (its cache key then covers the critic settings)
    uses_critic: ClassVar[bool] = False
    #: whether its output depends on the ``[prompt]`` format (its cache key then covers it)
    uses_prompt: ClassVar[bool] = False
    #: whether it samples or scores through the ``[engine]`` (its plugin is then checked up front, and
    #: a non-default engine is in the cache key: it samples with its own random numbers)
    uses_engine: ClassVar[bool] = False
    #: QC keys the stand-alone command's summary shows
    summary_keys: ClassVar[tuple[str, ...]] = ()
    #: whether it may run in every process of an ``accelerate launch`` (the train stages: rank 0
    #: alone writes); any other stage writes from each process, so a launch of it is refused
    runs_across_processes: ClassVar[bool] = False

    # ------------------------------------------------------------- declarations

    def settings_from_table(self, table: dict[str, Any], where: str) -> Any:
        """The stage's settings from its config table (or the options of its command)."""
        from stage1kit.settings import build_settings

        return build_settings(self.settings_type, table, where)

    def plugin_uses(self, settings: Any) -> list[PluginUse]:
        """The plugins (other than the critic) this stage builds with these settings."""
        return []

    def plugins(self, config: "PipelineConfig") -> list[PluginUse]:
        uses = self.plugin_uses(config.stages[self.name])
        if self.uses_critic:
            uses = [PluginUse("[critic] name", "[critic] settings", "critics", config.critic.name, dict(config.critic.settings))] + uses
        if self.uses_engine and not config.engine.is_default:
            uses = [PluginUse("[engine] name", "[engine] settings", "engines", config.engine.name, dict(config.engine.settings))] + uses
        return uses

    def check_plugin(self, registry: "Registry", use: PluginUse, settings: Any) -> Any:
        """Build one plugin as the stage will (factories read settings only; no model is loaded)."""
        return registry.create(use.kind, use.name, **use.settings)

    def cache_key(self, config: "PipelineConfig") -> dict[str, Any]:
        """What the stage's manifests hash: if it changes, the stage reruns."""
        key = {
            "stage": self.name,
            "settings": dataclasses.asdict(config.stages[self.name]),
            "model": dataclasses.asdict(config.model) | {"id": config.model_id},
        }
        if self.uses_critic:
            key["critic"] = dataclasses.asdict(config.critic)
        if self.uses_prompt:
            key["prompt"] = dataclasses.asdict(config.prompt)
        if self.uses_engine and not config.engine.is_default:  # the default stays out: older runs stay up to date
            key["engine"] = dataclasses.asdict(config.engine)
        if getattr(config, "iteration", None) is not None:  # links an iteration's manifests to the previous one's
            key["iteration"] = dict(config.iteration)
        return key

    def input_paths(self, run_dir: RunDir) -> list[Path]:
        return [run_dir.artifact(name) for name in self.inputs]

    def output_paths(self, run_dir: RunDir) -> list[Path]:
        return [run_dir.artifact(name) for name in self.outputs]

    def stale_reason(self, config: "PipelineConfig", run_dir: RunDir) -> str | None:
        """None when every output's manifest matches the inputs and the cache key; else why not."""
        from stage1kit.manifest import stale_reason

        key, inputs = self.cache_key(config), self.input_paths(run_dir)
        for output in self.output_paths(run_dir):
            reason = stale_reason(output, inputs=inputs, config=key)
            if reason:
                return reason
        return None

    def run(self, ctx: StageContext, settings: Any) -> StageOutcome:
        raise NotImplementedError


# --------------------------------------------------------------------------- staging outputs


def staging_path(output: Path) -> Path:
    """``x.jsonl`` -> ``x.partial.jsonl``: where a run writes until it is complete."""
    return output.with_name(output.stem + ".partial" + output.suffix)


def replace_output(staged: Path, output: Path) -> None:
    """Put a complete ``staged`` file in place of ``output``. The old manifest goes first, so a
    crash in between leaves data without a manifest (rerun), never new data under an old manifest."""
    manifest_path_for(output).unlink(missing_ok=True)
    os.replace(staged, output)


@dataclass
class Produced:
    """What a JSONL stage's own work reports to the shared part."""

    records_in: int
    plugins: dict[str, Any]
    stats: dict[str, Any] = field(default_factory=dict)


class JsonlStage(Stage):
    """A stage that appends records to one JSONL output and can resume it after a crash."""

    #: the record fields the manifest's contamination scan reads
    text_fields: ClassVar[tuple[str, ...]] = ()
    #: (input artifact, id field) of a stage that maps a work list item by item: it can run as
    #: shards (``--shard I/N``, ``[parallel]``), and its records carry the item's ``instruction_id``
    work_list: ClassVar[tuple[str, str] | None] = None

    def produce(self, ctx: StageContext, settings: Any, sink: Any, existing: list[dict[str, Any]]) -> Produced:
        """Write the stage's records to ``sink``; ``existing`` were written by an interrupted run."""
        raise NotImplementedError

    def qc(self, records: list[dict[str, Any]], produced: Produced, settings: Any) -> dict[str, Any]:
        raise NotImplementedError

    def warnings(self, qc: dict[str, Any], settings: Any) -> list[str]:
        """What the user must know about this output although its verdict may pass (none by default)."""
        return []

    def merged_stats(self, shard_qcs: list[dict[str, Any]]) -> dict[str, Any]:
        """What :meth:`qc` gets as ``produced.stats`` when shards are merged (nothing by default)."""
        return {}

    def run(self, ctx: StageContext, settings: Any) -> StageOutcome:
        from stage1kit.manifest import write_manifest
        from stage1kit.records import RecordWriter, read_records
        from stage1kit.resume import finish_output, start_output

        started = time.perf_counter()
        (output,) = self.output_paths(ctx.run_dir)
        if ctx.shard is not None:  # a shard writes its own file; only the merge writes the output
            output = ctx.shard.path(output)
        inputs, key = self.input_paths(ctx.run_dir), self.cache_key(ctx.config)
        staged = staging_path(output)
        start_output(staged, config=key, inputs=inputs)
        with RecordWriter(staged) as sink:
            existing = read_records(staged)
            produced = self.produce(ctx, settings, sink, existing)
        records = read_records(staged)
        qc = self.qc(records, produced, settings)
        if ctx.shard is not None:
            qc["shard"] = ctx.shard.describe()
        replace_output(staged, output)
        manifest = write_manifest(
            self.name,
            output,
            inputs=inputs,
            config=key,
            model=ctx.base_model().provenance,
            plugins=produced.plugins,
            qc=qc,
            # a shard's verdict checks contamination and the audit; the thresholds apply to the merged whole
            thresholds=settings.thresholds if ctx.shard is None else {},
            audit=ctx.audit,
            text_fields=self.text_fields,
            warnings=self.warnings(qc, settings) if ctx.shard is None else [],
        )
        finish_output(staged)
        return _outcome(self.name, manifest, output, produced.records_in, len(records), qc, started)

    def write_merged(self, run_dir: RunDir, records: list[dict[str, Any]], shard_manifests: list[dict[str, Any]]) -> StageOutcome:
        """Write checked shards' ``records`` (in work-list order) as this stage's output, with the QC,
        thresholds and manifest a single-process run writes (see :func:`stage1kit.shards.merge_shards`)."""
        from stage1kit.manifest import write_manifest
        from stage1kit.records import write_records_atomic
        from stage1kit.resume import finish_output

        started = time.perf_counter()
        first = shard_manifests[0]
        settings = self.settings_from_table(first["config"]["settings"], f"{self.name} shard manifest [settings]")
        inputs = self.input_paths(run_dir)
        records_in = int(first["inputs"][0].get("records") or 0) if first["inputs"] else 0
        produced = Produced(records_in, first["plugins"], self.merged_stats([m["qc"] for m in shard_manifests]))
        (output,) = self.output_paths(run_dir)
        staged = staging_path(output)
        write_records_atomic(staged, records)
        qc = self.qc(records, produced, settings)
        replace_output(staged, output)
        manifest = write_manifest(
            self.name,
            output,
            inputs=inputs,
            config=first["config"],
            model=first["model"],
            plugins=first["plugins"],
            qc=qc,
            thresholds=settings.thresholds,
            # the shards' audits: one with findings speaks for the whole
            audit=next((m["audit"] for m in shard_manifests if m["audit"] and not m["audit"].get("clean")), first["audit"]),
            text_fields=self.text_fields,
            warnings=self.warnings(qc, settings),
        )
        finish_output(staged)
        return _outcome(self.name, manifest, output, records_in, len(records), qc, started)


def _outcome(
    stage: str, manifest: dict[str, Any], output: Path, records_in: int, records_out: int, qc: dict[str, Any], started: float
) -> StageOutcome:
    from stage1kit.manifest import verdict_of, verdict_reasons

    return StageOutcome(
        stage=stage,
        records_in=records_in,
        records_out=records_out,
        seconds=time.perf_counter() - started,
        outputs=[output],
        stats=qc,
        verdict=verdict_of(manifest),
        failures=verdict_reasons(manifest),
        warnings=list(manifest.get("warnings", [])),
    )


# --------------------------------------------------------------------------- shared helpers


def read_input(path: Path, fields: tuple[str, ...], producer: str) -> list[dict[str, Any]]:
    """Records of an upstream stage, each checked for ``fields``; errors say how to make them."""
    from stage1kit.records import read_input_records

    if not path.is_file():
        raise StageInputError(f"{path} does not exist; run `stage1kit {producer}` first")
    records = read_input_records(path)
    for number, record in enumerate(records, start=1):
        for name in fields:
            if name not in record:
                raise StageInputError(
                    f"{path}: record {number} (id {record.get('id', '?')!r}) has no field '{name}'; "
                    f"regenerate the file with `stage1kit {producer}`"
                )
    return records


def model_provenance(loaded: Any) -> dict[str, Any]:
    """What records say about the model: id and revision, and the engine with its version when one
    other than transformers served it (the manifest's ``model.engine`` holds its settings)."""
    provenance = getattr(loaded, "provenance", {}) or {}
    said = {"model_id": provenance.get("model_id"), "model_revision": provenance.get("resolved_revision") or provenance.get("revision")}
    engine = provenance.get("engine")
    if engine:
        said["engine"] = {"name": engine.get("name"), "version": engine.get("version")}
    return said
