"""Answer generation for evaluators: the plain training prompt, greedy or seeded, stop strings.

Evaluators compare what the trained and the base model *write*, so both must answer the same prompt
the same way: ``stage1kit.prompting.training_prompt`` (the format the trained model learned), greedy
or seeded sampling, stopping at EOS or where the model starts a new ``\\nQuery:``. Prompts are sorted
by length and batched so a GPU sees full batches with little padding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stage1kit import Completion, SamplingSettings, cut_at_stops, sample, training_prompt

if TYPE_CHECKING:
    from stage1kit import LoadedModel

__all__ = ["DEFAULT_STOPS", "Answer", "GenerationSettings", "cut_at_stops", "generate_answers"]

#: A model that has learned the prompt format may run on into the next query; cut it there.
DEFAULT_STOPS = ("\nQuery:",)


@dataclass(frozen=True)
class GenerationSettings:
    """How answers are sampled. ``temperature == 0`` means greedy decoding."""

    max_new_tokens: int = 64
    batch_size: int = 16
    temperature: float = 0.0
    top_p: float = 1.0
    stops: tuple[str, ...] = DEFAULT_STOPS

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
    loaded: "LoadedModel", instructions: Sequence[str], settings: GenerationSettings, *, seed: int = 0
) -> list[Answer]:
    """Answer each instruction with ``loaded``, batched by prompt length, in the callers' order.

    The same batched, seeded sampling as the generators (:mod:`stage1kit.sampling`), so a GPU sees
    full, length-bucketed batches.
    """
    sampling = SamplingSettings(
        settings.max_new_tokens, settings.temperature, settings.top_p, settings.batch_size, tuple(settings.stops)
    )
    samples = sample(loaded, [training_prompt(i) for i in instructions], sampling, seed=seed)
    return [Answer(c.text.strip(), c.hit_limit, c.num_tokens) for (c,) in samples]
