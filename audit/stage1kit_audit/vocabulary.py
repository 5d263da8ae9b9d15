"""The names the rules look for, kept apart from the rules so the prefilter can use them cheaply."""

from __future__ import annotations

# SK100: methods that load whatever their receiver is, and (package, callable) pairs that load.
LOAD_METHODS = frozenset({"from_pretrained", "from_config", "from_engine_args", "from_vllm_config"})
LOAD_CALLABLES = frozenset(
    {
        ("transformers", "pipeline"),
        ("vllm", "LLM"),
        ("vllm", "LLMEngine"),
        ("vllm", "AsyncLLMEngine"),
        ("vllm", "AsyncLLM"),
        ("sglang", "Engine"),
        ("sglang", "Runtime"),
        ("tensorrt_llm", "LLM"),
        ("torch", "load"),
        ("safetensors", "load_file"),
        ("safetensors", "load"),
        ("safetensors", "safe_open"),
        ("huggingface_hub", "hf_hub_download"),
        ("huggingface_hub", "snapshot_download"),
        ("peft", "load_peft_weights"),
        ("sentence_transformers", "SentenceTransformer"),
        ("sentence_transformers", "CrossEncoder"),
    }
)

# Inference engines: an object they construct holds a model, and its ``.chat(messages)`` applies the
# model's chat template (vLLM ``LLM.chat``, sglang, TensorRT-LLM).
ENGINE_LIBRARIES = frozenset({"vllm", "sglang", "tensorrt_llm"})
ENGINE_CHAT = "chat"

# SK200: keys that set a template, and attributes/functions that apply or expose one.
TEMPLATE_KEYS = frozenset({"chat_template", "chat_template_path"})
TEMPLATE_CALLS = frozenset(
    {"apply_chat_template", "maybe_apply_chat_template", "clone_chat_template", "default_chat_template"}
)

# SK200: a keyword that switches template use on (lm-eval's ``apply_chat_template=True``).
TEMPLATE_SWITCHES = frozenset({"apply_chat_template"})

# Suppression comments start with this (after ``#``).
MARKER = b"stage1kit:"


def retired_needles(entry: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(substrings to look for in string literals, dotted module names) for one retired entry."""
    path = entry[:-3] if entry.endswith(".py") else entry
    if "/" in entry or entry.endswith(".py"):
        module = path.strip("/").replace("/", ".")
        texts = {entry, entry.rsplit("/", 1)[-1]}
    else:
        module = entry
        texts = {entry, entry.replace(".", "/")}
    return tuple(sorted(texts)), (module,)
