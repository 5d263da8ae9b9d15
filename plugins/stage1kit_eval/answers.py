"""Answer generation for evaluators: the run's prompt format, greedy or seeded, its stop strings.

Evaluators compare what the trained and the base model *write*, so both must answer the same prompt
the same way: the run's ``[prompt]`` format (what the critic judged and the trainer trained on),
greedy or seeded sampling, stopping at EOS or at the format's stop strings (where the model starts a
new query). Prompts are sorted by length and batched so a GPU sees full batches with little padding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stage1kit import DEFAULT_FORMAT, Completion, PromptFormat, SamplingSettings, cut_at_stops, sample

if TYPE_CHECKING:
    from stage1kit import LoadedModel

__all__ = ["Answer", "GenerationSettings", "cut_at_stops", "generate_answers"]


@dataclass(frozen=True)
class GenerationSettings:
    """How answers are sampled. ``temperature == 0`` means greedy decoding."""

    max_new_tokens: int = 64
    batch_size: int = 16
    temperature: float = 0.0
    top_p: float = 1.0
    #: extra stop strings; the prompt format's own are always used
    stops: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0 (0 is greedy), got {self.temperature}")


#: One generated answer (``text``, ``hit_limit``, ``num_tokens``): the generators' completion type.
Answer = Completion


def generate_answers(
    loaded: "LoadedModel",
    instructions: Sequence[str],
    settings: GenerationSettings,
    *,
    seed: int = 0,
    prompt_format: PromptFormat = DEFAULT_FORMAT,
) -> list[Answer]:
    """Answer each instruction with ``loaded``, batched by prompt length, in the callers' order.

    The same batched, seeded sampling as the generators (:mod:`stage1kit.sampling`), so a GPU sees
    full, length-bucketed batches.
    """
    stops = tuple(dict.fromkeys([*prompt_format.stop, *settings.stops]))
    sampling = SamplingSettings(settings.max_new_tokens, settings.temperature, settings.top_p, settings.batch_size, stops)
    samples = sample(loaded, [prompt_format.prompt(i) for i in instructions], sampling, seed=seed)
    return [Answer(c.text.strip(), c.hit_limit, c.num_tokens) for (c,) in samples]
