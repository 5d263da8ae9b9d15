"""The pairs stage: judgements in, ``sft.jsonl`` and ``dpo.jsonl`` (each with its manifest) out.

SFT takes each instruction's best candidate when it clears the quality bar. DPO pairs the best
against the candidates the strategy picks (see :mod:`stage1kit.selection`) and against hard negatives
from the negative-miner plugins, capped per instruction. Pairs whose preference the judgements do
not already record -- and every mined negative -- go to the critic in ONE batched ``compare``
call. Everything dropped is counted by reason in the manifests, never silently lost. Nothing is
written until every judgement has been read and checked, so bad input leaves earlier output intact.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stage1kit import selection
from stage1kit.errors import Stage1kitError
from stage1kit.manifest import verdict_of, verdict_reasons
from stage1kit.prompting import PromptFormat
from stage1kit.protocols import MiningTask, Negative, PairQuery, PairVerdict
from stage1kit.records import write_records_atomic
from stage1kit.rundir import RunDir
from stage1kit.settings import help_metadata, require_range
from stage1kit.stages.base import (
    PluginUse,
    Stage,
    StageContext,
    StageInputError,
    StageOutcome,
    model_provenance,
    read_input,
    replace_output,
    staging_path,
)

if TYPE_CHECKING:
    from stage1kit.loader import LoadedModel
    from stage1kit.plugins import Registration, Registry

BUILTIN_MINERS = ("truncated", "off-topic", "generic-reply", "repetition", "shuffled", "perturbed", "format-violation")
JUDGEMENT_FIELDS = ("id", "instruction_id", "instruction", "candidates", "scores", "best_index")
SFT_TEXT_FIELDS = ("prompt", "completion")
DPO_TEXT_FIELDS = ("prompt", "chosen", "rejected")


class PairsStageError(Stage1kitError):
    """A plugin the pairs stage uses misbehaved (e.g. the critic returned the wrong number of verdicts)."""


@dataclass
class PairsSettings:
    """``[pairs]``: how SFT records and DPO pairs are chosen from judged candidates."""

    strategy: str = field(default="all", metadata=help_metadata("DPO rejected candidates: all, worst or mu-2sigma"))
    miners: list[str] = field(default_factory=lambda: list(BUILTIN_MINERS), metadata=help_metadata("negative miners to run (names from `stage1kit plugins`)"))
    miner_settings: dict[str, Any] = field(default_factory=dict, metadata=help_metadata("settings per miner, e.g. { truncated = { min_words = 10 } }"))
    miner_weights: dict[str, float] = field(default_factory=dict, metadata=help_metadata("sampling weight per negative type (default 1; 0 turns a type off)"))
    max_negatives_per_instruction: int = field(default=3, metadata=help_metadata("mined negatives kept per instruction, at most"))
    max_negatives_per_type: int = field(default=1, metadata=help_metadata("mined negatives of one type kept per instruction, at most"))
    min_margin: float = field(default=0.0, metadata=help_metadata("drop pairs whose chosen-over-rejected log-odds margin is below this"))
    require_order_agreement: bool = field(default=True, metadata=help_metadata("drop pairs whose verdict flips with presentation order"))
    min_sft_score: float = field(
        default=0.5,
        metadata=help_metadata("quality bar: the critic's probability (both orders) that the best answer beats sft_reference_answer"),
    )
    sft_reference_answer: str = field(
        default="I don't know.", metadata=help_metadata("content-free answer every SFT answer must beat (an absolute bar: ranking scores are relative)")
    )
    sft_min_confidence: float = field(
        default=0.05,
        metadata=help_metadata("the quality bar decides only when the critic's confidence |2p-1| is at least this and both orders agree"),
    )
    sft_undecided: str = field(
        default="keep", metadata=help_metadata("SFT answers the quality bar cannot decide: keep or drop (counted apart either way)")
    )
    pool_size: int = field(default=16, metadata=help_metadata("other instructions' best answers offered to each miner"))
    seed: int = field(default=0, metadata=help_metadata("seed of the miners and of the mix cap"))
    sft_thresholds: dict[str, float] = field(default_factory=lambda: {"min_records": 1}, metadata=help_metadata("QC thresholds of the SFT manifest verdict"))
    dpo_thresholds: dict[str, float] = field(default_factory=lambda: {"min_records": 1}, metadata=help_metadata("QC thresholds of the DPO manifest verdict"))

    def __post_init__(self) -> None:
        if self.sft_undecided not in ("keep", "drop"):
            raise ValueError(f"sft_undecided = {self.sft_undecided!r}: use keep or drop")
        require_range(self, "sft_min_confidence", minimum=0.0, maximum=1.0)
        if self.strategy not in selection.STRATEGIES:
            raise ValueError(f"strategy = {self.strategy!r}: use one of {', '.join(selection.STRATEGIES)}")
        for name in ("max_negatives_per_instruction", "max_negatives_per_type", "pool_size"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more, got {getattr(self, name)}")
        self.miners = list(self.miners)
        unknown = set(self.miner_settings) - set(self.miners)
        if unknown:
            raise ValueError(f"miner_settings names miners that are not run: {', '.join(sorted(unknown))}; add them to miners")


# --------------------------------------------------------------------------- planning


@dataclass
class Candidate:
    """One would-be DPO pair, before its preference is known or filtered."""

    judgement: dict[str, Any]
    rejected: str
    source: str  # "strategy" or "negative"
    strategy: str | None = None
    rejected_index: int | None = None
    negative: Negative | None = None
    miner: "Registration | None" = None
    preference: selection.Preference | None = None
    preference_from: str = "judgement"


@dataclass
class Plan:
    """What the stage will write, and what it dropped on the way, by reason."""

    sft_candidates: list[dict[str, Any]] = field(default_factory=list)
    sft: list[tuple[dict[str, Any], PairVerdict]] = field(default_factory=list)
    sft_dropped: Counter = field(default_factory=Counter)
    #: SFT answers the quality bar could not decide (kept or dropped as ``sft_undecided`` says)
    sft_undecided: int = 0
    candidates: list[Candidate] = field(default_factory=list)
    dpo_dropped: Counter = field(default_factory=Counter)
    mined: Counter = field(default_factory=Counter)
    capped: Counter = field(default_factory=Counter)


def check_judgements(path: Any, judgements: list[dict[str, Any]]) -> None:
    """Every judgement must be internally consistent before anything is written."""
    for number, record in enumerate(judgements, start=1):
        where = f"{path}: record {number} (id {record.get('id', '?')!r})"
        candidates, scores, best = record["candidates"], record["scores"], record["best_index"]
        if not isinstance(candidates, list) or not all(isinstance(c, str) for c in candidates):
            raise StageInputError(f"{where}: field 'candidates' must be a list of plain strings; rerun `stage1kit judge`")
        if not isinstance(scores, list) or len(scores) != len(candidates):
            raise StageInputError(f"{where}: field 'scores' must hold one number per candidate ({len(candidates)}); rerun `stage1kit judge`")
        if not all(isinstance(s, (int, float)) and not isinstance(s, bool) for s in scores):
            raise StageInputError(f"{where}: field 'scores' holds a value that is not a number; rerun `stage1kit judge`")
        if not isinstance(best, int) or isinstance(best, bool) or not 0 <= best < len(candidates):
            raise StageInputError(f"{where}: field 'best_index' = {best!r} is not a candidate index; rerun `stage1kit judge`")
        if not isinstance(record["instruction"], str):
            raise StageInputError(f"{where}: field 'instruction' must be a plain string; rerun `stage1kit judge`")


def _is_truncated(record: dict[str, Any], index: int) -> bool:
    flags = record.get("truncated") or []
    return bool(flags[index]) if index < len(flags) else False


def _plan_sft(plan: Plan, record: dict[str, Any]) -> None:
    best = record["best_index"]
    reason = selection.sft_reject_reason(record["candidates"][best], _is_truncated(record, best))
    if reason:
        plan.sft_dropped[reason] += 1
    else:
        plan.sft_candidates.append(record)


def select_sft(plan: Plan, verdicts: list[PairVerdict], settings: PairsSettings) -> None:
    """Keep the SFT candidates that clear the quality bar, then drop duplicates, in input order.

    A judgement's scores only rank its candidates against each other (the best always scores at
    least 0.5), so the bar is absolute: the critic must prefer the best answer over a content-free
    reference answer. Where the critic cannot tell the two apart (see :class:`selection.QualityBar`)
    the bar does not decide: the answer is kept (``sft_undecided = "keep"``) or dropped, and counted.
    """
    dedupe = selection.Deduplicator()
    bar = selection.QualityBar(settings.min_sft_score, settings.sft_min_confidence)
    for record, verdict in zip(plan.sft_candidates, verdicts):
        text = record["candidates"][record["best_index"]]
        decision = bar.decide(verdict.prob_a, verdict.confidence, verdict.orders_agree)
        plan.sft_undecided += decision == selection.UNDECIDED
        if decision == selection.UNDECIDED and settings.sft_undecided == "drop":
            plan.sft_dropped[selection.QUALITY_UNDECIDED] += 1
        elif decision == selection.FAIL:
            plan.sft_dropped[selection.BELOW_QUALITY_BAR] += 1
        elif not dedupe.is_new(record["instruction"], text):
            plan.sft_dropped[selection.DUPLICATE] += 1
        else:
            plan.sft.append((record, verdict))


def _plan_strategy(record: dict[str, Any], settings: PairsSettings) -> list[Candidate]:
    best = record["best_index"]
    found = []
    for index in selection.rejected_indices(record["scores"], best, settings.strategy):
        candidate = Candidate(record, record["candidates"][index], "strategy", strategy=settings.strategy, rejected_index=index)
        candidate.preference = selection.recorded_preference(record.get("comparisons") or [], best, index, record.get("duplicate_of"))
        found.append(candidate)
    return found


def _plan_negatives(
    plan: Plan,
    record: dict[str, Any],
    pool: list[str],
    miners: list[tuple["Registration", Any]],
    settings: PairsSettings,
    loaded: Any,
) -> list[Candidate]:
    best_text = record["candidates"][record["best_index"]]
    iid = str(record["instruction_id"])
    others = tuple(c for i, c in enumerate(record["candidates"]) if i != record["best_index"])
    pool_rng = random.Random(f"{settings.seed}|{iid}|pool")
    offered = [p for p in pool if selection.text_key(p) != selection.text_key(best_text)]
    task = MiningTask(iid, record["instruction"], best_text, others, tuple(pool_rng.sample(offered, min(settings.pool_size, len(offered)))))
    mined: list[tuple[Negative, Any]] = []
    for registration, miner in miners:
        rng = random.Random(f"{settings.seed}|{iid}|{registration.name}")
        for negative in miner.mine(task, rng, loaded if getattr(miner, "needs_model", False) else None):
            if not isinstance(negative, Negative) or not isinstance(negative.text, str):
                raise PairsStageError(f"negative miner '{registration.name}' returned {negative!r}; miners return stage1kit.protocols.Negative objects")
            plan.mined[negative.negative_type] += 1
            mined.append((negative, registration))
    cap = selection.MixCap(settings.max_negatives_per_instruction, settings.max_negatives_per_type, settings.miner_weights)
    kept, dropped = cap.select([n.negative_type for n, _ in mined], random.Random(f"{settings.seed}|{iid}|mix"))
    for reason, count in dropped.items():
        plan.dpo_dropped[reason] += count
    for index in set(range(len(mined))) - set(kept):
        plan.capped[mined[index][0].negative_type] += 1
    return [Candidate(record, mined[i][0].text, "negative", negative=mined[i][0], miner=mined[i][1], preference_from="critic") for i in kept]


def build_plan(
    judgements: list[dict[str, Any]],
    settings: PairsSettings,
    miners: list[tuple["Registration", Any]],
    loaded: Any,
    advance: Any,
) -> Plan:
    """SFT choices and every DPO candidate pair (deduplicated), before the critic sees them."""
    plan = Plan()
    pair_dedupe = selection.Deduplicator()
    pool = [j["candidates"][j["best_index"]] for j in judgements]
    for record in judgements:
        _plan_sft(plan, record)
        best = record["best_index"]
        chosen = record["candidates"][best]
        reason = selection.sft_reject_reason(chosen, _is_truncated(record, best))
        if reason:  # an empty or cut-off best answer is no "chosen" either
            plan.dpo_dropped[reason] += 1
            advance(1)
            continue
        found = _plan_strategy(record, settings) + _plan_negatives(plan, record, pool, miners, settings, loaded)
        for candidate in found:
            if selection.text_key(candidate.rejected) == selection.text_key(chosen) or not candidate.rejected.strip():
                plan.dpo_dropped[selection.IDENTICAL] += 1
            elif not pair_dedupe.is_new(record["instruction"], chosen, candidate.rejected):
                plan.dpo_dropped[selection.DUPLICATE] += 1
            else:
                plan.candidates.append(candidate)
        advance(1)
    return plan


def ask_critic(critic: Any, loaded: Any, plan: Plan, reference_answer: str) -> tuple[int, list[PairVerdict]]:
    """ONE batched ``compare`` call for the stage: every DPO candidate still without a preference,
    and every SFT candidate's best answer against the reference answer.

    Returns how many DPO pairs were asked and the SFT candidates' verdicts, in order.
    """
    missing = [c for c in plan.candidates if c.preference is None]
    queries = [PairQuery(c.judgement["instruction"], c.judgement["candidates"][c.judgement["best_index"]], c.rejected) for c in missing]
    queries += [PairQuery(r["instruction"], r["candidates"][r["best_index"]], reference_answer) for r in plan.sft_candidates]
    if not queries:
        return 0, []
    verdicts = critic.compare(loaded, queries)
    if len(verdicts) != len(queries):
        raise PairsStageError(f"critic returned {len(verdicts)} verdicts for {len(queries)} pairs; it must answer each pair once")
    for candidate, verdict in zip(missing, verdicts):
        candidate.preference = selection.Preference(verdict.margin, verdict.prob_a, verdict.confidence, verdict.orders_agree)
        candidate.preference_from = "critic"
    return len(missing), list(verdicts[len(missing) :])


# --------------------------------------------------------------------------- records


def _provenance(record: dict[str, Any], settings: PairsSettings, loaded: Any, plugin: str, version: str, **extra: Any) -> dict[str, Any]:
    upstream = record.get("provenance") or {}
    return {
        "plugin": plugin,
        "plugin_version": version,
        "seed": settings.seed,
        "round": upstream.get("round"),
        "judgement_id": record["id"],
        **model_provenance(loaded),
        **extra,
    }


def sft_record(record: dict[str, Any], verdict: PairVerdict, settings: PairsSettings, loaded: Any, fmt: PromptFormat) -> dict[str, Any]:
    best = record["best_index"]
    bar = selection.QualityBar(settings.min_sft_score, settings.sft_min_confidence)
    return {
        "id": f"sft_{record['instruction_id']}",
        "prompt": fmt.prompt(record["instruction"]),
        "completion": fmt.completion(record["candidates"][best]),
        "instruction_id": record["instruction_id"],
        "score": float(record["scores"][best]),
        "quality": float(verdict.prob_a),
        "quality_margin": float(verdict.margin),
        "quality_decided": bar.decide(verdict.prob_a, verdict.confidence, verdict.orders_agree) != selection.UNDECIDED,
        "provenance": _provenance(record, settings, loaded, "pairs", _version()),
    }


def dpo_record(candidate: Candidate, number: int, settings: PairsSettings, loaded: Any, critic_name: str, fmt: PromptFormat) -> dict[str, Any]:
    record, preference = candidate.judgement, candidate.preference
    assert preference is not None
    if candidate.negative is not None and candidate.miner is not None:
        tag = candidate.negative.negative_type
        provenance = _provenance(
            record, settings, loaded, candidate.miner.name, candidate.miner.plugin.version,
            critic=critic_name, preference_from=candidate.preference_from, detail=json.dumps(candidate.negative.detail, default=str),
        )
    else:
        tag = f"c{candidate.rejected_index}"
        provenance = _provenance(record, settings, loaded, "pairs", _version(), critic=critic_name, preference_from=candidate.preference_from, detail=None)
    return {
        "id": f"dpo_{record['instruction_id']}_{tag}_{number}",
        "prompt": fmt.prompt(record["instruction"]),
        "chosen": fmt.completion(record["candidates"][record["best_index"]]),
        "rejected": fmt.completion(candidate.rejected),
        "instruction_id": record["instruction_id"],
        "margin": float(preference.margin),
        "confidence": float(preference.confidence),
        "orders_agree": bool(preference.orders_agree),
        "source": candidate.source,
        "negative_type": candidate.negative.negative_type if candidate.negative is not None else None,
        "strategy": candidate.strategy,
        "provenance": provenance,
    }


def _version() -> str:
    from stage1kit import __version__

    return str(__version__)


# --------------------------------------------------------------------------- QC


def sft_qc(plan: Plan, judgements: list[dict[str, Any]], records: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "records": len(records),
        "instructions": len(judgements),
        "acceptance_rate": len(records) / len(judgements) if judgements else 0.0,
        "dropped": dict(sorted(plan.sft_dropped.items())),
        # answers the quality bar could not decide (critic unsure, or orders disagree): never a coin flip
        "quality_undecided": plan.sft_undecided,
        "quality_undecided_kept": sum(not r.get("quality_decided", True) for r in records),
        "score": selection.distribution([r["score"] for r in records]),
        "quality": selection.distribution([r["quality"] for r in records]),
    }


def dpo_qc(plan: Plan, judgements: list[dict[str, Any]], records: list[dict[str, Any]], filtered: Counter, queries: int) -> dict[str, Any]:
    judged = [c for c in plan.candidates if c.preference is not None]
    negative_records = [r for r in records if r["source"] == "negative"]
    beat = Counter(c.negative.negative_type for c in plan.candidates if c.negative is not None and c.preference and c.preference.margin <= 0)
    dropped = plan.dpo_dropped + filtered
    considered = len(plan.candidates) + plan.dpo_dropped[selection.DUPLICATE] + plan.dpo_dropped[selection.IDENTICAL]
    return {
        "records": len(records),
        "instructions": len(judgements),
        "instructions_with_pairs": len({r["instruction_id"] for r in records}),
        "pairs_considered": considered,
        "acceptance_rate": len(records) / considered if considered else 0.0,
        "strategy_pairs": len(records) - len(negative_records),
        "negative_pairs": len(negative_records),
        "dropped": dict(sorted(dropped.items())),
        "negatives": {
            "mined": dict(sorted(plan.mined.items())),
            "capped": dict(sorted(plan.capped.items())),
            "beat_chosen": dict(sorted(beat.items())),
            "kept": dict(sorted(Counter(r["negative_type"] for r in negative_records).items())),
        },
        "negative_type_histogram": dict(sorted(Counter(r["negative_type"] or f"strategy:{r['strategy']}" for r in records).items())),
        "margin": selection.distribution([r["margin"] for r in records]),
        "confidence": selection.distribution([r["confidence"] for r in records]),
        "order_agreement_rate": sum(c.preference.orders_agree for c in judged) / len(judged) if judged else 0.0,
        "critic_queries": queries,
        "critic_calls": 1 if queries else 0,
    }


# --------------------------------------------------------------------------- the stage


def create_miners(registry: "Registry", settings: PairsSettings) -> list[tuple["Registration", Any]]:
    built = []
    for name in settings.miners:
        registration = registry.get("negative_miners", name)
        built.append((registration, registration.create(**dict(settings.miner_settings.get(name) or {}))))
    return built


def write_heldout(run_dir: RunDir, judgements: list[dict[str, Any]], count: int, *, seed: int, fmt: PromptFormat) -> list[str]:
    """Set ``count`` judged instructions aside for evaluation, in ``heldout.jsonl``; return their ids.

    The choice is a seeded hash of the instruction ids, so it is the same on every rerun and does
    not depend on the order records were written in. Each row carries the judged best answer as
    the held-out SFT target the likelihood evaluator scores.
    """
    ranked = sorted(judgements, key=lambda j: hashlib.sha256(f"{seed}:{j['instruction_id']}".encode()).hexdigest())
    chosen = ranked[: max(0, min(count, len(judgements) // 2))]  # never hold out more than half
    rows = [
        {
            "id": f"heldout_{j['instruction_id']}",
            "instruction_id": j["instruction_id"],
            "instruction": j["instruction"],
            "prompt": fmt.prompt(j["instruction"]),
            "completion": fmt.completion(j["candidates"][j["best_index"]]),
        }
        for j in chosen
    ]
    write_records_atomic(run_dir.heldout, rows)
    return [row["instruction_id"] for row in rows]


class PairsStage(Stage):
    """Judgements in; SFT records, DPO pairs and the held-out set out."""

    name = "pairs"
    table = "pairs"
    settings_type = PairsSettings
    inputs = ("judgements",)
    outputs = ("sft", "dpo")
    uses_critic = True
    uses_engine = True
    uses_prompt = True

    def plugin_uses(self, settings: PairsSettings) -> list[PluginUse]:
        return [
            PluginUse("miners", "miner_settings", "negative_miners", name, dict(settings.miner_settings.get(name) or {}))
            for name in settings.miners
        ]

    def cache_key(self, config: Any) -> dict[str, Any]:
        # [evaluate] heldout decides which instructions may be trained on
        return super().cache_key(config) | {"heldout": config.stages["evaluate"].heldout}

    def run(self, ctx: StageContext, settings: PairsSettings) -> StageOutcome:
        """Write ``heldout.jsonl``, then ``sft.jsonl`` and ``dpo.jsonl`` with their manifests."""
        started = time.perf_counter()
        run_dir = ctx.run_dir
        source = run_dir.dataset("judgements")
        sft_path, dpo_path = run_dir.dataset("sft"), run_dir.dataset("dpo")
        judgements = read_input(source, JUDGEMENT_FIELDS, "judge")
        check_judgements(source, judgements)
        miners = create_miners(ctx.registry, settings)
        critic, loaded, fmt = ctx.critic(), ctx.base_model(), ctx.prompt_format()
        config = self.cache_key(ctx.config)
        excluded = set(write_heldout(run_dir, judgements, ctx.config.stages["evaluate"].heldout, seed=settings.seed, fmt=fmt))
        judgements = [j for j in judgements if j["instruction_id"] not in excluded]
        described = critic.describe()
        with ctx.progress("pairs", len(judgements)) as advance:
            plan = build_plan(judgements, settings, miners, loaded, advance)
        queries, sft_verdicts = ask_critic(critic, loaded, plan, settings.sft_reference_answer)
        select_sft(plan, sft_verdicts, settings)

        pair_filter = selection.PairFilter(settings.min_margin, settings.require_order_agreement)
        filtered: Counter = Counter()
        dpo_records = []
        critic_name = str(described.get("name", ctx.config.critic.name))
        for candidate in plan.candidates:
            assert candidate.preference is not None
            reason = pair_filter.reject_reason(candidate.preference, negative=candidate.source == "negative")
            if reason:
                filtered[reason] += 1
            else:
                dpo_records.append(dpo_record(candidate, len(dpo_records), settings, loaded, critic_name, fmt))
        sft_records = [sft_record(r, verdict, settings, loaded, fmt) for r, verdict in plan.sft]

        plugins = {"critic": described} | {
            registration.name: {"distribution": registration.plugin.distribution, "version": registration.plugin.version}
            | (miner.describe() if hasattr(miner, "describe") else {})
            for registration, miner in miners
        }
        common = {"inputs": [source], "config": config, "model": loaded.provenance, "plugins": plugins, "audit": ctx.audit}
        sft_stats = sft_qc(plan, judgements, sft_records)
        dpo_stats = dpo_qc(plan, judgements, dpo_records, filtered, queries)
        manifests = {
            "sft": _write_dataset("sft", sft_path, sft_records, sft_stats, settings.sft_thresholds, SFT_TEXT_FIELDS, common),
            "dpo": _write_dataset("dpo", dpo_path, dpo_records, dpo_stats, settings.dpo_thresholds, DPO_TEXT_FIELDS, common),
        }
        verdicts = {kind: verdict_of(m) for kind, m in manifests.items()}
        return StageOutcome(
            stage="pairs",
            records_in=len(judgements),
            records_out=len(sft_records) + len(dpo_records),
            seconds=time.perf_counter() - started,
            outputs=[sft_path, dpo_path],
            stats={"sft": sft_stats, "dpo": dpo_stats, "verdicts": verdicts},
            verdict="pass" if set(verdicts.values()) == {"pass"} else "fail",
            failures=[f"{kind}: {reason}" for kind, m in manifests.items() for reason in verdict_reasons(m)],
        )


def _write_dataset(
    kind: str, path: Any, records: list[dict[str, Any]], qc: dict[str, Any], thresholds: dict[str, float],
    text_fields: tuple[str, ...], common: dict[str, Any],
) -> dict[str, Any]:
    """Write one dataset beside the old one, swap it in, and write its manifest."""
    from stage1kit.manifest import write_manifest

    staged = staging_path(path)
    write_records_atomic(staged, records)
    replace_output(staged, path)
    return write_manifest(kind, path, qc=qc, thresholds=thresholds, text_fields=text_fields, **common)
