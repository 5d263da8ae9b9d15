"""The shared log-prob critic: order symmetry, calibrated yes/no scores, overridable prompts."""

from __future__ import annotations

import copy
import logging
from collections import Counter

import pytest

from stage1kit.logprobs import option_logprobs
from stage1kit.protocols import Critic, PairQuery

QUERIES = [
    PairQuery("Name a primary colour.", "Red is a primary colour.", "I like turtles."),
    PairQuery("Give one tip for sleeping better.", "Keep a regular bedtime.", ""),
    PairQuery("What is two plus two?", "Four.", "Two plus two is four, because adding two and two gives four."),
]


def test_registered_critic_satisfies_the_protocol(critic):
    assert isinstance(critic, Critic)
    info = critic.describe()
    assert info["name"] == "logprob" and len(info["prompt_template_sha256"]["pair"]) == 64


def test_swapping_a_and_b_flips_the_verdict(random_model, critic):
    forward = critic.compare(random_model, QUERIES)
    swapped = critic.compare(random_model, [PairQuery(q.instruction, q.response_b, q.response_a) for q in QUERIES])
    for f, s in zip(forward, swapped):
        assert s.margin == pytest.approx(-f.margin, abs=1e-5)
        assert s.prob_a == pytest.approx(1 - f.prob_a, abs=1e-6)
        assert s.confidence == pytest.approx(f.confidence, abs=1e-6)
        assert s.orders_agree == f.orders_agree
        assert f.confidence == pytest.approx(abs(2 * f.prob_a - 1))


def test_margin_averages_both_presentation_orders(random_model, critic):
    q = QUERIES[0]
    first = critic.pair_prompt(q.instruction, q.response_a, q.response_b)
    second = critic.pair_prompt(q.instruction, q.response_b, q.response_a)
    (a1, b1), (b2, a2) = option_logprobs(random_model, [first, second], [" A", " B"])
    [verdict] = critic.compare(random_model, [q])
    assert verdict.margin == pytest.approx(((a1 - b1) + (a2 - b2)) / 2, abs=1e-5)
    assert verdict.orders_agree == ((a1 > b1) == (a2 > b2))


def test_identical_answers_tie_exactly(random_model, critic):
    [verdict] = critic.compare(random_model, [PairQuery("Say hi.", "Hi there.", "Hi there.")])
    assert verdict.margin == pytest.approx(0.0, abs=1e-6) and verdict.prob_a == pytest.approx(0.5)


def test_instruction_scores_are_calibrated_probabilities(random_model, registry):
    calibrated = registry.create("critics", "logprob")
    raw = registry.create("critics", "logprob", calibration_text=None)
    texts = ["Explain why the sky is blue.", "the of and to"]
    scores = calibrated.score_instructions(random_model, texts)
    assert all(0.0 < s < 1.0 for s in scores)
    # calibration divides out the content-free prompt's odds: scoring that prompt itself gives 1/2
    assert calibrated.score_instructions(random_model, ["N/A"]) == pytest.approx([0.5], abs=1e-6)
    assert raw.score_instructions(random_model, texts) != pytest.approx(scores, abs=1e-6)
    # a TOML config cannot say None: an empty calibration text turns calibration off as well
    from_toml = registry.create("critics", "logprob", calibration_text="")
    assert from_toml.score_instructions(random_model, texts) == pytest.approx(raw.score_instructions(random_model, texts))


def test_user_templates_are_used_and_checked(random_model, registry):
    from stage1kit_hf.prompts import TemplateError

    custom = registry.create("critics", "logprob", pair_template="Q: {instruction}\n1: {response_a}\n2: {response_b}\nBest:")
    assert custom.pair_prompt("x", "y", "z") == "Q: x\n1: y\n2: z\nBest:"
    assert custom.describe()["prompt_template_sha256"]["pair"] != registry.create("critics", "logprob").describe()["prompt_template_sha256"]["pair"]
    with pytest.raises(TemplateError, match="response_b"):
        registry.create("critics", "logprob", pair_template="{instruction} {response_a}")


def test_braces_in_user_text_are_left_alone(critic):
    assert "{response_a}" in critic.pair_prompt("Fill {response_a} in", "a", "b")


def test_long_answers_are_clipped_to_fit_the_model(random_model, critic):
    """A pair too long for the model's 512 positions is judged on equal heads of both answers."""
    long_a = " ".join(f"alpha{n}" for n in range(400))
    long_b = " ".join(f"beta{n}" for n in range(400))
    query = PairQuery("Compare these.", long_a, long_b)
    [verdict] = critic.compare(random_model, [query])
    prompt = critic._fitted_pair_prompt(random_model.tokenizer, query.instruction, long_a, long_b, 512)
    tokens = len(random_model.tokenizer(prompt)["input_ids"])
    assert 400 < tokens <= 512 - 4
    assert "alpha0 alpha1" in prompt and "beta0 beta1" in prompt and prompt.count(" ...") == 2
    # The verdict is the one the clipped prompts give, in both orders.
    swapped = critic._fitted_pair_prompt(random_model.tokenizer, query.instruction, long_b, long_a, 512)
    (a1, b1), (b2, a2) = option_logprobs(random_model, [prompt, swapped], [" A", " B"])
    assert verdict.margin == pytest.approx(((a1 - b1) + (a2 - b2)) / 2, abs=1e-5)


class CountingTokenizer:
    """A tokenizer that counts how often each text is encoded, and otherwise is the one it wraps."""

    def __init__(self, inner):
        self.inner = inner
        self.encoded = Counter()

    def __call__(self, text, **kwargs):
        self.encoded.update([text] if isinstance(text, str) else text)
        return self.inner(text, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_each_pair_prompt_is_tokenised_once_and_quietly(random_model, critic, caplog):
    """compare() measures its prompts with the ids it scores; only a pair cut to fit is encoded again."""
    from stage1kit.loader import LoadedModel

    long_query = PairQuery("Compare these.", " ".join(f"alpha{n}" for n in range(400)), "Short.")
    queries = [*QUERIES, long_query]
    tokenizer = CountingTokenizer(copy.deepcopy(random_model.tokenizer))  # its too-long warning not yet spent
    transformers_log = logging.getLogger("transformers")  # does not propagate to caplog's root handler
    transformers_log.addHandler(caplog.handler)
    try:
        verdicts = critic.compare(LoadedModel(random_model.model, tokenizer), queries)
    finally:
        transformers_log.removeHandler(caplog.handler)
    assert "Token indices sequence length" not in caplog.text
    assert verdicts == critic.compare(random_model, queries)
    for q in queries:
        for first, second in ((q.response_a, q.response_b), (q.response_b, q.response_a)):
            assert tokenizer.encoded[critic.pair_prompt(q.instruction, first, second)] == 1
    fitted = critic._fitted_pair_prompt(random_model.tokenizer, long_query.instruction, long_query.response_a, "Short.", 512)
    assert tokenizer.encoded[fitted] == 1
