"""Built-in completion-style prompts for base models: few-shot text, never a chat template.

Each template is a plain string with named ``{placeholders}``; users override any of them through
the plugin's settings. Placeholders are filled with :func:`fill` (plain replacement, so braces in an
instruction or answer are left alone), and every template's sha256 goes into the records'
provenance so a changed prompt is visible in the data.
"""

from __future__ import annotations

from stage1kit import Stage1kitError
import hashlib
import re
from collections.abc import Iterable


#: Pointwise instruction quality: the critic reads P(" Yes") against P(" No") after it.
INSTRUCTION_JUDGE_TEMPLATE = """\
Below are requests sent to a writing assistant. Each is marked Yes if it is a clear, self-contained \
task that can be answered in text, and No if it is unclear, incomplete, needs a missing file or \
picture, or is not a task at all.

Request: Explain why the sky is blue in two sentences.
Clear and answerable: Yes

Request: Describe the photo I sent you yesterday.
Clear and answerable: No

Request: Give three tips for keeping a small garden healthy in summer.
Clear and answerable: Yes

Request: the of and and to it is
Clear and answerable: No

Request: {instruction}
Clear and answerable:"""

#: Pairwise preference: the critic reads P(" A") against P(" B") after it, in both orders.
PAIR_JUDGE_TEMPLATE = """\
Each example below shows a query and two answers, A and B, and names the better answer: the one \
that is more helpful, correct and on topic, and actually does what the query asks.

Query: Name the largest planet in the solar system.
Answer A: The largest planet in the solar system is Jupiter.
Answer B: Planets are interesting and there are many of them.
Better answer: A

Query: Give one tip for sleeping better.
Answer A: Sleep.
Answer B: Keep a regular bedtime, even at weekends, so your body learns when it is time to rest.
Better answer: B

Query: {instruction}
Answer A: {response_a}
Answer B: {response_b}
Better answer:"""

#: Self-Instruct: a numbered list of tasks the model continues from item ``{next}``.
SELF_INSTRUCT_TEMPLATE = """\
Below is a list of diverse tasks that a helpful assistant can do in writing. Each task is one \
clear, self-contained request.

{tasks}
{next}."""

ANSWER_EXAMPLES = (
    (
        "What is the boiling point of water at sea level?",
        "At sea level, water boils at 100 degrees Celsius, which is 212 degrees Fahrenheit.",
    ),
    (
        "Give two tips for writing a clear email.",
        "First, say what you need in the first sentence. Second, keep each paragraph to one idea, so the "
        "reader can answer quickly.",
    ),
    (
        "Write a short poem about rain.",
        "Soft rain on the roof,\nthe street shines under the lamps,\nthe whole town goes quiet.",
    ),
)

#: Best-of-N answers, URIAL-style: this preamble, then ANSWER_EXAMPLES and the query, each written in
#: the run's prompt format (``[prompt]``); answers stop at the format's stop strings (the next query).
ANSWER_PREAMBLE = (
    "Below are queries, each followed by an answer from a helpful, honest and knowledgeable assistant. "
    "The answers are accurate, on topic and complete.\n\n"
)

#: Stop strings for instruction lists.
LIST_STOP = ("\n\n",)


class TemplateError(Stage1kitError, ValueError):
    """A prompt template lacks a placeholder the plugin fills."""


def check_template(name: str, template: str, placeholders: Iterable[str]) -> str:
    """Return ``template`` if it has every placeholder; otherwise say which is missing."""
    missing = [p for p in placeholders if "{" + p + "}" not in template]
    if missing:
        raise TemplateError(
            f"prompt template '{name}' lacks placeholder(s) {', '.join('{' + m + '}' for m in missing)}; "
            "add them where the text should go"
        )
    return template


def fill(template: str, **values: str) -> str:
    """Replace ``{name}`` placeholders in one pass: braces inside the values are never expanded,
    and braces in the template that name no value are left as they are."""
    pattern = re.compile("|".join(re.escape("{" + key + "}") for key in values))
    return pattern.sub(lambda match: values[match.group(0)[1:-1]], template) if values else template


def template_sha256(template: str) -> str:
    return hashlib.sha256(template.encode("utf-8")).hexdigest()
