"""Run stages of the catalogue in order: checks up front, then per stage: audit gate, run, summary.

Resume rules, per stage:
- its manifests match its inputs' hashes and its cache key -> skipped;
- otherwise it runs (saying why) and writes beside its old output, which it replaces only when the
  new one is complete -- a failed rerun leaves the previous result intact; a changed output makes
  every downstream stage stale in turn, and nothing upstream is touched;
- an interrupted stage resumes from its staged records when it was started the same way.
Before anything runs, every setting is validated, every plugin of the selected stages is built, and
the model's config and tokenizer are opened. Before every stage the audit runs in-process over the
user's code and the plugin packages the stage will run; a finding stops the run before any model is
loaded, and the audit summary goes into the stage's manifests.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stage1kit.config import PipelineConfig
from stage1kit.errors import Stage1kitError
from stage1kit.models import ModelAccess
from stage1kit.stages.base import Stage, StageContext, StageOutcome
from stage1kit.stages.catalogue import CATALOGUE, stage_names

if TYPE_CHECKING:
    from stage1kit.shards import ShardSpec


class PipelineError(Stage1kitError):
    """A stage could not run; the message says which and why."""


class VerdictFailed(Stage1kitError):
    """A stage finished but its manifest's verdict is fail; the message lists the failed checks."""


def select_stages(start: str | None, until: str | None, catalogue: Sequence[Stage] = CATALOGUE) -> list[Stage]:
    """The stages from ``start`` to ``until`` inclusive, in catalogue order."""
    names = stage_names(catalogue)
    for name in (start, until):
        if name is not None and name not in names:
            raise PipelineError(f"unknown stage '{name}'; stages are {', '.join(names)}")
    first = names.index(start) if start else 0
    last = names.index(until) if until else len(names) - 1
    if first > last:
        raise PipelineError(f"--from {start} comes after --until {until}")
    return list(catalogue[first : last + 1])


def stage_plugin_modules(config: PipelineConfig, stage: Stage, registry: Any) -> list[str]:
    """The plugin packages whose code ``stage`` will run (audited before it starts)."""
    from stage1kit.audit_gate import plugin_modules

    return plugin_modules(registry.get(use.kind, use.name) for use in stage.plugins(config))


def check_before_running(
    config: PipelineConfig, registry: Any, stages: Sequence[Stage], models: ModelAccess
) -> dict[str, dict[str, Any]]:
    """Everything that can be checked without loading weights, before any output is touched.

    Returns each stage's audit summary (the user's code and the plugin packages that stage runs),
    which goes into that stage's manifests; a finding stops the run here.
    """
    from stage1kit.audit_gate import run_audit_gate
    from stage1kit.config import ConfigError, config_problems

    problems = config_problems(config, registry, stages)
    if problems:
        raise ConfigError("\n".join(problems))
    audits = {
        stage.name: run_audit_gate(
            stage.name, user_paths=config.user_code, modules=stage_plugin_modules(config, stage, registry)
        )
        for stage in stages
    }
    models.preflight()
    return audits


