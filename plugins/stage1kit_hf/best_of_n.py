"""Best-of-N answers: k seeded samples per instruction from a URIAL-style few-shot prompt.

Instructions are processed in batches; one ``generate`` call per batch samples all k answers of
every prompt in it (``num_return_sequences``, so the k samples share the prompt's prefill). Answers
stop at the next ``Query:``; answers cut off at ``max_new_tokens`` are flagged, and empty or
duplicate candidates are counted (and kept, so ``candidates`` always has k entries). Each record
says what ended every candidate (``stopped_by``: EOS, a turn-ending token such as ``<|im_end|>``, the
stop string, or the length limit); a candidate cut at a chat special token the model wrote is marked
in ``cut_at_special`` and counted as ``chat_token`` in the stats.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from stage1kit import (
    GenerationStats,
    LoadedModel,
    Progress,
    RecordSink,
    SamplingSettings,
    candidate_counts,
    resume_batches,
    sample,
)
from stage1kit_hf import prompts
from stage1kit_hf.meta import PLUGIN, plugin_version


@dataclass
class BestOfNSettings:
    """Settings of the ``best-of-n`` generator (the ``[generators.responses]`` table)."""

    prompt_template: str = prompts.ANSWER_TEMPLATE
    stop: list[str] = field(default_factory=lambda: list(prompts.ANSWER_STOP))
    #: instructions per ``generate`` call (each contributes k sequences)
    batch_size: int = 8
    max_new_tokens: int = 128
    temperature: float = 0.8
    top_p: float = 0.95


def response_id(instruction_id: str) -> str:
    return "res_" + instruction_id


class BestOfNGenerator:
    """Implements :class:`stage1kit.protocols.ResponseGenerator`."""

    stage = "responses"
    name = "best-of-n"

    def __init__(self, settings: BestOfNSettings | None = None) -> None:
        self.settings = settings or BestOfNSettings()
        s = self.settings
        prompts.check_template("prompt_template", s.prompt_template, ["instruction"])
        self.sampling = SamplingSettings(s.max_new_tokens, s.temperature, s.top_p, s.batch_size, tuple(s.stop))

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "plugin": PLUGIN,
            "version": plugin_version(),
            "prompt_template_sha256": prompts.template_sha256(self.settings.prompt_template),
            "stop": list(self.settings.stop),
        }

    def prompt(self, instruction: str) -> str:
        return prompts.fill(self.settings.prompt_template, instruction=instruction.strip())

    def generate(
        self,
        model: LoadedModel,
        instructions: Sequence[dict[str, Any]],
        sink: RecordSink,
        *,
        k: int,
        seed: int,
        done: Collection[str] = frozenset(),
        progress: Progress | None = None,
    ) -> GenerationStats:
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        stats = GenerationStats(target=len(instructions) - sum(r["id"] in done for r in instructions))
        template_sha = prompts.template_sha256(self.settings.prompt_template)
        # Chunks of a few batches, cut from the full list and seeded by position: records are written
        # as each chunk finishes, so a crash loses at most one chunk, and a resumed run redoes that
        # chunk whole (same seed, same batches) and writes only what is missing.
        chunk = self.settings.batch_size * 4
        for batch in resume_batches(instructions, chunk, done, key=lambda r: r["id"]):
            part, start = batch.items, batch.start
            chunk_seed = seed * 1_000_003 + start
            samples = sample(model, [self.prompt(r["instruction"]) for r in part], self.sampling, num_return_sequences=k, seed=chunk_seed)
            stats.per_round.append(
                {"chunk": start // chunk, "instructions": batch.new_count, "tokens": sum(c.num_tokens for group in samples for c in group)}
            )
            for record, completions, fresh in zip(part, samples, batch.fresh):
                if not fresh:
                    continue
                candidates = [c.text.strip() for c in completions]
                truncated = [c.hit_limit for c in completions]
                empty, duplicates = candidate_counts(candidates)
                stats.generated += len(candidates)
                stats.reject("empty", empty)
                stats.reject("duplicate", duplicates)
                stats.reject("truncated", sum(truncated))
                stats.reject("chat_token", sum(c.cut_at_special is not None for c in completions))
                sink.write(
                    {
                        "id": response_id(record["id"]),
                        "instruction_id": record["id"],
                        "instruction": record["instruction"],
                        "candidates": candidates,
                        "truncated": truncated,
                        "stopped_by": [c.stopped_by for c in completions],
                        "cut_at_special": [c.cut_at_special for c in completions],
                        "provenance": {
                            "plugin": self.name,
                            "plugin_package": PLUGIN,
                            "plugin_version": plugin_version(),
                            "prompt_template_sha256": template_sha,
                            "seed": chunk_seed,
                            "round": record.get("round"),
                            "model_id": model.model_id,
                            "model_revision": model.provenance.get("resolved_revision") or model.provenance.get("revision"),
                            "k": k,
                        },
                    }
                )
                stats.accepted += 1
                if progress is not None:
                    progress(1)
        stats.target_reached = stats.accepted >= stats.target
        return stats
