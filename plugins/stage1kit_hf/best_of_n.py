"""Best-of-N answers: k seeded samples per instruction from a URIAL-style few-shot prompt.

The prompt is the generator's few-shot header (a preamble, then its example queries and answers)
followed by the run's one prompt format (``[prompt]``, a :class:`stage1kit.prompting.PromptFormat`
the stage hands to :meth:`BestOfNGenerator.generate`): the examples are written in that format and
the final query block is exactly ``prompt_format.prompt(instruction)``, the string the trainer
trains on and the evaluators ask, and answers stop at the format's stop strings.

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
    DEFAULT_FORMAT,
    GenerationStats,
    LoadedModel,
    Progress,
    PromptFormat,
    RecordSink,
    SamplingSettings,
    candidate_counts,
    model_provenance,
    resume_batches,
    sample,
)
from stage1kit_hf import prompts
from stage1kit_hf.meta import PLUGIN, plugin_version


@dataclass
class BestOfNSettings:
    """Settings of the ``best-of-n`` generator (``[responses] generator_settings``)."""

    preamble: str = field(default=prompts.ANSWER_PREAMBLE, metadata={"help": "text before the examples; the prompt format itself (query block, stop strings) is [prompt]"})
    examples: list[list[str]] = field(default_factory=lambda: [list(e) for e in prompts.ANSWER_EXAMPLES], metadata={"help": "few-shot [query, answer] examples, written in the run's prompt format before the query"})
    batch_size: int = field(default=8, metadata={"help": "instructions per generate call (each contributes k sequences)"})
    max_new_tokens: int = field(default=128, metadata={"help": "longest answer, in tokens (a longer one is marked truncated)"})
    temperature: float = field(default=0.8, metadata={"help": "sampling temperature of the k candidates"})
    top_p: float = field(default=0.95, metadata={"help": "nucleus sampling: keep the smallest set of tokens with this much probability"})


def response_id(instruction_id: str) -> str:
    return "res_" + instruction_id


class BestOfNGenerator:
    """Implements :class:`stage1kit.protocols.ResponseGenerator`."""

    stage = "responses"
    name = "best-of-n"

    def __init__(self, settings: BestOfNSettings | None = None) -> None:
        self.settings = settings or BestOfNSettings()
        for number, example in enumerate(self.settings.examples, start=1):
            if not (isinstance(example, (list, tuple)) and len(example) == 2 and all(isinstance(t, str) for t in example)):
                raise ValueError(f"examples: example {number} must be a [query, answer] pair of strings, got {example!r}")
        self.prompt_format = DEFAULT_FORMAT

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "plugin": PLUGIN,
            "version": plugin_version(),
            "prompt_template_sha256": prompts.template_sha256(self.template()),
            "prompt_format": self.prompt_format.describe(),
        }

    def header(self) -> str:
        """The preamble, then each example query and answer written in the prompt format."""
        fmt = self.prompt_format
        return self.settings.preamble + "".join(f"{fmt.prompt(q)}{fmt.completion(a)}\n\n" for q, a in self.settings.examples)

    def template(self) -> str:
        """The whole prompt with ``{instruction}`` still in it (its sha256 goes in provenance)."""
        return self.header() + self.prompt_format.template

    def prompt(self, instruction: str) -> str:
        """The few-shot header, then exactly ``prompt_format.prompt(instruction)``."""
        return self.header() + self.prompt_format.prompt(instruction)

    def _sampling(self) -> SamplingSettings:
        s = self.settings
        return SamplingSettings(s.max_new_tokens, s.temperature, s.top_p, s.batch_size, tuple(self.prompt_format.stop))

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
        prompt_format: PromptFormat | None = None,
    ) -> GenerationStats:
        """k answers per instruction under ``prompt_format`` (the run's ``[prompt]``; default format if None)."""
        self.prompt_format = prompt_format or DEFAULT_FORMAT
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        stats = GenerationStats(target=len(instructions) - sum(r["id"] in done for r in instructions))
        template_sha = prompts.template_sha256(self.template())
        sampling = self._sampling()
        # Chunks of a few batches, cut from the full list and seeded by position: records are written
        # as each chunk finishes, so a crash loses at most one chunk, and a resumed run redoes that
        # chunk whole (same seed, same batches) and writes only what is missing.
        chunk = self.settings.batch_size * 4
        for batch in resume_batches(instructions, chunk, done, key=lambda r: r["id"]):
            part, start = batch.items, batch.start
            chunk_seed = seed * 1_000_003 + start
            samples = sample(model, [self.prompt(r["instruction"]) for r in part], sampling, num_return_sequences=k, seed=chunk_seed)
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
                        "prompt": self.prompt_format.prompt(record["instruction"]),
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
                            **model_provenance(model),
                            "k": k,
                        },
                    }
                )
                stats.accepted += 1
                if progress is not None:
                    progress(1)
        stats.target_reached = stats.accepted >= stats.target
        return stats
