"""Every family loads through CleanModelLoader with its own BOS/EOS/pad policy, stop tokens and templates
stripped, and data text never encodes to one of its special tokens."""

import pytest

from stage1kit.chat_markers import CHAT_MARKERS
from stage1kit.encoding import encode_data, encode_pairs
from stage1kit.loader import CleanModelLoader, special_ids
from stage1kit.testing_families import FAMILIES, family

from family_helpers import MARKER_TEXT, stray_specials
from conftest import FAMILY_NAMES


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_family_loads_with_its_own_policy(name, family_dir):
    fam = family(name)
    loaded = CleanModelLoader(family_dir(name)).load()
    tok, prov = loaded.tokenizer, loaded.provenance
    assert tok.chat_template is None
    assert prov["bos"]["prepended"] is fam.add_bos
    first = encode_data(tok, ["Hello"], bos=True)[0][0]
    assert (first == tok.bos_token_id) is fam.add_bos
    assert tok.eos_token == fam.eos
    assert tok.pad_token == (fam.pad or fam.eos)  # the loader pads with EOS where the family has no pad
    assert set(prov["stop_tokens"]) == {fam.eos, *fam.turn_end}
    assert list(prov["chat_special_tokens"]) == [m for m in CHAT_MARKERS if m in fam.chat_special_tokens]
    expected_templates = [fam.template_file] if fam.shipped_template else []
    assert prov["chat_template"]["found_and_ignored"] == expected_templates


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_marker_text_in_data_never_becomes_a_special_token(name, family_dir):
    tok = CleanModelLoader(family_dir(name)).load_tokenizer()
    every_special = [tok.convert_ids_to_tokens(i) for i in sorted(special_ids(tok))]
    texts = [MARKER_TEXT, " ".join(every_special), *CHAT_MARKERS]
    assert stray_specials(tok, encode_data(tok, texts, bos=True)) == []
    assert stray_specials(tok, encode_data(tok, texts, bos=False)) == []
    # ... while the vocabulary really holds the family's chat tokens, as special tokens
    for marker in family(name).chat_special_tokens:
        assert tok.convert_tokens_to_ids(marker) in special_ids(tok)


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_inspect_reports_the_family_without_weights(name, family_dir):
    fam = family(name)
    report = CleanModelLoader(family_dir(name)).inspect()
    assert report.bos_prepended is fam.add_bos and report.eos_token == fam.eos
    assert set(report.stop_tokens) == {fam.eos, *fam.turn_end}
    assert set(report.chat_special_tokens) == set(fam.chat_special_tokens)
    assert report.context_length == 512 and report.fits(512) and not report.fits(513)
    assert any("stops on" in line for line in report.lines())


@pytest.mark.parametrize("name", [f.name for f in FAMILIES if f.style == "sentencepiece"])
def test_sentencepiece_completion_is_split_where_training_splits_it(name, family_dir):
    """Tokenised alone, " Paris" starts with a lone ▁ the model never sees after "Answer:"."""
    tok = CleanModelLoader(family_dir(name)).load_tokenizer()
    alone = encode_data(tok, [" Paris"], bos=False)[0]
    assert tok.convert_ids_to_tokens(alone[0]) == "▁"
    [pair] = encode_pairs(tok, ["Query: Capital of France?\nAnswer:"], [" Paris"], eos=False)
    assert pair.boundary_clean
    assert tok.convert_ids_to_tokens(list(pair.completion_ids))[0] != "▁"
    assert len(pair.completion_ids) == len(alone) - 1
