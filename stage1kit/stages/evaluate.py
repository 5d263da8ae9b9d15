"""The evaluate stage: held-out data, the configured evaluators, and the report in ``eval/``.

The engine loads both models (base and trained) through ``CleanModelLoader`` and passes them in;
evaluators get them inside an :class:`~stage1kit.protocols.EvalContext` and never load anything.

Held-out instructions come from ``heldout.jsonl`` (``{"id", "instruction"}``, optionally with
``prompt``/``completion``). Without it, the last ``heldout`` instructions of ``instructions.jsonl``
that no SFT record uses stand in, and the report says so. Held-out SFT targets are the
``prompt``/``completion`` pairs of the held-out rows, else the judge's best candidate for each held-out
instruction in ``judgements.jsonl``. Anything that also appears in ``sft.jsonl`` is dropped: the
model trained on it.

Exact accuracy needs a verifier (``[evaluate] verifier``, a plugin of the ``verifiers`` kind). Its
questions come from the verifier's own reference set when it has one (minus every prompt the SFT
and DPO data train on, in this run and, under ``stage1kit run --iterations``, in every earlier
iteration, whose training the model carries; so the targets are known answers, never the judge's
guesses, and never trained on), else from the
held-out instructions; ``accuracy_heldout`` of them, drawn with ``seed``. Every model the run has is
measured on the same items: base, the SFT adapter (``train-sft/``) and the DPO adapter.
"""

from __future__ import annotations

import inspect
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stage1kit.errors import Stage1kitError
from stage1kit.manifest import verdict_of, verdict_reasons
from stage1kit.prompting import DEFAULT_FORMAT, PromptFormat
from stage1kit.protocols import EvalContext
from stage1kit.records import read_input_records
from stage1kit.rundir import RunDir
from stage1kit.stages.base import PluginUse, Stage, StageContext, StageOutcome

if TYPE_CHECKING:
    from stage1kit.loader import LoadedModel
    from stage1kit.plugins import Registry


class EvaluateError(Stage1kitError):
    """An evaluator failed; the report was still written with the other sections."""


@dataclass
class EvaluateSettings:
    """``[evaluate]``: held-out evaluation of the base, SFT and DPO models."""

    evaluators: list[str] = field(
        default_factory=lambda: ["accuracy", "win-rate", "heldout-likelihood"],
        metadata={"help": "evaluator plugins to run (accuracy needs a verifier)"},
    )
    heldout: int = field(default=16, metadata={"help": "judged instructions set aside before pairs for win rate and likelihood (never trained on)"})
    max_new_tokens: int = field(default=64, metadata={"help": "answer length, offered to every evaluator that takes it"})
    seed: int = field(default=0, metadata={"help": "sampling seed; also draws the accuracy questions"})
    evaluator_settings: dict[str, Any] = field(
        default_factory=dict, metadata={"help": 'settings per evaluator, e.g. { "win-rate" = { tie_confidence = 0.2 } }'}
    )
    verifier: str = field(default="", metadata={"help": 'exact answer check (a verifiers plugin, e.g. "exact-match"); "" = no exact accuracy'})
    verifier_settings: dict[str, Any] = field(
        default_factory=dict, metadata={"help": 'its settings, e.g. { reference = "answers.jsonl" } (relative to this file)'}
    )
    accuracy_heldout: int = field(default=200, metadata={"help": "questions exact accuracy is measured on, at most (none trained on)"})

    def __post_init__(self) -> None:
        if self.heldout < 0 or self.accuracy_heldout < 0:
            raise ValueError("heldout and accuracy_heldout must be at least 0")


@dataclass
class HeldoutSet:
    """The held-out instructions and SFT records, where they came from, and what was dropped."""

    instructions: list[str]
    sft: list[dict[str, Any]]
    source: str
    notes: list[str] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {
            "instructions": len(self.instructions),
            "sft_records": len(self.sft),
            "source": self.source,
            "notes": self.notes,
        }


# --------------------------------------------------------------------------- held-out data


def _rows(path: Path) -> list[dict[str, Any]]:
    return read_input_records(path) if path.is_file() else []


def _trained_keys(sft: list[dict[str, Any]]) -> tuple[set[str], set[str]]:
    """Instruction ids and prompts the SFT dataset (the training data) uses."""
    ids = {str(r["instruction_id"]) for r in sft if r.get("instruction_id") is not None}
    prompts = {r["prompt"] for r in sft if isinstance(r.get("prompt"), str)}
    return ids, prompts


