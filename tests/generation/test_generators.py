"""The Self-Instruct and Best-of-N generators on tiny models: targets, filters, provenance, resume."""

from __future__ import annotations

import pytest

from stage1kit.prompting import PromptFormat
from stage1kit.protocols import InstructionGenerator, ResponseGenerator

from gen_helpers import FAST_INSTRUCTIONS, FAST_RESPONSES, PROVENANCE_KEYS


def test_generators_are_registered_under_their_protocols(registry):
    assert isinstance(registry.create("instruction_generators", "self-instruct"), InstructionGenerator)
    assert isinstance(registry.create("response_generators", "best-of-n"), ResponseGenerator)


def test_self_instruct_stops_at_the_target(talking_model, critic, registry, sink):
    generator = registry.create("instruction_generators", "self-instruct", **FAST_INSTRUCTIONS)
    stats = generator.generate(talking_model, critic, sink, target=3, seed=0)
    assert len(sink.records) == 3 and stats.accepted == 3 and stats.target_reached
    assert sum(r["accepted"] for r in stats.per_round) == 3
    assert stats.generated == 3 + sum(stats.rejected.values()) + sum(r["surplus"] for r in stats.per_round)
    assert len({r["id"] for r in sink.records}) == 3
    for record in sink.records:
        assert isinstance(record["instruction"], str) and record["instruction"].strip()
        assert 0.0 <= record["quality"] <= 1.0
        assert PROVENANCE_KEYS <= set(record["provenance"])
        assert record["provenance"]["plugin"] == "self-instruct"
        assert record["provenance"]["model_id"] == talking_model.model_id


def test_gibberish_is_rejected_and_the_shortfall_reported(random_model, critic, registry, sink):
    generator = registry.create("instruction_generators", "self-instruct", max_rounds=2, prompts_per_round=2, max_new_tokens=8)
    stats = generator.generate(random_model, critic, sink, target=50, seed=0)
    assert not stats.target_reached and len(sink.records) == stats.accepted < 50
    assert stats.rejected  # each rejection counted under its filter
    assert stats.generated == stats.accepted + sum(stats.rejected.values())
    assert "not reached" in stats.notes[0] and stats.rounds == 2


def _strip(records):
    return [{k: v for k, v in r.items() if k != "provenance"} for r in records]


def test_resume_after_any_interruption_equals_the_uninterrupted_run(talking_model, critic, registry, sink):
    """Cut the written records anywhere (mid-round included): resuming writes exactly the rest."""
    generator = registry.create("instruction_generators", "self-instruct", **FAST_INSTRUCTIONS)
    generator.generate(talking_model, critic, sink, target=6, seed=0)
    reference = list(sink.records)
    assert len(reference) == 6 and len({r["round"] for r in reference}) > 1
    for cut in range(1, len(reference)):
        sink.records.clear()
        stats = generator.generate(talking_model, critic, sink, target=6, seed=0, existing=reference[:cut])
        assert _strip(reference[:cut] + sink.records) == _strip(reference), f"resumed after {cut} records"
        assert stats.accepted == 6 and stats.target_reached


def test_a_bad_seed_file_names_the_line(tmp_path, registry):
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text('{"instruction": "Write a poem."}\n{"task": "no instruction field"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"seeds.jsonl:2: .*'instruction'"):
        registry.create("instruction_generators", "self-instruct", seed_file=str(seeds))


INSTRUCTIONS = [{"id": "ins_a", "instruction": "Write a poem about the sea.", "round": 1}, {"id": "ins_b", "instruction": "List three fruits.", "round": 1}]


def test_best_of_n_writes_k_candidates_per_instruction(talking_model, registry, sink):
    generator = registry.create("response_generators", "best-of-n", **FAST_RESPONSES)
    stats = generator.generate(talking_model, INSTRUCTIONS, sink, k=3, seed=0)
    assert [r["instruction_id"] for r in sink.records] == ["ins_a", "ins_b"]
    for record in sink.records:
        assert len(record["candidates"]) == len(record["truncated"]) == 3
        assert all(isinstance(c, str) for c in record["candidates"])
        assert PROVENANCE_KEYS <= set(record["provenance"]) and record["provenance"]["k"] == 3
    assert stats.generated == 6 and stats.accepted == 2


def test_best_of_n_is_seeded(talking_model, registry, sink):
    generator = registry.create("response_generators", "best-of-n", **FAST_RESPONSES)
    generator.generate(talking_model, INSTRUCTIONS, sink, k=2, seed=7)
    generator.generate(talking_model, INSTRUCTIONS, sink, k=2, seed=7)
    first, second = sink.records[:2], sink.records[2:]
    assert [r["candidates"] for r in first] == [r["candidates"] for r in second]


def test_best_of_n_resumed_after_any_record_equals_the_uninterrupted_run(talking_model, registry, sink):
    many = [{"id": f"ins_{n}", "instruction": f"Name {n} things you can find at sea."} for n in range(7)]
    generator = registry.create("response_generators", "best-of-n", **{**FAST_RESPONSES, "batch_size": 1})  # chunks of 4
    generator.generate(talking_model, many, sink, k=2, seed=3)
    reference = list(sink.records)
    for cut in (1, 4, 6):
        sink.records.clear()
        done = {r["instruction_id"] for r in reference[:cut]}
        stats = generator.generate(talking_model, many, sink, k=2, seed=3, done=done)
        assert _strip(reference[:cut] + sink.records) == _strip(reference), f"resumed after {cut} records"
        assert stats.accepted == len(many) - cut


def test_stop_strings_cut_answers_and_the_token_limit_is_flagged(random_model, talking_model, registry, sink):
    cut = registry.create("response_generators", "best-of-n", max_new_tokens=16)
    cut.generate(talking_model, INSTRUCTIONS, sink, k=2, seed=0, prompt_format=PromptFormat(stop=(" ",)))
    assert all(" " not in c for r in sink.records for c in r["candidates"])
    sink.records.clear()
    # random weights essentially never emit EOS within 3 tokens: every answer is cut off
    limited = registry.create("response_generators", "best-of-n", max_new_tokens=3)
    stats = limited.generate(random_model, INSTRUCTIONS, sink, k=2, seed=0, prompt_format=PromptFormat(stop=()))
    assert all(all(r["truncated"]) for r in sink.records) and stats.rejected["truncated"] == 4


def test_a_users_list_template_is_used_and_recorded(talking_model, critic, registry, sink):
    import random

    template = "Tasks people ask for:\n{tasks}\n{next})"
    generator = registry.create("instruction_generators", "self-instruct", prompt_template=template, **FAST_INSTRUCTIONS)
    prompt, number = generator.build_prompt(random.Random(0), [])
    assert prompt.startswith("Tasks people ask for:\n1. ") and prompt.endswith(f"\n{number})") and number == 3
    generator.generate(talking_model, critic, sink, target=1, seed=0)
    default = registry.create("instruction_generators", "self-instruct")
    assert sink.records[0]["provenance"]["prompt_template_sha256"] != default.describe()["prompt_template_sha256"]
