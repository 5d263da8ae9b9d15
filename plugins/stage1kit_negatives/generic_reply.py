"""Negative type ``generic-reply``: a reply that could follow any instruction and answers none.

Several styles -- vague agreement, evasion, deflection, empty praise, restating the question,
padding, and a boilerplate refusal -- so the model learns to prefer substance over all of them,
not merely to avoid one refusal phrase. Some replies name the instruction's topic, which makes
them harder: they look relevant but still say nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, ClassVar

from stage1kit import MiningTask, Negative, hookimpl
from stage1kit_negatives.text import content_words, describe_miner, differs

#: style -> replies; ``{topic}`` is filled with the instruction's main content word.
GENERIC_REPLIES: dict[str, tuple[str, ...]] = {
    "vague": (
        "There are many factors to consider here, and the answer really depends on the situation.",
        "It varies quite a lot from case to case, so there is no single answer that fits everyone.",
        "Generally speaking, {topic} is a broad subject with many different aspects worth thinking about.",
    ),
    "evasive": (
        "That is an interesting point, and people have different opinions about it.",
        "Opinions on {topic} differ widely, and it is best to make up your own mind.",
        "This is something that many people wonder about at some point.",
    ),
    "deflection": (
        "You could look this up in a good reference book or ask someone with more experience.",
        "A quick search or a conversation with an expert on {topic} will give you the details you need.",
        "The best way to find out is to try it yourself and see what works for you.",
    ),
    "praise": (
        "What a great question! Thank you for asking it, I really appreciate your curiosity.",
        "Great question about {topic}! It is wonderful that you are interested in learning more.",
    ),
    "restatement": (
        "You are asking about {topic}. That is the topic of your question, and it is a good topic.",
        "So the question is about {topic}, which is indeed what you would like to know about.",
    ),
    "padding": (
        "Sure, here is the answer. As requested, this is my response to the question above.",
        "Okay. Let me think about that. Yes, I can respond to this. Here is what I would say about it.",
    ),
    "refusal": (
        "I'm sorry, but I can't help with that request.",
        "I am not able to provide an answer to this question.",
    ),
}


@dataclass
class GenericReplyMiner:
    """``count`` replies, each of a different style chosen at random (refusal is one of seven styles)."""

    count: int = 1
    styles: tuple[str, ...] = tuple(GENERIC_REPLIES)

    negative_type: ClassVar[str] = "generic-reply"
    needs_model: ClassVar[bool] = False

    def __post_init__(self) -> None:
        unknown = [s for s in self.styles if s not in GENERIC_REPLIES]
        if unknown:
            raise ValueError(f"unknown generic-reply styles {unknown}; styles are {', '.join(GENERIC_REPLIES)}")
        self.styles = tuple(self.styles)

    def mine(self, task: MiningTask, rng: random.Random, model: Any = None) -> list[Negative]:
        topic = _topic(task.instruction)
        negatives = []
        for style in rng.sample(list(self.styles), min(self.count, len(self.styles))):
            replies = [r for r in GENERIC_REPLIES[style] if topic or "{topic}" not in r]
            text = rng.choice(replies).format(topic=topic)
            if differs(text, task.best):
                negatives.append(Negative(text, self.negative_type, {"style": style, "topic": topic or None}))
        return negatives

    def describe(self) -> dict[str, Any]:
        return describe_miner(self)


def _topic(instruction: str) -> str:
    """The instruction's longest content word: a cheap stand-in for its subject."""
    found = content_words(instruction)
    return max(found, key=len) if found else ""


@hookimpl
def register_negative_miners(register) -> None:
    register("generic-reply", GenericReplyMiner)
