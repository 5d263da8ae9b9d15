"""The small typed contracts between the engine and its plugins, one per plugin kind.

These are structural (``typing.Protocol``): a plugin needs no base class, only the methods. The
records exchanged are dataclasses here so plugins and the engine share one vocabulary. Nothing in
this module imports torch or transformers.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from stage1kit.prompting import DEFAULT_FORMAT, PromptFormat

if TYPE_CHECKING:
    from stage1kit.loader import LoadedModel
    from stage1kit.logprobs import OptionTokens
    from stage1kit.sampling import Completion, SamplingSettings

# --------------------------------------------------------------------------- critic


@dataclass(frozen=True)
class PairQuery:
    """Which of two responses better answers an instruction?"""

    instruction: str
    response_a: str
    response_b: str


@dataclass(frozen=True)
class PairVerdict:
    """The critic's answer to a :class:`PairQuery`, averaged over both presentation orders.

    ``margin`` is the mean over the two orders of ``log P(A) - log P(B)`` (normalised over the two
    options), positive when A is preferred; ``prob_a`` is the mean probability that A is better;
    ``confidence`` is ``|2 * prob_a - 1|``; ``orders_agree`` is False when the verdict flips with
    the presentation order (position bias stronger than the preference).
    """

    margin: float
    prob_a: float
    confidence: float
    orders_agree: bool

    def swapped(self) -> "PairVerdict":
        return PairVerdict(-self.margin, 1.0 - self.prob_a, self.confidence, self.orders_agree)


@runtime_checkable
class Critic(Protocol):
    """The one shared log-prob judge; every stage that judges uses it."""

    def score_instructions(self, model: "LoadedModel", instructions: Sequence[str]) -> list[float]:
        """P(yes) normalised over yes/no that each instruction is clear, self-contained, answerable."""
        ...

    def compare(self, model: "LoadedModel", queries: Sequence[PairQuery]) -> list[PairVerdict]:
        """Judge each pair in both orders, batched."""
        ...

    def describe(self) -> dict[str, Any]:
        """Name, version and prompt-template hashes, recorded as provenance."""
        ...


# --------------------------------------------------------------------------- generators

#: ``progress(n)`` advances a progress bar by n units; stages pass one, plugins call it.
Progress = Callable[[int], None]


@dataclass
class GenerationStats:
    """What a generator did: counts per filter and per round, and whether it met its target."""

    target: int = 0
    accepted: int = 0
    rounds: int = 0
    generated: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    per_round: list[dict[str, Any]] = field(default_factory=list)
    target_reached: bool = False
    notes: list[str] = field(default_factory=list)

    def reject(self, reason: str, n: int = 1) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + n

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "accepted": self.accepted,
            "rounds": self.rounds,
            "generated": self.generated,
            "rejected": dict(self.rejected),
            "acceptance_rate": (self.accepted / self.generated) if self.generated else 0.0,
            "per_round": list(self.per_round),
            "target_reached": self.target_reached,
            "notes": list(self.notes),
        }


class RecordSink(Protocol):
    """Where a generator writes records: appended and flushed one at a time (crash-safe)."""

    def write(self, record: dict[str, Any]) -> None: ...


@runtime_checkable
class InstructionGenerator(Protocol):
    """Writes new instructions, completion-style, until ``target`` pass every filter."""

    stage: str  # "instructions"

    def generate(
        self,
        model: "LoadedModel",
        critic: Critic,
        sink: RecordSink,
        *,
        target: int,
        seed: int,
        existing: Sequence[dict[str, Any]] = (),
        progress: Progress | None = None,
    ) -> GenerationStats:
        """Write accepted instructions to ``sink`` until ``target`` are accepted (or rounds run out).

        ``existing`` holds records an interrupted run already wrote, in order. Resume without
        duplicates and, for equal output, replay from the same state: the built-in generator seeds
        each round by its number and plays the last, possibly cut-short, round again, writing only
        the records it had not written.
        """
        ...

    def describe(self) -> dict[str, Any]: ...


@runtime_checkable
class ResponseGenerator(Protocol):
    """Samples k candidate answers per instruction (Best-of-N)."""

    stage: str  # "responses"

    def generate(
        self,
        model: "LoadedModel",
        instructions: Sequence[dict[str, Any]],
        sink: RecordSink,
        *,
        k: int,
        seed: int,
        done: Collection[str] = frozenset(),
        progress: Progress | None = None,
        prompt_format: "PromptFormat | None" = None,
    ) -> GenerationStats:
        """Write one record per instruction with its k candidates.

        ``prompt_format`` is the run's one prompt format (``[prompt]``): the prompt a candidate answers
        must end in exactly ``prompt_format.prompt(instruction)`` (a few-shot header before it is
        fine), and sampling stops at ``prompt_format.stop``, so what is judged is what is trained.

        ``instructions`` is always the full list; ``done`` holds the ids of instructions an
        interrupted run already answered, which must not be written again. Seeding batches by their
        place in the full list (see :mod:`stage1kit.resume`) makes a resumed file equal an
        uninterrupted one.
        """
        ...

    def describe(self) -> dict[str, Any]: ...


# --------------------------------------------------------------------------- negatives


@dataclass(frozen=True)
class MiningTask:
    """Everything a miner may use to build hard negatives for one instruction."""

    instruction_id: str
    instruction: str
    best: str
    others: tuple[str, ...]
    #: best answers of *other* instructions, for off-topic negatives
    pool: tuple[str, ...] = ()


@dataclass(frozen=True)
class Negative:
    """A rejected response built by a miner, tagged with its type."""

    text: str
    negative_type: str
    detail: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class NegativeMiner(Protocol):
    """Builds rejected responses of one type. ``needs_model`` asks the engine for the model handle."""

    negative_type: str
    needs_model: bool

    def mine(self, task: MiningTask, rng: random.Random, model: "LoadedModel | None" = None) -> list[Negative]: ...


# --------------------------------------------------------------------------- trainers and evaluators


@dataclass
class TrainResult:
    """Where a trainer left its output and what it measured."""

    output_dir: Path
    metrics: dict[str, Any]
    adapter: bool
    #: what the user must know although training finished (the training manifest's ``warnings``)
    warnings: list[str] = field(default_factory=list)


@runtime_checkable
class Trainer(Protocol):
    """Trains on a gated dataset. The gate has passed before ``train`` is called."""

    dataset_kind: str  # "sft" or "dpo"

    def requirements(self) -> dict[str, float]:
        """Minimum QC metrics the dataset's manifest must meet (see :mod:`stage1kit.gate`)."""
        ...

    def train(self, model: "LoadedModel", dataset_path: Path, output_dir: Path) -> TrainResult: ...

    def describe(self) -> dict[str, Any]: ...