def _heldout_rows(
    run: RunDir, count: int, trained_ids: set[str], trained_prompts: set[str], fmt: PromptFormat
) -> tuple[list[dict[str, Any]], str, list[str]]:
    notes: list[str] = []
    if run.heldout.is_file():
        rows, source = _rows(run.heldout), "heldout.jsonl"
    else:
        pool = [
            r
            for r in _rows(run.dataset("instructions"))
            if str(r.get("id")) not in trained_ids
            and fmt.prompt(str(r.get("instruction", ""))) not in trained_prompts
        ]
        rows, source = pool[-count:] if count > 0 else [], "instructions.jsonl (fallback)"
        notes.append(
            f"heldout.jsonl not found: used the last {len(rows)} instructions of instructions.jsonl that no SFT "
            "record uses. They passed the same filters as the training data but were not trained on."
        )
    rows = [r for r in rows if isinstance(r.get("instruction"), str) and r["instruction"].strip()]
    clean = [
        r
        for r in rows
        if str(r.get("id")) not in trained_ids and fmt.prompt(r["instruction"]) not in trained_prompts
    ]
    if len(clean) < len(rows):
        notes.append(f"dropped {len(rows) - len(clean)} held-out instructions that sft.jsonl trains on")
    return clean[:count], source, notes


def _sft_targets(
    run: RunDir, rows: list[dict[str, Any]], trained_prompts: set[str], fmt: PromptFormat
) -> tuple[list[dict[str, Any]], str]:
    given = [
        {"id": r.get("id"), "prompt": r["prompt"], "completion": r["completion"]}
        for r in rows
        if isinstance(r.get("prompt"), str) and isinstance(r.get("completion"), str)
    ]
    if given:
        return given, "held-out rows' prompt/completion"
    wanted = {str(r.get("id")): r["instruction"] for r in rows}
    targets = []
    for judged in _rows(run.dataset("judgements")):
        instruction_id = str(judged.get("instruction_id"))
        candidates, best = judged.get("candidates") or [], judged.get("best_index")
        if instruction_id in wanted and isinstance(best, int) and 0 <= best < len(candidates):
            prompt = fmt.prompt(wanted.pop(instruction_id))
            targets.append(
                {"id": instruction_id, "prompt": prompt, "completion": fmt.completion(candidates[best])}
            )
    return [t for t in targets if t["prompt"] not in trained_prompts], "judge's best candidate (judgements.jsonl)"


def select_heldout(run: RunDir, count: int, fmt: PromptFormat = DEFAULT_FORMAT) -> HeldoutSet:
    """Held-out instructions and SFT targets for the evaluators, none of them trained on; ``fmt`` is
    the run's prompt format (what the SFT records' prompts were written in)."""
    trained_ids, trained_prompts = _trained_keys(_rows(run.dataset("sft")))
    rows, source, notes = _heldout_rows(run, count, trained_ids, trained_prompts, fmt)
    sft, sft_source = _sft_targets(run, rows, trained_prompts, fmt)
    notes.append(f"held-out SFT targets: {len(sft)} from {sft_source}" if sft else "no held-out SFT targets found")
    return HeldoutSet([r["instruction"] for r in rows], sft, source, notes)


def _dpo_prompts(run: RunDir) -> set[str]:
    return {r["prompt"] for r in _rows(run.dataset("dpo")) if isinstance(r.get("prompt"), str)}


def select_accuracy_questions(
    run: RunDir,
    verifier: Any,
    heldout: HeldoutSet,
    count: int,
    seed: int,
    fmt: PromptFormat = DEFAULT_FORMAT,
    earlier: Sequence[RunDir] = (),
) -> tuple[list[str], str]:
    """Questions for exact accuracy, none of them trained on (in this run, nor in the ``earlier``
    iterations whose training the model carries), and where they came from."""
    trained: set[str] = set()
    for source in (*earlier, run):
        trained |= _trained_keys(_rows(source.dataset("sft")))[1] | _dpo_prompts(source)
    questions = getattr(verifier, "questions", None)
    if callable(questions):
        pool = [q for q in questions() if fmt.prompt(q) not in trained]
        random.Random(seed).shuffle(pool)
        return pool[:count], f"the verifier's reference questions not trained on; {len(pool)} available"
    pool = [q for q in heldout.instructions if fmt.prompt(q) not in trained]
    return pool[:count], "held-out instructions (the verifier has no reference questions)"


