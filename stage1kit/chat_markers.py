"""The chat-format markers stage1kit watches for, and the one function that finds them in text.

A marker string may sit in a base vocabulary as a special token (Llama 3, Qwen, Gemma, Mistral v0.3,
OLMo-2 and SmolLM2 all ship some); what must never happen is a marker reaching the model as that
token. The loader's sentinel check, the sampler's stop set, the manifests' data scan and the training
gate all read the markers from here, so a marker added once is watched everywhere.
"""

from __future__ import annotations

#: Markers of the common chat formats (ChatML, Llama 3, Llama 2/Mistral, Gemma, Zephyr/Phi).
CHAT_MARKERS = (
    "<|im_start|>",
    "<|im_end|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
    "<|eom_id|>",
    "[INST]",
    "[/INST]",
    "<start_of_turn>",
    "<end_of_turn>",
    "<|user|>",
    "<|assistant|>",
    "<|system|>",
    "<|end|>",
)

#: Markers that close a chat turn: a base model that emits one has finished its answer and is about
#: to write the other side of a conversation, so generation stops there (as it does at EOS).
TURN_END_MARKERS = ("<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<end_of_turn>", "<|end|>", "[/INST]")


def find_markers(text: str) -> list[str]:
    """The chat markers ``text`` contains, in :data:`CHAT_MARKERS` order (empty when clean)."""
    return [marker for marker in CHAT_MARKERS if marker in text]
