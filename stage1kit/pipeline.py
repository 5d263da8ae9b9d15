"""Run the stages of a config in order: audit gate, clean load, stage, manifest, summary.

Resume rules, per stage:
- its manifest matches its inputs' hashes and its config hash -> skipped;
- a manifest exists but no longer matches (config or inputs changed) -> its outputs are removed and
  it reruns, which in turn makes every downstream stage stale; nothing upstream is touched;
- records but no manifest (the stage was interrupted) -> the stage resumes from its records.
Before every stage that loads a model the audit runs in-process over the user's code and the
plugin modules the stage will run; a finding stops the run before any model is loaded.
"""

from __future__ import annotations

from stage1kit.errors import Stage1kitError
import dataclasses
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stage1kit.config import PLUGIN_FIELDS, STAGE_ORDER, STAGES, PipelineConfig
from stage1kit.rundir import RunDir
from stage1kit.stages import StageOutcome


class PipelineError(Stage1kitError):
    """A stage could not run; the message says which and why."""


@dataclass(frozen=True)
class StageFiles:
    """The files a stage reads and writes, as run-directory names."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


STAGE_FILES: dict[str, StageFiles] = {
    "instructions": StageFiles((), ("instructions",)),
    "responses": StageFiles(("instructions",), ("responses",)),
    "judge": StageFiles(("responses",), ("judgements",)),
    "pairs": StageFiles(("judgements",), ("sft", "dpo")),
    "train-sft": StageFiles(("sft",), ("train-sft",)),
    "train-dpo": StageFiles(("dpo", "train-sft"), ("train-dpo",)),
    "evaluate": StageFiles(("sft", "train-dpo"), ("eval",)),
}


def _path(run_dir: RunDir, name: str) -> Path:
    if name.startswith("train-"):
        return run_dir.train_dir(name.split("-", 1)[1])
    if name == "eval":
        return run_dir.eval_dir
    return run_dir.dataset(name)


def select_stages(start: str | None, until: str | None) -> list[str]:
    """The stages from ``start`` to ``until`` inclusive, in pipeline order."""
    for name in (start, until):
        if name is not None and name not in STAGE_ORDER:
            raise PipelineError(f"unknown stage '{name}'; stages are {', '.join(STAGE_ORDER)}")
    first = STAGE_ORDER.index(start) if start else 0
    last = STAGE_ORDER.index(until) if until else len(STAGE_ORDER) - 1
    if first > last:
        raise PipelineError(f"--from {start} comes after --until {until}")
    return list(STAGE_ORDER[first : last + 1])


def stage_config(config: PipelineConfig, stage: str) -> dict[str, Any]:
    """What a stage's config hash covers: its settings (seed included) and the model.

    The pairs stage also covers the held-out count, which decides what it may train on.
    """
    hashed = {
        "stage": stage,
        "settings": dataclasses.asdict(config.stages[stage]),
        "model": dataclasses.asdict(config.model) | {"id": config.model_id},
    }
    if stage == "pairs":
        hashed["heldout"] = config.stages["evaluate"].heldout
    return hashed


def write_heldout(run_dir: RunDir, count: int, *, seed: int) -> list[str]:
    """Set ``count`` judged instructions aside for evaluation, in ``heldout.jsonl``; return their ids.

    The choice is a seeded hash of the instruction ids, so it is the same on every rerun and does
    not depend on the order records were written in. Each row carries the judged best answer as
    the held-out SFT target the likelihood evaluator scores.
    """
    import hashlib

    from stage1kit.prompting import training_completion, training_prompt
    from stage1kit.records import read_records, write_records_atomic

    judgements = read_records(run_dir.dataset("judgements"))
    ranked = sorted(judgements, key=lambda j: hashlib.sha256(f"{seed}:{j['instruction_id']}".encode()).hexdigest())
    chosen = ranked[: max(0, min(count, len(judgements) // 2))]  # never hold out more than half
    rows = [
        {
            "id": f"heldout_{j['instruction_id']}",
            "instruction_id": j["instruction_id"],
            "instruction": j["instruction"],
            "prompt": training_prompt(j["instruction"]),
            "completion": training_completion(j["candidates"][j["best_index"]]),
        }
        for j in chosen
    ]
    write_records_atomic(run_dir.heldout, rows)
    return [row["instruction_id"] for row in rows]


def stage_plugin_modules(config: PipelineConfig, stage: str, registry: Any) -> list[str]:
    """The plugin packages whose code ``stage`` will run (audited before it starts)."""
    from stage1kit.audit_gate import plugin_modules

    settings = config.stages[stage]
    registrations = []
    for field_name, kind in PLUGIN_FIELDS.items():
        value = getattr(settings, field_name, None)
        names = value if isinstance(value, (list, tuple)) else ([value] if value else [])
        if isinstance(value, dict):
            names = list(value)
        registrations += [registry.get(kind, name) for name in names]
    return plugin_modules(registrations)


@dataclass
class Pipeline:
    """One run of a config: ``Pipeline(config, registry).run(stages)``."""

    config: PipelineConfig
    registry: Any
    show_progress: bool = True
    echo: Callable[[str], None] = print
    outcomes: list[StageOutcome] = field(default_factory=list)
    _base: Any = None

    @property
    def run_dir(self) -> RunDir:
        return RunDir.at(self.config.run_dir)

    # ------------------------------------------------------------- models

    def base_model(self) -> Any:
        """The base model, loaded once through CleanModelLoader and shared by the data stages."""
        if self._base is None:
            self._base = self._loader().load()
        return self._base

    def _loader(self, **extra: Any) -> Any:
        from stage1kit.loader import CleanModelLoader

        model = self.config.model
        device = model.device or _default_device()
        return CleanModelLoader(
            self.config.model_id,
            revision=model.revision,
            dtype=model.dtype,
            device=device,
            trust_remote_code=model.trust_remote_code,
            allow_remote_code=model.allow_remote_code,
            **extra,
        )

    def _trained_model(self) -> Any:
        """The DPO output: an adapter on the base model, or a whole merged checkpoint."""
        from stage1kit.loader import CleanModelLoader

        folder = self.run_dir.train_dir("dpo")
        if _is_adapter(folder):
            return self._loader(adapter=folder).load()
        return CleanModelLoader(folder, device=self.config.model.device or _default_device()).load()

    # ------------------------------------------------------------- resume

    def _is_current(self, stage: str) -> bool:
        from stage1kit.manifest import is_up_to_date

        if stage in ("train-sft", "train-dpo"):
            from stage1kit.stages.train import train_output_current

            return train_output_current(
                self.run_dir,
                stage.split("-", 1)[1],
                self.config.stages[stage],
                model=self.config.model_id,
                revision=self.config.model.revision,
            )
        files = STAGE_FILES[stage]
        inputs = [_path(self.run_dir, name) for name in files.inputs]
        if stage == "evaluate":
            from stage1kit.stages.evaluate import evaluate_inputs

            inputs = evaluate_inputs(self.run_dir)
        return all(
            is_up_to_date(_path(self.run_dir, out), inputs=inputs, config=stage_config(self.config, stage))
            for out in files.outputs
        )

    def _discard_stale(self, stage: str) -> None:
        """Remove outputs whose manifest no longer matches, so the stage starts afresh.

        (Partial outputs of an interrupted run are the stage's own business: it resumes them only
        when they were started with the same config and inputs, see :func:`stage1kit.resume.start_output`.)
        """
        from stage1kit.resume import progress_marker
        from stage1kit.rundir import manifest_path_for

        for name in STAGE_FILES[stage].outputs:
            output = _path(self.run_dir, name)
            manifest = manifest_path_for(output)
            if manifest.exists():
                if output.is_dir():
                    shutil.rmtree(output)
                else:
                    output.unlink(missing_ok=True)
                    manifest.unlink()
                    progress_marker(output).unlink(missing_ok=True)

    # ------------------------------------------------------------- running

    def run(self, stages: Sequence[str]) -> list[StageOutcome]:
        for stage in stages:
            if self._is_current(stage):
                outcome = self._skipped(stage)
                self.echo(f"[{stage}] up to date (manifest matches inputs and config); skipped")
            else:
                self._discard_stale(stage)
                self._check_inputs(stage)
                audit = self._audit(stage)
                self.echo(f"[{stage}] running")
                started = time.perf_counter()
                outcome = self._run_stage(stage, audit)
                outcome.seconds = time.perf_counter() - started
            self.outcomes.append(outcome)
        return self.outcomes

    def _skipped(self, stage: str) -> StageOutcome:
        """The outcome of a stage that is up to date, with its counts read back from its manifests."""
        from stage1kit.manifest import load_manifest
        from stage1kit.rundir import manifest_path_for

        outcome = StageOutcome(stage=stage, skipped=True, outputs=self._outputs(stage))
        verdicts = set()
        for name, output in zip(STAGE_FILES[stage].outputs, outcome.outputs):
            manifest = load_manifest(manifest_path_for(output))
            outcome.records_in = sum(e.get("records") or 0 for e in manifest["inputs"] if str(e["path"]).endswith(".jsonl"))
            outcome.records_out += sum(e.get("records") or 0 for e in manifest["outputs"])
            verdicts.add(manifest["verdict"]["status"])
            qc = manifest.get("qc") or {}
            # the summary shows a skipped stage's QC figures as it showed them when the stage ran
            outcome.stats |= {name: qc} if len(outcome.outputs) > 1 else qc
        outcome.verdict = "fail" if "fail" in verdicts else ("pass" if verdicts else None)
        return outcome

    def _outputs(self, stage: str) -> list[Path]:
        return [_path(self.run_dir, name) for name in STAGE_FILES[stage].outputs]

    def _check_inputs(self, stage: str) -> None:
        for name in STAGE_FILES[stage].inputs:
            if not _path(self.run_dir, name).exists():
                producer = next(s for s, files in STAGE_FILES.items() if name in files.outputs)
                raise PipelineError(
                    f"stage '{stage}' needs {_path(self.run_dir, name)}, which stage '{producer}' writes; "
                    f"run it first (e.g. `stage1kit run CONFIG --from {producer}`)"
                )

    def _audit(self, stage: str) -> dict[str, Any]:
        from stage1kit.audit_gate import run_audit_gate

        modules = stage_plugin_modules(self.config, stage, self.registry)
        return run_audit_gate(stage, user_paths=self.config.user_code, modules=modules)

    def _run_stage(self, stage: str, audit: dict[str, Any]) -> StageOutcome:
        settings = self.config.stages[stage]
        common = {"registry": self.registry, "show_progress": self.show_progress}
        if stage == "instructions":
            from stage1kit.stages.instructions import run_instructions_stage

            return run_instructions_stage(
                self.run_dir, settings, loaded=self.base_model(), audit=audit, config=stage_config(self.config, stage), **common
            )
        if stage == "responses":
            from stage1kit.stages.responses import run_responses_stage

            return run_responses_stage(
                self.run_dir, settings, loaded=self.base_model(), audit=audit, config=stage_config(self.config, stage), **common
            )
        if stage == "judge":
            from stage1kit.stages.judge import run_judge_stage

            return run_judge_stage(
                self.run_dir, settings, loaded=self.base_model(), audit=audit, config=stage_config(self.config, stage), **common
            )
        if stage == "pairs":
            from stage1kit.stages.pairs import run_pairs_stage

            heldout = write_heldout(self.run_dir, self.config.stages["evaluate"].heldout, seed=settings.seed)
            return run_pairs_stage(
                self.run_dir,
                settings,
                loaded=self.base_model(),
                audit=audit,
                config=stage_config(self.config, stage),
                exclude_instruction_ids=heldout,
                **common,
            )
        if stage in ("train-sft", "train-dpo"):
            from stage1kit.stages.train import run_train_stage

            self._base = None  # free the data model before training loads its own copy
            return run_train_stage(
                self.run_dir,
                stage.split("-", 1)[1],
                settings,
                model=self.config.model_id,
                revision=self.config.model.revision,
                audit_user_paths=self.config.user_code,
                loader_options={
                    "dtype": self.config.model.dtype,
                    "trust_remote_code": self.config.model.trust_remote_code,
                    "allow_remote_code": self.config.model.allow_remote_code,
                },
                **common,
            )
        if stage == "evaluate":
            from stage1kit.stages.evaluate import run_evaluate_stage

            trained = self._trained_model()
            return run_evaluate_stage(
                self.run_dir, settings, base=self.base_model(), trained=trained, audit=audit,
                config=stage_config(self.config, stage), **common,
            )
        raise PipelineError(f"unknown stage '{stage}'")


def _is_adapter(folder: Path) -> bool:
    return (folder / "adapter_config.json").exists()


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
