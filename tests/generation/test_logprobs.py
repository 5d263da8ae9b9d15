"""The scoring primitive agrees with a plain one-example-at-a-time computation."""

from __future__ import annotations

import pytest
import torch

from stage1kit.logprobs import (
    ContextLengthError,
    OptionCollisionError,
    ScoringConfig,
    continuation_logprobs,
    option_logprobs,
    option_tokens,
    plan_batches,
)

PROMPTS = [
    "Query: Why is the sky blue?\nAnswer:",
    "Hi",
    "Explain the water cycle to a child in a few short and simple sentences, please.",
    "A",
    "Write a poem about the sea at night.",
]
CONTINUATIONS = [" Because of scattering.", " there", " Water rises, cools and falls as rain.", " B", ""]


def reference(loaded, prompt: str, continuation: str) -> float:
    """log P(continuation | prompt): one unpadded forward pass, full logits, summed by hand."""
    tok = loaded.tokenizer
    prompt_ids = tok(prompt)["input_ids"]
    cont_ids = tok(continuation, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = loaded.model(torch.tensor([prompt_ids + cont_ids])).logits[0]
    logp = torch.log_softmax(logits.float(), dim=-1)
    return sum(logp[len(prompt_ids) - 1 + j, t].item() for j, t in enumerate(cont_ids))


CONFIGS = [
    ScoringConfig(batch_size=b, padding_side=side)
    for side in ("left", "right")
    for b in (1, 2, 3, 16)
] + [ScoringConfig(batch_size=16, max_tokens_per_batch=40, padding_side="left")]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.padding_side}-b{c.batch_size}-t{c.max_tokens_per_batch}")
def test_continuations_match_per_example_reference(random_model, config):
    expected = [reference(random_model, p, c) for p, c in zip(PROMPTS, CONTINUATIONS)]
    got = continuation_logprobs(random_model, PROMPTS, CONTINUATIONS, config)
    assert [g.logprob for g in got] == pytest.approx(expected, abs=1e-5)
    assert got[-1].num_tokens == 0 and got[-1].logprob == 0.0  # an empty continuation costs nothing
    assert got[0].num_tokens == len(got[0].token_logprobs) > 1


@pytest.mark.parametrize("options", [(" A", " B"), (" Yes", " No"), (" 1", " 2", " D"), (" C", " 1")])
@pytest.mark.parametrize("side", ["left", "right"])
def test_options_match_reference(random_model, options, side):
    config = ScoringConfig(batch_size=2, padding_side=side)
    got = option_logprobs(random_model, PROMPTS, options, config)
    expected = [[reference(random_model, p, o) for o in options] for p in PROMPTS]
    for row, want in zip(got, expected):
        assert row == pytest.approx(want, abs=1e-5)


def test_single_token_options_share_one_row_per_prompt(random_model):
    # byte-level BPE splits " A" into "Ġ" + "A": the shared "Ġ" is scored once, then A/B at one position
    tokens = option_tokens(random_model.tokenizer, [" A", " B"])
    assert len(tokens.shared) == 1 and tokens.single_row
    assert not option_tokens(random_model.tokenizer, [" Yes", " No"]).single_row


def test_results_come_back_in_the_callers_order(random_model):
    forward = continuation_logprobs(random_model, PROMPTS, CONTINUATIONS, ScoringConfig(batch_size=2))
    backward = continuation_logprobs(random_model, PROMPTS[::-1], CONTINUATIONS[::-1], ScoringConfig(batch_size=2))
    assert [s.logprob for s in backward] == pytest.approx([s.logprob for s in forward][::-1], abs=1e-5)


@pytest.mark.parametrize(
    "options, message",
    [
        ((" Yes", " Yellow", " No"), "collide"),  # " Yes" and " Yellow" both continue with "Y"
        (("A", "A cat"), "prefix"),
        ((" A", " A"), "identical"),
    ],
)
def test_colliding_options_are_an_error(random_model, options, message):
    with pytest.raises(OptionCollisionError, match=message):
        option_logprobs(random_model, PROMPTS[:1], options)


