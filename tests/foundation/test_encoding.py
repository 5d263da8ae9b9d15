"""stage1kit.encoding: data text never becomes a special token; BOS and training EOS still do."""

import pytest

from stage1kit.encoding import common_prefix_length, encode_data, encode_pairs
from stage1kit.loader import CleanModelLoader


@pytest.fixture(scope="module")
def tok(tiny_model_dir):
    return CleanModelLoader(tiny_model_dir).load_tokenizer()


def test_special_token_strings_in_data_split_but_bos_stays(tok):
    [ids] = encode_data(tok, ["one </s> two <s>"], bos=True)
    assert ids[0] == tok.bos_token_id
    assert tok.eos_token_id not in ids and tok.bos_token_id not in ids[1:]
    assert tok.decode(ids[1:]) == "one </s> two <s>"  # nothing lost, only split
    assert encode_data(tok, ["one"], bos=False)[0][0] != tok.bos_token_id
    assert encode_data(tok, [], bos=True) == []


def test_pairs_split_where_the_prompt_alone_stops_matching(tok):
    [pair] = encode_pairs(tok, ["Query: hi\nAnswer:"], [" Hello </s>"], eos=True)
    assert pair.boundary_clean
    assert pair.input_ids == encode_data(tok, ["Query: hi\nAnswer: Hello </s>"], bos=True)[0] + [tok.eos_token_id]
    assert pair.completion_ids[-1] == tok.eos_token_id and pair.completion_ids.count(tok.eos_token_id) == 1
    [bare] = encode_pairs(tok, ["Query: hi\nAnswer:"], [" Hello"], eos=False)
    assert tok.eos_token_id not in bare.completion_ids


def test_a_prompt_that_merges_into_its_completion_is_reported(tok):
    """A prompt cut mid-word: its last token merges with the completion's first, as TRL would see it."""
    [pair] = encode_pairs(tok, ["Query: hi\nAnswer: Hel"], ["lo"], eos=False)
    assert not pair.boundary_clean
    assert len(pair.prompt_ids) == common_prefix_length(pair.prompt_alone, pair.input_ids) < len(pair.prompt_alone)
    assert pair.input_ids == encode_data(tok, ["Query: hi\nAnswer: Hello"], bos=True)[0]


def test_mismatched_lengths_are_refused(tok):
    with pytest.raises(ValueError, match="2 prompts but 1 completions"):
        encode_pairs(tok, ["a", "b"], ["c"], eos=True)
