"""Each built-in miner on crafted inputs: its type tag, what it builds, determinism by seed, and []
when it cannot build a meaningful negative. Miners are reached through the registry, as the
pairs stage reaches them."""

from __future__ import annotations

import random

import pytest

from stage1kit.protocols import MiningTask, Negative, NegativeMiner
from stage1kit_negatives.generic_reply import GENERIC_REPLIES
from stage1kit_negatives.text import normalise

ESSAY = (
    "The Eiffel Tower was finished in 1889 for the World Fair in Paris. It is 330 metres tall. "
    "Gustave Eiffel's company designed and built it. Today it welcomes about 7 million visitors a year."
)
LIST_ANSWER = "- Oranges are rich in vitamin C.\n- Kiwis are rich in vitamin C.\n- Strawberries are rich in vitamin C."
POOL = ("Dogs bark to warn their owners and to greet them.", "Bread rises because yeast makes gas.")

ESSAY_TASK = MiningTask("i1", "Tell me about the Eiffel Tower.", ESSAY, ("It is a tower.", "A tall tower in Paris, made of iron."), POOL)
LIST_TASK = MiningTask("i2", "List three fruits rich in vitamin C.", LIST_ANSWER, ("Oranges.",), POOL)
TINY_TASK = MiningTask("i3", "Say yes.", "Yes.", (), ())

BUILTINS = ("truncated", "off-topic", "generic-reply", "repetition", "shuffled", "perturbed", "format-violation")


@pytest.fixture(scope="module")
def miners():
    from stage1kit.plugins import load_registry

    import os

    old = os.environ.get("STAGE1KIT_LOAD_PLUGINS")
    os.environ["STAGE1KIT_LOAD_PLUGINS"] = "stage1kit"
    try:
        registry = load_registry(strict=True)
    finally:
        os.environ.pop("STAGE1KIT_LOAD_PLUGINS") if old is None else os.environ.__setitem__("STAGE1KIT_LOAD_PLUGINS", old)
    return {name: registry.create("negative_miners", name) for name in BUILTINS}


def mine(miner, task, seed=0):
    return miner.mine(task, random.Random(seed))


@pytest.mark.parametrize("name", BUILTINS)
def test_each_builtin_is_its_own_entry_point_and_tags_its_type(miners, name):
    from importlib.metadata import entry_points

    modules = {ep.value for ep in entry_points(group="stage1kit") if ep.name.startswith("negatives-")}
    assert len(modules) == 7
    miner = miners[name]
    assert isinstance(miner, NegativeMiner) and miner.negative_type == name and miner.needs_model is False
    task = LIST_TASK if name == "format-violation" else ESSAY_TASK
    negatives = mine(miner, task)
    assert negatives and all(isinstance(n, Negative) and n.negative_type == name for n in negatives)
    assert all(normalise(n.text) != normalise(task.best) for n in negatives)


@pytest.mark.parametrize("name", BUILTINS)
def test_miners_are_deterministic_by_seed(miners, name):
    task = LIST_TASK if name == "format-violation" else ESSAY_TASK
    assert mine(miners[name], task, 5) == mine(miners[name], task, 5)


def test_seeds_change_the_output_of_random_miners(miners):
    for name in ("truncated", "generic-reply", "repetition", "shuffled"):
        outputs = {mine(miners[name], ESSAY_TASK, seed)[0].text for seed in range(8)}
        assert len(outputs) > 1, name


@pytest.mark.parametrize("name", ["truncated", "off-topic", "repetition", "shuffled", "perturbed", "format-violation"])
def test_no_placeholder_when_nothing_meaningful_can_be_built(miners, name):
    assert mine(miners[name], TINY_TASK) == []


def test_truncated_stops_mid_sentence_on_a_prefix(miners):
    (negative,) = mine(miners["truncated"], ESSAY_TASK)
    assert ESSAY.startswith(negative.text) and len(negative.text) < len(ESSAY)
    assert negative.text[-1] not in ".!?"


def test_off_topic_comes_from_the_pool(miners):
    (negative,) = mine(miners["off-topic"], ESSAY_TASK)
    assert negative.text in POOL


def test_off_topic_skips_pool_answers_on_the_same_topic(miners):
    task = MiningTask("i", "Tell me about the Eiffel Tower.", ESSAY, (), ("The Eiffel Tower is in Paris and is tall.",))
    assert mine(miners["off-topic"], task) == []


def test_generic_replies_are_varied_and_not_only_refusals(miners):
    styles = {mine(miners["generic-reply"], ESSAY_TASK, seed)[0].detail["style"] for seed in range(40)}
    assert len(styles) >= 5 and styles != {"refusal"}
    texts = [t for replies in GENERIC_REPLIES.values() for t in replies]
    assert len(set(texts)) == len(texts) >= 15


def test_repetition_loops(miners):
    for seed in range(6):
        (negative,) = mine(miners["repetition"], ESSAY_TASK, seed)
        unit = negative.detail.get("phrase") or ESSAY.split(". ")[0]
        assert negative.text.count(unit) >= 3


def test_shuffled_keeps_the_sentences_and_changes_the_order(miners):
    (negative,) = mine(miners["shuffled"], ESSAY_TASK)
    assert negative.detail["mode"] == "sentences"
    assert sorted(negative.text.split()) == sorted(ESSAY.split())
    assert negative.text != ESSAY


def test_perturbed_changes_numbers_and_only_numbers(miners):
    (negative,) = mine(miners["perturbed"], ESSAY_TASK)
    assert negative.detail["kind"] == "number"
    for old, new in negative.detail["changes"]:
        assert old != new
    strip = lambda text: "".join(ch for ch in text if not ch.isdigit())  # noqa: E731
    assert strip(negative.text) == strip(ESSAY)


def test_perturbed_swaps_names_when_there_are_no_numbers(miners):
    task = MiningTask("i", "Who wrote it?", "It was written by Tolstoy, and later translated by Garnett.", (), ())
    (negative,) = mine(miners["perturbed"], task)
    assert negative.detail["kind"] == "entity-swap"
    assert negative.text == "It was written by Garnett, and later translated by Tolstoy."


def test_format_violations(miners):
    violations = {n.detail["violation"]: n.text for n in miners["format-violation"].__class__(count=5).mine(LIST_TASK, random.Random(0))}
    assert violations["list-run-together"] == "Oranges are rich in vitamin C Kiwis are rich in vitamin C Strawberries are rich in vitamin C"
    assert violations["item-missing"] == "- Oranges are rich in vitamin C.\n- Kiwis are rich in vitamin C."
    caps = MiningTask("i", "Write the word hello in capital letters.", "HELLO", (), ())
    assert [n.text for n in mine(miners["format-violation"], caps)] == ["hello"]
    plain = MiningTask("i", "Tell me about the Eiffel Tower.", ESSAY, (), ())
    assert mine(miners["format-violation"], plain) == []