def test_batches_respect_size_and_token_budget():
    lengths = [5, 30, 12, 7, 30, 2]
    batches = plan_batches(lengths, ScoringConfig(batch_size=3, max_tokens_per_batch=60))
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) <= 3
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= 60
    assert batches[0] == [1, 4]  # longest first: two 30-token rows fill the 60-token budget


def test_bad_config_is_refused():
    with pytest.raises(ValueError, match="padding_side"):
        ScoringConfig(padding_side="middle")


HEADER = "Below are requests, each followed by an answer from a careful and helpful assistant.\n\n"


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("batch_size", [1, 3, 16])
def test_a_shared_prompt_header_is_run_once_and_scores_the_same(random_model, side, batch_size):
    from stage1kit.logprobs import _shared_prefix_length, encode_prompts

    prompts = [HEADER + p for p in PROMPTS]
    rows = encode_prompts(random_model.tokenizer, prompts)
    assert _shared_prefix_length(rows, [[[0]]] * len(rows)) >= 16  # long enough to be shared
    expected = [reference(random_model, p, c) for p, c in zip(prompts, CONTINUATIONS)]
    shared = continuation_logprobs(random_model, prompts, CONTINUATIONS, ScoringConfig(batch_size=batch_size, padding_side=side))
    unshared = continuation_logprobs(
        random_model, prompts, CONTINUATIONS, ScoringConfig(batch_size=batch_size, padding_side=side, share_prefix=False)
    )
    assert [s.logprob for s in shared] == pytest.approx(expected, abs=1e-5)
    assert [s.logprob for s in unshared] == pytest.approx(expected, abs=1e-5)
    options = option_logprobs(random_model, prompts, [" A", " B"], ScoringConfig(batch_size=batch_size, padding_side=side))
    assert options == [pytest.approx([reference(random_model, p, o) for o in (" A", " B")], abs=1e-5) for p in prompts]


def test_options_are_tokenised_as_they_follow_the_prompt():
    """With a SentencePiece-style tokenizer the option ids are the tail of the whole prompt's encoding."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE(unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first")
    core.train_from_iterator(["Better answer: A", "Better answer: B"] * 20, trainers.BpeTrainer(special_tokens=["<unk>"], vocab_size=60))
    tok = PreTrainedTokenizerFast(tokenizer_object=core)
    in_context = option_tokens(tok, [" A", " B"], context="Better answer:")
    full = tok("Better answer: A", add_special_tokens=False)["input_ids"]
    head = tok("Better answer:", add_special_tokens=False)["input_ids"]
    assert tuple(in_context.shared) + in_context.rest[0] == tuple(full[len(head) :])


def test_a_row_longer_than_the_model_is_refused_by_name(random_model):
    long_prompt = "word " * 600  # the tiny model has 512 positions
    with pytest.raises(ContextLengthError, match=r"row 1 has \d+ tokens but the model handles at most 512"):
        continuation_logprobs(random_model, ["short", long_prompt], [" a", " b"])


def test_prompts_encoded_by_the_caller_are_scored_as_given(random_model):
    """A caller that measured its prompts hands their ids on; the scores are those of the texts."""
    from stage1kit.logprobs import encode_prompts

    ids = encode_prompts(random_model.tokenizer, PROMPTS)
    config = ScoringConfig(batch_size=2)
    assert option_logprobs(random_model, PROMPTS, [" Yes", " No"], config, prompt_ids=ids) == option_logprobs(
        random_model, PROMPTS, [" Yes", " No"], config
    )
    with pytest.raises(ValueError, match="5 prompts but 4 prompt_ids"):
        option_logprobs(random_model, PROMPTS, [" A", " B"], prompt_ids=ids[:4])
