"""The hooks a stage1kit plugin implements.

Each hook is handed a ``register(name, factory)`` callable, so a plugin adds implementations rather
than returning lists (the ``llm`` style). ``factory(**settings)`` is called by the engine with the
settings the user's config gives that implementation and returns an object satisfying the kind's
Protocol in :mod:`stage1kit.protocols`. Plugins never load models: the engine hands them a
:class:`stage1kit.loader.LoadedModel` built by ``CleanModelLoader``.
"""

from __future__ import annotations

from typing import Any, Callable

import pluggy

hookspec = pluggy.HookspecMarker("stage1kit")
hookimpl = pluggy.HookimplMarker("stage1kit")

#: ``register(name, factory, settings=None)``: ``settings`` is the dataclass (or its "module:Class"
#: path) whose fields the factory takes; it is checked before the factory runs and listed by
#: ``stage1kit plugins --settings``.
Register = Callable[..., None]


@hookspec
def register_instruction_generators(register: Register) -> None:
    """Register instruction generators: factories of :class:`~stage1kit.protocols.InstructionGenerator`.

    Called once when the plugin manager first builds the registry. ``register(name, factory)``
    claims ``name`` among instruction generators (the ``[instructions] generator`` setting); a name
    claimed twice, by any two plugins, is an error that names both distributions. The factory takes
    the ``generator_settings`` table as keywords and must reject settings it does not know.
    """


@hookspec
def register_response_generators(register: Register) -> None:
    """Register response generators: factories of :class:`~stage1kit.protocols.ResponseGenerator`.

    Same contract as :func:`register_instruction_generators`, for ``[responses] generator``: each
    writes k candidate answers per instruction.
    """


@hookspec
def register_critics(register: Register) -> None:
    """Register critics: factories of :class:`~stage1kit.protocols.Critic`.

    A critic judges instructions (pointwise) and response pairs (both orders) from the model's own
    next-token log-probabilities. Every stage that judges uses the one critic the config names.
    """


@hookspec
def register_engines(register: Register) -> None:
    """Register inference engines: factories of :class:`~stage1kit.protocols.EngineLoader`.

    ``[engine] name`` picks one for the data stages (instructions, responses, judge); the default,
    ``"transformers"``, needs no plugin. The factory takes ``[engine] settings`` as keywords. An
    engine serves the same generators and critic through :func:`stage1kit.sample` and
    :func:`stage1kit.option_logprobs`, so records do not depend on it beyond its sampling RNG.
    """


@hookspec
def register_negative_miners(register: Register) -> None:
    """Register hard-negative miners: factories of :class:`~stage1kit.protocols.NegativeMiner`.

    This is the hook for adding a new kind of rejected response to DPO pairs. Each negative a miner
    returns is checked by the critic and dropped if it beats the chosen response.
    """


@hookspec
def register_trainers(register: Register) -> None:
    """Register trainers: factories of :class:`~stage1kit.protocols.Trainer`.

    The engine runs :func:`stage1kit.gate.check_gate` before it calls a trainer; a trainer never
    sees a dataset whose manifest did not pass.
    """


@hookspec
def register_evaluators(register: Register) -> None:
    """Register evaluators: factories of :class:`~stage1kit.protocols.Evaluator`.

    Evaluators receive models loaded by the engine and write their part of the evaluation report.
    """


@hookspec
def register_verifiers(register: Register) -> None:
    """Register verifiers: factories of :class:`~stage1kit.protocols.Verifier`.

    A verifier checks an answer to an instruction with no model involved (an exact reference, a
    pattern, a function) and returns a :class:`~stage1kit.protocols.Verification`. The evaluate
    stage builds the one named by ``[evaluate] verifier`` with ``[evaluate] verifier_settings`` and
    measures each model's exact accuracy with it. A verifier that also has ``questions()`` (see
    :class:`~stage1kit.protocols.ReferenceSet`) supplies the held-out questions itself, so accuracy
    is measured against known answers rather than the judge's own picks. Same naming rules as the
    other kinds: a name claimed twice is an error naming both distributions.
    """


@hookspec
def register_commands(cli: Any) -> None:
    """Add click commands to the ``stage1kit`` command group ``cli``.

    Called when the CLI starts; keep imports inside the command functions so ``stage1kit --help``
    stays free of torch and transformers.
    """
