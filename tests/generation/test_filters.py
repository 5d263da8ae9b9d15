"""Each instruction filter on crafted inputs, and the near-duplicate measure against plain ROUGE-L."""

from __future__ import annotations

import random

import pytest

from stage1kit_hf import filters
from stage1kit_hf.filters import FilterSettings, cheap_reason
from stage1kit_hf.self_instruct import parse_items
from stage1kit_hf.similarity import NearDuplicateIndex, lcs_length, rouge_l, rouge_tokens

SETTINGS = FilterSettings(min_words=3, max_words=12)


@pytest.mark.parametrize(
    "text, truncated, reason",
    [
        ("Write a poem about the sea.", False, None),
        ("", False, filters.EMPTY),
        ("Write poems", False, filters.TOO_SHORT),
        ("Write " + "a very long request " * 5, False, filters.TOO_LONG),
        ("Write a poem about the sea and", True, filters.TRUNCATED),
        ("- Write a poem about the sea.", False, filters.MALFORMED),
        ("Write a \x08poem about the sea.", False, filters.MALFORMED),
        ("Write 123 456 789 000 111 222.", False, filters.MALFORMED),
        ("Write very very very very long.", False, filters.MALFORMED),
        ("Describe the picture below in detail.", False, filters.NON_TEXT),
        ("Summarize the attached file for me.", False, filters.NON_TEXT),
        ("Go to the website and list its headlines.", False, filters.NON_TEXT),
        ("Explain how maple syrup is made.", False, None),  # "map" inside "maple" is not a map
    ],
)
def test_cheap_filters(text, truncated, reason):
    assert cheap_reason(text, truncated, SETTINGS) == reason


def _dp_lcs(a, b):
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            table[i + 1][j + 1] = table[i][j] + 1 if x == y else max(table[i][j + 1], table[i + 1][j])
    return table[-1][-1]


def test_bit_parallel_lcs_equals_the_dynamic_programme():
    rng = random.Random(0)
    for _ in range(500):
        a = [rng.choice("abcdef") for _ in range(rng.randint(0, 25))]
        b = [rng.choice("abcdef") for _ in range(rng.randint(0, 25))]
        assert lcs_length(a, b) == _dp_lcs(a, b)


def test_near_duplicate_index_agrees_with_brute_force_rouge_l():
    rng = random.Random(1)
    words = "write explain give list a the poem story sea cat three tips about short".split()
    pool = [" ".join(rng.choice(words) for _ in range(rng.randint(3, 9))) for _ in range(60)]
    queries = [" ".join(rng.choice(words) for _ in range(rng.randint(3, 9))) for _ in range(60)]
    index = NearDuplicateIndex(pool, threshold=0.7)
    for query in queries:
        brute = max(rouge_l(rouge_tokens(p), rouge_tokens(query)) for p in pool)
        assert index.is_near_duplicate(query) == (brute > 0.7)
        if brute > 0.7:
            assert index.max_similarity(query) == pytest.approx(brute)


def test_rouge_tokenisation_ignores_case_and_punctuation():
    index = NearDuplicateIndex(["Write a short poem about the sea."], threshold=0.7)
    assert index.is_near_duplicate("write a SHORT poem about the sea!")
    assert not index.is_near_duplicate("Explain how tides work.")


def test_list_parsing_stops_where_the_list_ends():
    text = " Write a poem.\n10. List three fruits.\n12. Skipped a number.\n13. Never read."
    assert parse_items(text, 9, hit_limit=False, limit=8) == [("Write a poem.", False), ("List three fruits.", False)]
    assert parse_items(" Describe a cat\n10. Explain tid", 9, hit_limit=True, limit=8)[-1] == ("Explain tid", True)
    assert parse_items(" One.\n10. Two.\n11. Three.", 9, hit_limit=False, limit=2) == [("One.", False), ("Two.", False)]