# --------------------------------------------------------------------------- verifiers


@dataclass(frozen=True)
class Verification:
    """A verifier's answer: ``correct``, a ``score`` in [0, 1] (1.0/0.0 for exact checks), the
    ``expected`` answer where the verifier knows one, and ``known=False`` when it cannot judge this
    instruction at all (it is then left out of accuracy, and counted apart)."""

    correct: bool
    score: float
    expected: str | None = None
    known: bool = True
    detail: str = ""


@runtime_checkable
class Verifier(Protocol):
    """Checks an answer to an instruction with no model involved."""

    def verify(self, instruction: str, answer: str) -> Verification: ...

    def describe(self) -> dict[str, Any]:
        """Name and settings (a reference file's path and sha256), recorded in the report."""
        ...


@runtime_checkable
class ReferenceSet(Protocol):
    """A verifier that knows its questions (a reference file): held-out items can come from it."""

    def questions(self) -> list[str]: ...


@dataclass
class EvalContext:
    """What an evaluator gets from the engine: models loaded clean, the critic, held-out data.

    ``models`` holds every model to compare by name, in order (``base``, ``sft`` when the run
    trained one, ``dpo``); ``verifier`` and ``accuracy_questions`` are set when ``[evaluate]
    verifier`` names one.
    """

    base: "LoadedModel"
    trained: "LoadedModel"
    critic: Critic
    heldout_instructions: Sequence[str]
    heldout_sft: Sequence[dict[str, Any]]
    run_dir: Path
    seed: int = 0
    #: the run's one prompt format (``[prompt]``): ask ``prompt_format.prompt(instruction)``, stop at
    #: ``prompt_format.stop``, score ``prompt_format.completion(answer)`` -- what the model was trained on
    prompt_format: PromptFormat = DEFAULT_FORMAT
    models: dict[str, "LoadedModel"] = field(default_factory=dict)
    verifier: "Verifier | None" = None
    accuracy_questions: Sequence[str] = ()
    accuracy_source: str = ""


@runtime_checkable
class Evaluator(Protocol):
    """Measures the trained model; returns a JSON-serialisable section of the report."""

    def evaluate(self, ctx: EvalContext) -> dict[str, Any]: ...


# --------------------------------------------------------------------------- engines


@runtime_checkable
class Engine(Protocol):
    """An inference engine serving a loaded model (``LoadedModel.engine``): the generators, the
    critic and the evaluators keep their own logic and reach it through :func:`stage1kit.sample`
    and :func:`stage1kit.option_logprobs`, so every engine writes the same records.

    Prompts arrive as token ids from the clean tokenizer (:mod:`stage1kit.encoding`); an engine never
    tokenises text and never applies a template.
    """

    name: str
    #: positions the served model takes (prompt and output together); None if unsaid
    context_length: int | None

    def sample(
        self, prompt_ids: Sequence[Sequence[int]], settings: "SamplingSettings", *, num_return_sequences: int, seed: int
    ) -> list[list["Completion"]]:
        """``result[i]``: ``num_return_sequences`` completions of prompt i, deterministic for ``seed``
        and the prompt's position (so a resumed or sharded run samples the same answers)."""
        ...

    def option_logprobs(self, prompt_ids: Sequence[Sequence[int]], options: "OptionTokens") -> list[list[float]]:
        """``result[i][j]`` = log P(option j | prompt i), summed over the option's tokens."""
        ...

    def describe(self) -> dict[str, Any]:
        """Name, version and the settings that shape its output, recorded as provenance."""
        ...

    def close(self) -> None:
        """Free the engine's memory and processes."""
        ...


@runtime_checkable
class EngineLoader(Protocol):
    """What an ``engines`` plugin's factory returns: it serves the data stages' model.

    ``load`` gets the run's :class:`~stage1kit.loader.CleanModelLoader` (the ``[model]`` settings) and
    returns a :class:`~stage1kit.loader.LoadedModel` whose ``engine`` is set; the engine itself is
    built inside the loader module, like every model.
    """

    def load(self, loader: Any) -> "LoadedModel": ...

    def describe(self) -> dict[str, Any]: ...