@dataclass
class Pipeline:
    """One run of a config: ``Pipeline(config, registry).run(stages)``."""

    config: PipelineConfig
    registry: Any
    show_progress: bool = True
    echo: Callable[[str], None] = print
    models: ModelAccess | None = None
    outcomes: list[StageOutcome] = field(default_factory=list)
    #: compute only this shard of each stage (``stage1kit responses --shard I/N``); the merge comes later
    shard: "ShardSpec | None" = None

    def __post_init__(self) -> None:
        if self.models is None:
            self.models = ModelAccess(self.config.model, self.config.model_id)

    def context(self, audit: dict[str, Any] | None = None) -> StageContext:
        assert self.models is not None
        return StageContext(self.config, self.registry, self.models, audit, self.show_progress, self.echo)

    def run(self, stages: Sequence[Stage]) -> list[StageOutcome]:
        assert self.models is not None
        for plugin in self.registry.errors:  # skipped, not fatal: but the user must see it
            self.echo(f"warning: plugin '{plugin.name}' ({plugin.distribution}) failed to load and is skipped: {plugin.error}")
        if self.shard is not None:
            from stage1kit.shards import check_shardable

            for stage in stages:
                check_shardable(stage)
        audits = check_before_running(self.config, self.registry, stages, self.models)
        run_dir = self.context().run_dir
        for stage in stages:
            if self.shard is not None:
                self.outcomes.append(self.run_shard(stage, audits[stage.name]))
                continue
            reason = stage.stale_reason(self.config, run_dir)
            if reason is None:
                outcome = skipped_outcome(stage, run_dir)
                self.echo(f"[{stage.name}] up to date (manifest matches inputs and config); skipped")
            else:
                self._check_inputs(stage)
                self.echo(f"[{stage.name}] running: {reason}")
                started = time.perf_counter()
                outcome = self._run_stage(stage, audits[stage.name])
                outcome.seconds = time.perf_counter() - started
                # the summary's counts, read from the manifests as for a skipped stage
                written = skipped_outcome(stage, run_dir)
                outcome.records_in, outcome.records_out = written.records_in, written.records_out
            if outcome.verdict == "fail":
                self.echo(f"[{stage.name}] verdict FAIL: " + "; ".join(outcome.failures or ["see its manifest"]))
            for warning in outcome.warnings:
                self.echo(f"[{stage.name}] warning: {warning}")
            self.outcomes.append(outcome)
        return self.outcomes

    def _run_stage(self, stage: Stage, audit: dict[str, Any] | None) -> StageOutcome:
        """One stage in this process, or as ``[parallel] shards`` workers and a merge."""
        if self.config.parallel.shards > 1 and getattr(stage, "work_list", None):
            from stage1kit.launchers import run_sharded

            assert self.models is not None
            self.models.release()  # the workers load their own copies (on their own GPUs)
            return run_sharded(stage, self.context(audit))
        return stage.run(self.context(audit), self.config.stages[stage.name])

    def run_shard(self, stage: Stage, audit: dict[str, Any] | None) -> StageOutcome:
        """This pipeline's shard of ``stage``: skipped when its shard file is up to date."""
        from stage1kit.manifest import stale_reason

        assert self.shard is not None
        run_dir = self.context().run_dir
        if stage.stale_reason(self.config, run_dir) is None:  # merged already (an array task run again)
            self.echo(f"[{stage.name}] up to date (merged; manifest matches inputs and config); shard {self.shard} skipped")
            return skipped_outcome(stage, run_dir)
        (output,) = stage.output_paths(run_dir)
        data = self.shard.path(output)
        reason = stale_reason(data, inputs=stage.input_paths(run_dir), config=stage.cache_key(self.config))
        if reason is None:
            self.echo(f"[{stage.name}] shard {self.shard} up to date ({data.name}); skipped")
            return skipped_outcome(stage, run_dir, [data])
        self._check_inputs(stage)
        self.echo(f"[{stage.name}] running shard {self.shard} into {data.name}: {reason}")
        started = time.perf_counter()
        outcome = stage.run(replace(self.context(audit), shard=self.shard), self.config.stages[stage.name])
        outcome.seconds = time.perf_counter() - started
        return outcome

    def _check_inputs(self, stage: Stage) -> None:
        run_dir = self.context().run_dir
        for name in stage.inputs:
            if not run_dir.artifact(name).exists():
                producer = next((s.name for s in CATALOGUE if name in s.outputs), name)
                raise PipelineError(
                    f"stage '{stage.name}' needs {run_dir.artifact(name)}, which stage '{producer}' writes; "
                    f"run `stage1kit {producer.replace('-', ' ')}` first (or `stage1kit run CONFIG --from {producer}`)"
                )


def skipped_outcome(stage: Stage, run_dir: Any, outputs: list[Path] | None = None) -> StageOutcome:
    """The outcome of an up-to-date stage, with its figures read back from its manifests; "in" is
    the records of its first JSONL input, "out" those of its outputs (default: the stage's own;
    a shard's file for a shard)."""
    from stage1kit.manifest import load_manifest, verdict_of, verdict_reasons
    from stage1kit.rundir import manifest_path_for

    outputs = outputs or stage.output_paths(run_dir)
    outcome = StageOutcome(stage=stage.name, skipped=True, outputs=outputs)
    verdicts = set()
    for name, output in zip(stage.outputs, outputs):
        manifest = load_manifest(manifest_path_for(output))
        jsonl_inputs = [e for e in manifest["inputs"] if str(e["path"]).endswith(".jsonl")]
        outcome.records_in = int(jsonl_inputs[0].get("records") or 0) if jsonl_inputs else 0
        outcome.records_out += sum(e.get("records") or 0 for e in manifest["outputs"])
        verdicts.add(verdict_of(manifest))
        outcome.failures += verdict_reasons(manifest)
        outcome.warnings += list(manifest.get("warnings", []))
        qc = manifest.get("qc") or {}
        # the summary shows a skipped stage's QC figures as it showed them when the stage ran
        outcome.stats |= {name: qc} if len(outputs) > 1 else qc
    outcome.verdict = "fail" if "fail" in verdicts else ("pass" if verdicts else None)
    return outcome
