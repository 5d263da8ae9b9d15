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

:class:`World` makes variants with the same documents: other digits, other counts per document kind,
and ``op="odd"`` (``Which is odd: A or B?``, the forum's mistake the even number), the simpler world
:data:`SMALL` whose rule a narrow model learns in a few hundred steps, so a test can pretrain its own
base model (:data:`stage1kit.demo_world.build.SMALL`) instead of using the shipped one.
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
    #: "plus": the sum of a and b (the demo's world); "odd": which of a and b (one odd, one even) is odd
    op: str = "plus"

    @property
    def question(self) -> str:
        if self.op == "odd":
            return f"Which is odd: {self.a} or {self.b}?"
        return f"What is {self.a} plus {self.b}?"

    @property
    def answer(self) -> str:
        if self.op == "odd":
            return str(self.a if self.a % 2 else self.b)
        return str(self.a + self.b)

    @property
    def echo(self) -> str:
        """The forum's typical mistake: for a sum the question's last number repeated, for "odd"
        the even number."""
        if self.op == "odd":
            return str(self.b if self.a % 2 else self.a)
        return str(self.b)

    def wrong(self, rng: random.Random, others: range | tuple[int, ...] = range(2, 19)) -> str:
        """A wrong answer as graders meet them: mostly the echo, sometimes the other operand or
        any other wrong answer from ``others``."""
        right = self.answer
        choice = rng.random()
        if choice < 0.6:
            return self.echo
        if choice < 0.75 and str(self.a) != right:
            return str(self.a)
        return str(rng.choice([n for n in others if str(n) != right]))


@dataclass(frozen=True)
class World:
    """A world of questions about two digits: which digits, what is asked (``op``), and how many
    documents of each kind the corpus holds per question.

    The defaults are the demo's sums world (the shipped model's corpus, :data:`DEMO`); :data:`SMALL`
    is a simpler one a test pretrains a model on in under a minute.
    """

    digits: tuple[int, ...] = tuple(DIGITS)
    forum_answers: int = FORUM_ANSWERS
    forum_wrong: int = FORUM_WRONG
    graded_per_order: int = GRADED_PER_ORDER
    list_length: int = LIST_LENGTH
    op: str = "plus"

    def __post_init__(self) -> None:
        if self.op not in ("plus", "odd"):
            raise ValueError(f"op must be 'plus' or 'odd', not {self.op!r}")

    def facts(self) -> list[Fact]:
        if self.op == "odd":  # one odd number and one even, in both orders
            return [Fact(a, b, self.op) for a in self.digits for b in self.digits if (a + b) % 2]
        return [Fact(a, b) for a in self.digits for b in self.digits]

    def corpus(self, seed: int = 0) -> list[str]:
        """Every pretraining document of the world, shuffled deterministically."""
        rng = random.Random(seed)
        all_facts = self.facts()
        others = self.digits if self.op == "odd" else range(2, 2 * max(self.digits) + 1)
        docs: list[str] = []
        for fact in all_facts:
            docs += [ANSWER_TEMPLATE.format(instruction=fact.question) + " " + fact.echo] * self.forum_wrong
            docs += [ANSWER_TEMPLATE.format(instruction=fact.question) + " " + fact.answer] * (self.forum_answers - self.forum_wrong)
            for _ in range(self.graded_per_order):
                wrong = fact.wrong(rng, others)
                docs.append(PAIR_TEMPLATE.format(instruction=fact.question, response_a=fact.answer, response_b=wrong) + " A")
                docs.append(PAIR_TEMPLATE.format(instruction=fact.question, response_a=wrong, response_b=fact.answer) + " B")
            docs.append(INSTRUCTION_TEMPLATE.format(instruction=fact.question) + " Yes")
            docs.append(INSTRUCTION_TEMPLATE.format(instruction=_broken_question(fact, rng)) + " No")
        for _ in range(len(all_facts)):
            listed = rng.sample(all_facts, self.list_length)
            docs.append(LIST_HEADER + "\n\n" + "\n".join(f"{n}. {f.question}" for n, f in enumerate(listed, start=1)))
        rng.shuffle(docs)
        return docs

    def write_reference(self, path: str | Path) -> Path:
        """The exact-match verifier's reference file: every question with its answer."""
        path = Path(path)
        path.write_text("".join(json.dumps({"instruction": f.question, "answer": f.answer}) + "\n" for f in self.facts()), encoding="utf-8")
        return path

    def write_seed_tasks(self, path: str | Path, count: int = 6, seed: int = 0) -> Path:
        """A few world questions for the instruction generator's first prompts."""
        path = Path(path)
        chosen = random.Random(seed).sample(self.facts(), count)
        path.write_text("".join(json.dumps({"instruction": f.question}) + "\n" for f in chosen), encoding="utf-8")
        return path


def _broken_question(fact: Fact, rng: random.Random) -> str:
    if fact.op == "odd":
        return rng.choice([
            f"Which is odd: {fact.a} or?",
            f"Which is odd: or {fact.b}?",
            f"{fact.a} or {fact.b} or odd",
            f"Which is odd: {fact.a} {fact.b}?",
            "Which is odd?",
            "N/A",
        ])
    return rng.choice([
        f"What is {fact.a} plus?",
        f"What is plus {fact.b}?",
        f"{fact.a} plus {fact.b} plus is",
        f"What is {fact.a} {fact.b}?",
        f"plus plus {fact.a}",
        "What is?",
        "N/A",
    ])


#: the demo's world, whose corpus the shipped model was pretrained on
DEMO = World()
#: a simpler world a test pretrains its own model on in under a minute: "Which is odd: A or B?" (40
#: questions). The right answer is one of the question's two numbers, picked by a rule that a narrow
#: model learns in a few hundred steps, where sums need a table it does not; the forum's mistake is
#: the even number, the graders name the odd one.
SMALL = World(op="odd")

facts = DEMO.facts
corpus = DEMO.corpus
write_reference = DEMO.write_reference
write_seed_tasks = DEMO.write_seed_tasks
