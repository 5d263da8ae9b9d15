"""Sums of two digits: a world whose answers are checked exactly and whose texts teach judging well
and answering badly.

Questions are ``What is A plus B?`` for digits A and B in 1..9 (81 questions, answers 2..18). The
pretraining corpus holds four kinds of documents, each in exactly the format a pipeline stage uses:

* **question lists** (the instruction generator's prompt): numbered lists of world questions;
* **request checks** (the critic's pointwise prompt): well-formed questions marked Yes, broken ones No;
* **graded comparisons** (the critic's pairwise prompt): the correct sum against a wrong one, in both
  orders, always naming the correct one better;
* **forum answers** (the answer prompt, ``Query: ...\\nAnswer:``): a sloppy forum where, for every
  question, 3 of 5 answers are off by one and 2 of 5 are right.

So the base model answers wrongly under greedy decoding (the off-by-one answer is the mode) but
samples the right answer often, and its log-prob critic prefers the right answer. Self-judging then
has real signal: Best-of-N picks right answers and training on them shifts the answer format's
mode for every question, including those the pipeline never generated. Everything is deterministic
given the seed.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

DIGITS = range(1, 10)
LIST_HEADER = "Below is a list of questions about sums."
#: the prompt templates the demo config gives each stage (each matches a document kind above)
SELF_INSTRUCT_TEMPLATE = LIST_HEADER + "\n\n{tasks}\n{next}."
INSTRUCTION_TEMPLATE = "Request: {instruction}\nClear and answerable:"
PAIR_TEMPLATE = "Query: {instruction}\nAnswer A: {response_a}\nAnswer B: {response_b}\nBetter answer:"
ANSWER_TEMPLATE = "Query: {instruction}\nAnswer:"
#: forum answers per question, and how many of them are off by one
FORUM_ANSWERS, FORUM_WRONG = 5, 3
#: graded comparisons per question and presentation order; questions per list document
GRADED_PER_ORDER, LIST_LENGTH = 6, 5


@dataclass(frozen=True)
class Fact:
    a: int
    b: int

    @property
    def question(self) -> str:
        return f"What is {self.a} plus {self.b}?"

    @property
    def answer(self) -> str:
        return str(self.a + self.b)

    @property
    def echo(self) -> str:
        """The forum's typical mistake: the question's last number repeated."""
        return str(self.b)

    def wrong(self, rng: random.Random) -> str:
        """A wrong answer as graders meet them: mostly the echo, sometimes the other operand or
        any other wrong sum."""
        total = self.a + self.b
        choice = rng.random()
        if choice < 0.6:
            return self.echo
        if choice < 0.75 and self.a != total:
            return str(self.a)
        return str(rng.choice([n for n in range(2, 19) if n != total]))


def facts() -> list[Fact]:
    return [Fact(a, b) for a in DIGITS for b in DIGITS]


def _broken_question(fact: Fact, rng: random.Random) -> str:
    return rng.choice([
        f"What is {fact.a} plus?",
        f"What is plus {fact.b}?",
        f"{fact.a} plus {fact.b} plus is",
        f"What is {fact.a} {fact.b}?",
        f"plus plus {fact.a}",
        "What is?",
        "N/A",
    ])


def corpus(seed: int = 0) -> list[str]:
    """Every pretraining document of the world, shuffled deterministically."""
    rng = random.Random(seed)
    all_facts = facts()
    docs: list[str] = []
    for fact in all_facts:
        docs += [ANSWER_TEMPLATE.format(instruction=fact.question) + " " + fact.echo] * FORUM_WRONG
        docs += [ANSWER_TEMPLATE.format(instruction=fact.question) + " " + fact.answer] * (FORUM_ANSWERS - FORUM_WRONG)
        for _ in range(GRADED_PER_ORDER):
            wrong = fact.wrong(rng)
            docs.append(PAIR_TEMPLATE.format(instruction=fact.question, response_a=fact.answer, response_b=wrong) + " A")
            docs.append(PAIR_TEMPLATE.format(instruction=fact.question, response_a=wrong, response_b=fact.answer) + " B")
        docs.append(INSTRUCTION_TEMPLATE.format(instruction=fact.question) + " Yes")
        docs.append(INSTRUCTION_TEMPLATE.format(instruction=_broken_question(fact, rng)) + " No")
    for _ in range(len(all_facts)):
        listed = rng.sample(all_facts, LIST_LENGTH)
        docs.append(LIST_HEADER + "\n\n" + "\n".join(f"{n}. {f.question}" for n, f in enumerate(listed, start=1)))
    rng.shuffle(docs)
    return docs


def write_reference(path: str | Path) -> Path:
    """The exact-match verifier's reference file: every question with its answer."""
    path = Path(path)
    path.write_text("".join(json.dumps({"instruction": f.question, "answer": f.answer}) + "\n" for f in facts()), encoding="utf-8")
    return path


def write_seed_tasks(path: str | Path, count: int = 6, seed: int = 0) -> Path:
    """A few world questions for the instruction generator's first prompts."""
    path = Path(path)
    chosen = random.Random(seed).sample(facts(), count)
    path.write_text("".join(json.dumps({"instruction": f.question}) + "\n" for f in chosen), encoding="utf-8")
    return path