def earlier_runs(config: Any) -> list[RunDir]:
    """The run dirs of the iterations before this one (``stage1kit run --iterations``): their
    training data is in this iteration's model too."""
    from stage1kit.iterations import earlier_iteration_dirs

    return [RunDir.at(path) for path in earlier_iteration_dirs(getattr(config, "iteration", None))]


def verifier_settings(registry: "Registry", name: str, own: dict[str, Any], config_dir: Path) -> dict[str, Any]:
    """The user's verifier settings, plus the config file's folder for a factory that takes
    ``config_dir`` (so a relative reference file is read from beside the config)."""
    own = dict(own)
    factory = registry.get("verifiers", name).factory
    try:
        accepted = set(inspect.signature(factory).parameters)
    except (TypeError, ValueError):
        accepted = set()
    if "config_dir" in accepted and "config_dir" not in own:
        own["config_dir"] = str(config_dir)
    return own


def _comparison_models(ctx: StageContext, base: Any, trained: Any) -> dict[str, Any]:
    """base, the SFT model when the run trained one, and the DPO model: each on the same items."""
    models = {"base": base}
    sft_dir = ctx.run_dir.train_dir("sft")
    if (sft_dir / "manifest.json").is_file() and sft_dir.resolve() != ctx.run_dir.train_dir("dpo").resolve():
        models["sft"] = ctx.models.trained(sft_dir)
    models["dpo"] = trained
    return models


# --------------------------------------------------------------------------- plugins


def make_evaluator(registry: "Registry", name: str, settings: EvaluateSettings) -> Any:
    """The evaluator with its settings table; shared settings go to factories that take them."""
    factory = registry.get("evaluators", name).factory
    shared = {"max_new_tokens": settings.max_new_tokens}
    try:
        accepted = set(inspect.signature(factory).parameters)
    except (TypeError, ValueError):
        accepted = set()
    own = settings.evaluator_settings.get(name, {})
    return registry.create("evaluators", name, **{k: v for k, v in shared.items() if k in accepted}, **own)


# --------------------------------------------------------------------------- the stage


def _headline(sections: dict[str, dict[str, Any]]) -> dict[str, Any]:
    keys = (
        "accuracy",
        "win_rate",
        "ci95",
        "wins",
        "losses",
        "ties",
        "delta_mean_token_logprob",
        "perplexity_ratio",
        "missing",
        "error",
    )
    headline = {name: {k: s[k] for k in keys if k in s} for name, s in sections.items()}
    for name, s in sections.items():
        if s.get("kind") == "accuracy" and isinstance(s.get("models"), dict):
            headline[name]["accuracy"] = {model: m["accuracy"] for model, m in s["models"].items()}
            headline[name]["ci95"] = {model: m["ci95"] for model, m in s["models"].items()}
    return headline


def accuracy_line(sections: dict[str, dict[str, Any]]) -> str | None:
    """``base 0.05 -> sft 0.61 -> dpo 0.83`` for the run summary, when a verifier measured accuracy."""
    for s in sections.values():
        if s.get("kind") == "accuracy" and isinstance(s.get("models"), dict):
            return " -> ".join(f"{name} {m['accuracy']:.2f}" for name, m in s["models"].items() if m["accuracy"] is not None)
    return None


