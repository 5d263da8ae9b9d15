"""Self-Instruct-style instruction generation: the base model continues a numbered task list.

Each round builds ``prompts_per_round`` prompts, each a numbered list of tasks sampled from the seed
set (plus a few the model already wrote, as Self-Instruct does), samples one continuation per prompt
in a single batched ``generate`` call, parses the new list items, and passes them through the
filters: cut off at the token limit, length bounds, malformed text, non-text tasks, near-duplicates
(ROUGE-L against seeds and pool) and finally the critic's quality score. Rounds repeat until the
target is met or ``max_rounds`` is spent; nothing is ever padded with templates.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from stage1kit import Critic, GenerationStats, LoadedModel, Progress, RecordSink, SamplingSettings, model_provenance, sample
from stage1kit_hf import filters, prompts
from stage1kit_hf.meta import PLUGIN, plugin_version
from stage1kit_hf.similarity import NearDuplicateIndex

_ITEM = re.compile(r"^\s*(\d+)\s*[.)]\s*(.*)$")


@dataclass
class SelfInstructSettings:
    """Settings of the ``self-instruct`` generator (``[instructions] generator_settings``)."""

    seed_file: str | None = field(default=None, metadata={"help": "JSONL with one {\"instruction\": ...} per line; the built-in seed set when unset"})
    prompt_template: str = field(default=prompts.SELF_INSTRUCT_TEMPLATE, metadata={"help": "the completion-style few-shot prompt that asks for new instructions"})
    seed_tasks_per_prompt: int = field(default=6, metadata={"help": "seed instructions shown in each prompt"})
    machine_tasks_per_prompt: int = field(default=2, metadata={"help": "already accepted instructions shown in each prompt"})
    prompts_per_round: int = field(default=8, metadata={"help": "prompts sampled per round"})
    batch_size: int = field(default=8, metadata={"help": "prompts per generate call"})
    max_new_tokens: int = field(default=96, metadata={"help": "longest continuation, in tokens"})
    min_new_tokens: int = field(default=4, metadata={"help": "tokens before EOS may end a sample (a list closed at once only wastes the sample)"})
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature"})
    top_p: float = field(default=0.95, metadata={"help": "nucleus sampling: keep the smallest set of tokens with this much probability"})
    max_rounds: int = field(default=20, metadata={"help": "give up after this many rounds even if the target is not reached"})
    max_items_per_completion: int = field(default=8, metadata={"help": "at most this many new items are taken from one continuation"})
    min_words: int = field(default=3, metadata={"help": "shorter instructions are rejected"})
    max_words: int = field(default=80, metadata={"help": "longer instructions are rejected"})
    min_letter_ratio: float = field(default=0.6, metadata={"help": "share of an instruction's non-space characters that must be letters"})
    similarity_threshold: float = field(default=0.7, metadata={"help": "ROUGE-L above which an instruction is a near duplicate of an earlier one"})
    quality_threshold: float = field(default=0.5, metadata={"help": "the critic's calibrated P(yes) an instruction must reach"})


def load_seed_tasks(path: str | Path | None) -> list[str]:
    """Seed instructions from a JSONL file (the packaged set when ``path`` is None)."""
    if path is None:
        text = resources.files("stage1kit_hf").joinpath("data/seed_tasks.jsonl").read_text(encoding="utf-8")
        source = "stage1kit_hf/data/seed_tasks.jsonl"
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"seed file {path}: cannot read it ({exc}); pass an existing JSONL file") from exc
        source = str(path)
    tasks = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line).get("instruction")
        except (json.JSONDecodeError, AttributeError) as exc:
            raise ValueError(f"{source}:{number}: expected a JSON object with an 'instruction' field") from exc
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{source}:{number}: field 'instruction' must be a non-empty string")
        tasks.append(" ".join(value.split()))
    if len(tasks) < 2:
        raise ValueError(f"{source}: needs at least two seed tasks, found {len(tasks)}")
    return tasks


def parse_items(continuation: str, first_number: int, hit_limit: bool, limit: int) -> list[tuple[str, bool]]:
    """New list items in a continuation of ``"...\\n{first_number}."``, each with a cut-off flag.

    The first line is item ``first_number``; later lines must carry the next numbers in sequence.
    The list ends at the first line that does not, so trailing prose is never taken for a task. An
    item is cut off when the sample hit its token limit inside that item (last line, no newline).
    """
    lines = continuation.split("\n")
    items: list[tuple[str, bool]] = []
    expected = first_number
    for position, line in enumerate(lines):
        if position == 0:
            text = line
        else:
            match = _ITEM.match(line)
            if not match or int(match.group(1)) != expected:
                break
            text = match.group(2)
        is_last_line = position == len(lines) - 1
        items.append((" ".join(text.split()), hit_limit and is_last_line))
        expected += 1
        if len(items) >= limit:
            break
    return items


def instruction_id(text: str) -> str:
    return "ins_" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class SelfInstructGenerator:
    """Implements :class:`stage1kit.protocols.InstructionGenerator`."""

    stage = "instructions"
    name = "self-instruct"

    def __init__(self, settings: SelfInstructSettings | None = None) -> None:
        self.settings = settings or SelfInstructSettings()
        s = self.settings
        prompts.check_template("prompt_template", s.prompt_template, ["tasks", "next"])
        self.seeds = load_seed_tasks(s.seed_file)
        self.filter_settings = filters.FilterSettings(s.min_words, s.max_words, s.min_letter_ratio)
        self.sampling = SamplingSettings(
            s.max_new_tokens, s.temperature, s.top_p, s.batch_size, prompts.LIST_STOP, min_new_tokens=s.min_new_tokens
        )

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "plugin": PLUGIN,
            "version": plugin_version(),
            "prompt_template_sha256": prompts.template_sha256(self.settings.prompt_template),
            "seed_tasks": len(self.seeds),
        }

    def build_prompt(self, rng: random.Random, pool: Sequence[str]) -> tuple[str, int]:
        """A numbered list of sampled seed (and pool) tasks, and the number the model continues."""
        s = self.settings
        machine = rng.sample(list(pool), min(s.machine_tasks_per_prompt, len(pool))) if pool else []
        seeds = rng.sample(self.seeds, min(s.seed_tasks_per_prompt + s.machine_tasks_per_prompt - len(machine), len(self.seeds)))
        tasks = seeds + machine
        rng.shuffle(tasks)
        listing = "\n".join(f"{n}. {task}" for n, task in enumerate(tasks, start=1))
        return prompts.fill(s.prompt_template, tasks=listing, next=str(len(tasks) + 1)), len(tasks) + 1

    def generate(
        self,
        model: LoadedModel,
        critic: Critic,
        sink: RecordSink,
        *,
        target: int,
        seed: int,
        existing: Sequence[dict[str, Any]] = (),
        progress: Progress | None = None,
    ) -> GenerationStats:
        s = self.settings
        # Resume: rounds before the last one written are complete; the last may have been cut short,
        # so it is played again from the same state (same seed, same pool) and only the records it
        # had not yet written are added. The result equals an uninterrupted run's.
        last_round = max((int(r.get("round", 0)) for r in existing), default=0)
        complete = [r for r in existing if int(r.get("round", 0)) < last_round or last_round == 0]
        written = {r["id"] for r in existing if r not in complete}
        stats = GenerationStats(target=target, accepted=len(complete))
        pool = [r["instruction"] for r in complete]
        index = NearDuplicateIndex(self.seeds + pool, threshold=s.similarity_threshold)
        first_round = max(last_round, 1)
        critic_info = critic.describe()
        for round_number in range(first_round, s.max_rounds + 1):
            if stats.accepted >= target:
                break
            stats.rounds += 1
            replayed = written if round_number == last_round else frozenset()
            accepted = self._round(model, critic, sink, stats, index, pool, round_number, seed, target, critic_info, progress, replayed)
            pool.extend(accepted)
        stats.target_reached = stats.accepted >= target
        if not stats.target_reached:
            stats.notes.append(
                f"target {target} not reached: {stats.accepted} accepted after {stats.rounds} round(s) "
                f"(max_rounds={s.max_rounds}); only instructions that passed every filter were written"
            )
        return stats

    def _round(self, model, critic, sink, stats, index, pool, round_number, seed, target, critic_info, progress, replayed) -> list[str]:
        s = self.settings
        rng = random.Random(f"{seed}:{round_number}")
        built = [self.build_prompt(rng, pool) for _ in range(s.prompts_per_round)]
        completions = sample(model, [text for text, _ in built], self.sampling, seed=seed * 1_000_003 + round_number)
        rejected: dict[str, int] = {}
        survivors: list[str] = []
        round_index = NearDuplicateIndex(threshold=s.similarity_threshold)
        generated = 0
        for (_, first_number), (completion,) in zip(built, completions):
            for text, cut_off in parse_items(completion.text, first_number, completion.hit_limit, s.max_items_per_completion):
                generated += 1
                reason = filters.cheap_reason(text, cut_off, self.filter_settings)
                if reason is None and (index.is_near_duplicate(text) or round_index.is_near_duplicate(text)):
                    reason = filters.NEAR_DUPLICATE
                if reason is not None:
                    rejected[reason] = rejected.get(reason, 0) + 1
                    continue
                round_index.add(text)
                survivors.append(text)
        scores = critic.score_instructions(model, survivors)
        accepted: list[str] = []
        surplus = 0
        for text, score in zip(survivors, scores):
            if score < s.quality_threshold:
                rejected[filters.LOW_QUALITY] = rejected.get(filters.LOW_QUALITY, 0) + 1
                continue
            if stats.accepted >= target:
                surplus += 1  # passed every filter, but the target is already met
                continue
            record = self._record(text, score, round_number, seed, model, critic_info)
            index.add(text)
            accepted.append(text)
            stats.accepted += 1
            if record["id"] in replayed:
                continue  # written before the interruption
            sink.write(record)
            if progress is not None:
                progress(1)
        stats.generated += generated
        for reason, n in rejected.items():
            stats.reject(reason, n)
        stats.per_round.append(
            {"round": round_number, "prompts": len(built), "generated": generated, "accepted": len(accepted), "surplus": surplus, "rejected": rejected}
        )
        return accepted

    def _record(self, text: str, score: float, round_number: int, seed: int, model: LoadedModel, critic_info: dict) -> dict[str, Any]:
        return {
            "id": instruction_id(text),
            "instruction": text,
            "quality": score,
            "round": round_number,
            "provenance": {
                "plugin": self.name,
                "plugin_package": PLUGIN,
                "plugin_version": plugin_version(),
                "prompt_template_sha256": prompts.template_sha256(self.settings.prompt_template),
                "seed": seed,
                "round": round_number,
                **model_provenance(model),
                "critic": critic_info.get("name"),
                "critic_version": critic_info.get("version"),
            },
        }
