"""Crafted judged run directories for the data tests, in the judgements format of docs/contracts.md.

Candidate 0 of each instruction is a good answer, the rest get worse; scores fall accordingly and
the comparisons are a round-robin whose margins follow the scores, exactly as the judge stage
writes them. ``pivot=True`` leaves out the comparisons against the best, so the pairs stage must
ask the critic.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

from stage1kit.records import write_records_atomic
from stage1kit.rundir import RunDir

TOPICS: list[tuple[str, list[str]]] = [
    ("List three fruits that are rich in vitamin C.", [
        "- Oranges contain about 53 mg of vitamin C per 100 g.\n- Kiwis are rich in vitamin C too.\n- Strawberries are another good source.",
        "Oranges and kiwis have vitamin C.",
        "Fruit is healthy.",
        "I like fruit.",
    ]),
    ("Explain why the sky looks blue during the day.", [
        "Sunlight is scattered by the molecules of the air. Blue light has a short wavelength, so it is scattered much more than red light. That scattered blue light reaches our eyes from every direction of the sky.",
        "Because of the way light scatters in the air.",
        "The sky is blue because it is blue.",
        "Blue.",
    ]),
    ("Describe how to boil an egg in four steps.", [
        "1. Put the egg in a pot of cold water.\n2. Bring the water to a boil.\n3. Simmer for 9 minutes.\n4. Cool the egg in cold water before peeling.",
        "Boil water and put the egg in for a while.",
        "Eggs can be cooked in many ways.",
        "Egg.",
    ]),
    ("Give a short summary of the French Revolution.", [
        "The French Revolution began in 1789, when unrest over debt and inequality toppled the monarchy of Louis XVI. It ended feudal privileges, proclaimed the rights of man, and led to the rise of Napoleon by 1799.",
        "It was a revolution in France a long time ago.",
        "France had a revolution.",
        "History is interesting.",
    ]),
    ("Write the word hello in capital letters.", [
        "HELLO",
        "Hello",
        "hello there",
        "hi",
    ]),
    ("Explain what a prime number is, with an example.", [
        "A prime number is a whole number greater than 1 whose only divisors are 1 and itself. For example, 7 is prime because no number other than 1 and 7 divides it evenly. By contrast, 8 is not prime.",
        "A prime number is a number that is special.",
        "Numbers like 4 are prime.",
        "Math.",
    ]),
    ("Suggest two ways to save water at home.", [
        "- Take shorter showers and turn off the tap while brushing your teeth.\n- Fix leaking taps and pipes quickly, because a slow drip wastes litres every day.",
        "Use less water.",
        "Water is important for life.",
        "Save it.",
    ]),
    ("Tell me how a bicycle gear system helps a rider climb hills.", [
        "Lower gears make the pedals turn the wheel fewer times per pedal stroke. That multiplies the force on the wheel, so the rider can climb steep hills with less effort, at the cost of moving more slowly.",
        "Gears make climbing easier.",
        "Bicycles have gears and chains and wheels.",
        "Hills are steep.",
    ]),
]

SCORES = [0.9, 0.6, 0.35, 0.15]


def judgement(index: int, *, pivot: bool = False, truncated_best: bool = False, score_scale: float = 1.0) -> dict[str, Any]:
    instruction, candidates = TOPICS[index]
    scores = [round(s * score_scale, 4) for s in SCORES]
    comparisons = []
    for a, b in combinations(range(len(candidates)), 2):
        if pivot and a == 0:
            continue
        margin = 4.0 * (scores[a] - scores[b])
        prob_a = 0.5 + (scores[a] - scores[b]) / 2
        comparisons.append({"a": a, "b": b, "margin": margin, "prob_a": prob_a, "confidence": abs(2 * prob_a - 1), "orders_agree": abs(margin) > 0.5})
    return {
        "id": f"jud_ins{index}",
        "instruction_id": f"ins{index}",
        "instruction": instruction,
        "candidates": list(candidates),
        "truncated": [truncated_best, False, False, False],
        "scores": scores,
        "best_index": 0,
        "scheme": "pivot" if pivot else "round-robin",
        "comparisons": comparisons,
        "provenance": {"plugin": "crafted", "seed": 0, "round": 1, "model_id": "tiny", "model_revision": None},
    }


def judged_run(root, *, pivot: bool = False, count: int = len(TOPICS)) -> RunDir:
    """A run directory holding only ``judgements.jsonl``."""
    run_dir = RunDir.at(root)
    write_records_atomic(run_dir.dataset("judgements"), [judgement(i, pivot=pivot) for i in range(count)])
    return run_dir