class EvaluateStage(Stage):
    """The configured evaluators on held-out data, base against trained model; the report in ``eval/``."""

    name = "evaluate"
    table = "evaluate"
    settings_type = EvaluateSettings
    inputs = ("sft", "train-dpo")
    outputs = ("eval",)
    uses_critic = True
    uses_prompt = True

    def plugin_uses(self, settings: EvaluateSettings) -> list[PluginUse]:
        uses = [
            PluginUse("evaluators", f"evaluator_settings.{name}", "evaluators", name, dict(settings.evaluator_settings.get(name) or {}))
            for name in settings.evaluators
        ]
        if settings.verifier:
            uses.append(PluginUse("verifier", "verifier_settings", "verifiers", settings.verifier, dict(settings.verifier_settings)))
        return uses

    def plugins(self, config: Any) -> list[PluginUse]:
        self._config_dir = config.base_dir  # for check_plugin: a verifier reads its files from beside the config
        return super().plugins(config)

    def check_plugin(self, registry: "Registry", use: PluginUse, settings: Any) -> Any:
        if use.kind == "evaluators":
            return make_evaluator(registry, use.name, settings)
        if use.kind == "verifiers":
            config_dir = getattr(self, "_config_dir", Path.cwd())
            return registry.create("verifiers", use.name, **verifier_settings(registry, use.name, use.settings, config_dir))
        return super().check_plugin(registry, use, settings)

    def input_paths(self, run_dir: RunDir) -> list[Path]:
        return evaluate_inputs(run_dir)

    def run(self, ctx: StageContext, settings: EvaluateSettings) -> StageOutcome:
        """Run each evaluator on the held-out data and write ``eval/report.{json,md}``.

        When every evaluator succeeded, ``eval/manifest.json`` records the inputs (held-out rows, SFT
        data, the trained model's manifest), the config hash and the audit, so a rerun can skip it.
        """
        from stage1kit.manifest import write_manifest
        from stage1kit.report import write_report

        started = time.perf_counter()
        run = ctx.run_dir
        # The verifier first: a bad name or reference file fails before any model loads.
        verifier = (
            ctx.registry.create(
                "verifiers", settings.verifier,
                **verifier_settings(ctx.registry, settings.verifier, settings.verifier_settings, ctx.config.base_dir),
            )
            if settings.verifier else None
        )
        base, trained = ctx.models.base(), ctx.models.trained(run.train_dir("dpo"))
        fmt = ctx.prompt_format()
        heldout = select_heldout(run, settings.heldout, fmt)
        eval_ctx = EvalContext(
            base, trained, ctx.critic(), heldout.instructions, heldout.sft, run.root, settings.seed, prompt_format=fmt
        )
        eval_ctx.models = _comparison_models(ctx, base, trained)
        if verifier is not None:
            eval_ctx.verifier = verifier
            eval_ctx.accuracy_questions, eval_ctx.accuracy_source = select_accuracy_questions(
                run, verifier, heldout, settings.accuracy_heldout, settings.seed, fmt, earlier_runs(ctx.config)
            )
        sections: dict[str, dict[str, Any]] = {}
        failed: list[str] = []
        for name in settings.evaluators:
            evaluator = make_evaluator(ctx.registry, name, settings)
            if ctx.show_progress:
                print(f"evaluate: {name} on {len(heldout.instructions)} held-out instructions", file=sys.stderr)
            try:
                sections[name] = evaluator.evaluate(eval_ctx)
            except Exception as exc:  # the report still records the other evaluators
                sections[name] = {"error": f"{type(exc).__name__}: {exc}"}
                failed.append(name)
        models = {name: m.provenance for name, m in eval_ctx.models.items()} | {"trained": trained.provenance}
        outputs = write_report(
            run.eval_dir, run_root=run.root, sections=sections, heldout=heldout.describe(), models=models,
            audit=ctx.audit, settings=asdict(settings),
        )
        if failed:
            raise EvaluateError(
                f"evaluator(s) {', '.join(failed)} failed: "
                + "; ".join(sections[n]["error"] for n in failed)
                + f". The report with the other sections is at {outputs[1]}."
            )
        manifest = write_manifest(
            "evaluate",
            run.eval_dir,
            inputs=evaluate_inputs(run),
            config=self.cache_key(ctx.config),
            model=base.provenance,
            plugins={name: {"kind": "evaluator"} for name in settings.evaluators}
            | {"critic": {"name": ctx.config.critic.name}, "trained_model": trained.provenance},
            qc=_headline(sections),
            audit=ctx.audit,
        )
        return StageOutcome(
            stage="evaluate",
            records_in=len(heldout.instructions),
            records_out=len(sections),
            seconds=time.perf_counter() - started,
            outputs=[run.eval_dir],
            stats=_headline(sections) | ({"exact_accuracy": line} if (line := accuracy_line(sections)) else {}),
            verdict=verdict_of(manifest),
            failures=verdict_reasons(manifest),
        )


def evaluate_inputs(run: RunDir) -> list[Path]:
    """What the evaluation depends on: the held-out rows, the SFT data, and the trained model (its
    manifest holds the hashes of every weight file, so hashing it is cheap and enough)."""
    candidates = [
        run.heldout, run.dataset("sft"), run.dataset("dpo"),
        run.train_dir("sft") / "manifest.json", run.train_dir("dpo") / "manifest.json",
    ]
    return [p for p in candidates if p.exists()]
