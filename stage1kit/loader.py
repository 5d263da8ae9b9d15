"""CleanModelLoader: the one place stage1kit loads a model, a tokenizer or an adapter.

A base model must never see a chat template. Hub checkpoints ship templates in
``tokenizer_config.json``, in ``chat_template.jinja`` or in ``additional_chat_templates/``; a
careless ``AutoTokenizer.from_pretrained`` picks them up and a library further down (TRL,
pipelines, vLLM) silently applies one. This loader neutralises the template, makes
``apply_chat_template`` raise, checks with sentinel encodings that no chat marker can reach a
prompt as a special token, and records where everything came from. The audit (``stage1kit audit``)
rejects model loads anywhere else.
"""

from __future__ import annotations

from stage1kit.errors import Stage1kitError
import json
import platform
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from stage1kit.hashing import file_sha256

#: Markers of the common chat formats; none may encode to a special token.
CHAT_MARKERS = (
    "<|im_start|>",
    "<|im_end|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
    "[INST]",
    "[/INST]",
    "<start_of_turn>",
    "<end_of_turn>",
    "<|user|>",
    "<|assistant|>",
    "<|system|>",
)
SENTINEL_TEXT = "Sentinel check: plain text, numbers 12345, punctuation (!?), and a new line.\nDone."
CONFIG_FILES = ("config.json", "generation_config.json")
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "tokenizer.model",
    "vocab.json",
    "merges.txt",
)
TEMPLATE_FILES = ("chat_template.jinja", "chat_template.json")


class LoaderError(Stage1kitError, RuntimeError):
    """A model or tokenizer could not be loaded clean."""


class ChatTemplateDisabledError(Stage1kitError, RuntimeError):
    """Raised by ``apply_chat_template`` on a tokenizer from CleanModelLoader."""


class _RefuseChatTemplate:
    """Stands in for ``tokenizer.apply_chat_template``; a picklable object, so datasets can hash it."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise ChatTemplateDisabledError(
            "apply_chat_template is disabled: stage1kit trains and prompts base models with plain "
            "text only. Build the prompt as a string (see stage1kit_hf.prompts) instead."
        )


@dataclass
class LoadedModel:
    """A clean model handle: what the engine hands plugins instead of letting them load models."""

    model: Any
    tokenizer: Any
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    @property
    def model_id(self) -> str:
        return str(self.provenance.get("model_id", ""))



def _library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in ("torch", "transformers", "tokenizers", "peft", "trl", "stage1kit"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    return versions


class CleanModelLoader:
    """Load a causal LM and its tokenizer with no chat template, and record their provenance.

    ``CleanModelLoader("path-or-hub-id").load()`` returns a :class:`LoadedModel`. ``adapter`` names
    a PEFT adapter directory to load on top (``trainable=True`` keeps it trainable).
    ``trust_remote_code`` is refused unless ``allow_remote_code=True`` is also given: remote code can
    re-enable anything this loader switches off.
    """

    def __init__(
        self,
        model: str | Path,
        *,
        revision: str | None = None,
        dtype: str | None = None,
        device: str | None = None,
        trust_remote_code: bool = False,
        allow_remote_code: bool = False,
        adapter: str | Path | None = None,
        trainable: bool = False,
        local_files_only: bool | None = None,
    ) -> None:
        if trust_remote_code and not allow_remote_code:
            raise LoaderError(
                f"refusing trust_remote_code=True for '{model}': remote code can change tokenization "
                "and re-enable chat templates. If you have read that code and trust it, pass "
                "allow_remote_code=True as well (it is recorded in the provenance)."
            )
        self.model_name = str(model)
        self.revision = revision
        self.dtype = dtype
        self.device = device
        self.trust_remote_code = trust_remote_code
        self.allow_remote_code = allow_remote_code
        self.adapter = str(adapter) if adapter is not None else None
        self.trainable = trainable
        self.local_files_only = Path(self.model_name).is_dir() if local_files_only is None else local_files_only

    # ------------------------------------------------------------------ loading

    def with_options(self, **options: Any) -> "CleanModelLoader":
        """A loader for the same model with some keywords changed (the constructor's keywords)."""
        current = {
            "revision": self.revision,
            "dtype": self.dtype,
            "device": self.device,
            "trust_remote_code": self.trust_remote_code,
            "allow_remote_code": self.allow_remote_code,
            "adapter": self.adapter,
            "trainable": self.trainable,
            "local_files_only": self.local_files_only,
        }
        return CleanModelLoader(self.model_name, **(current | options))

    def load(self, **options: Any) -> LoadedModel:
        """Load tokenizer and model, neutralise templates, run the sentinel checks.

        Keywords (``revision``, ``dtype``, ``device``, ``trust_remote_code``, ...) override the
        constructor's for this load only.
        """
        if options:
            return self.with_options(**options).load()
        tokenizer, template_sources = self.load_tokenizer_with_sources()
        model = self._load_model()
        if tokenizer.pad_token_id is not None:
            model.config.pad_token_id = tokenizer.pad_token_id
        provenance = self._provenance(model, tokenizer, template_sources)
        return LoadedModel(model=model, tokenizer=tokenizer, provenance=provenance)

    def load_tokenizer(self) -> Any:
        """Only the tokenizer (cheap), cleaned and checked the same way."""
        return self.load_tokenizer_with_sources()[0]

    def load_tokenizer_with_sources(self) -> tuple[Any, list[str]]:
        from transformers import AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(
                self.model_name,
                revision=self.revision,
                trust_remote_code=self.trust_remote_code,
                local_files_only=self.local_files_only,
                chat_template=None,
            )
        except OSError as exc:
            raise LoaderError(f"could not load a tokenizer from '{self.model_name}': {exc}") from exc
        sources = self._template_sources(tokenizer)
        tokenizer.chat_template = None
        tokenizer.apply_chat_template = _RefuseChatTemplate()
        if tokenizer.pad_token is None:
            # Pad with EOS rather than adding a token: new special tokens change the vocabulary
            # and are exactly what the sentinel check is there to catch.
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"  # generation pads on the left; scoring sets its own side
        check_sentinels(tokenizer)
        return tokenizer, sources

    def _load_model(self) -> Any:
        from transformers import AutoModelForCausalLM

        kwargs: dict[str, Any] = {
            "revision": self.revision,
            "trust_remote_code": self.trust_remote_code,
            "local_files_only": self.local_files_only,
        }
        if self.dtype:
            kwargs["dtype"] = _torch_dtype(self.dtype)
        try:
            model = AutoModelForCausalLM.from_pretrained(self.model_name, **kwargs)
        except OSError as exc:
            raise LoaderError(f"could not load a causal LM from '{self.model_name}': {exc}") from exc
        if self.device:
            model = model.to(self.device)
        if self.adapter:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, self.adapter, is_trainable=self.trainable)
        if not self.trainable:
            model.eval()
        return model

    def preflight(self) -> None:
        """Open the model's config and tokenizer, no weights: cheap, and it fails on a corrupted
        ``config.json``, an unreachable hub id or a refused tokenizer before any stage starts."""
        from transformers import AutoConfig

        try:
            AutoConfig.from_pretrained(
                self.model_name,
                revision=self.revision,
                trust_remote_code=self.trust_remote_code,
                local_files_only=self.local_files_only,
            )
        except (OSError, ValueError) as exc:  # transformers raises both for unreadable configs
            raise LoaderError(
                f"could not open the model config of '{self.model_name}': {exc}. Check [model] id "
                "(a checkpoint folder with a valid config.json, or a hub id this machine can reach)."
            ) from exc
        self.load_tokenizer()

    # ------------------------------------------------------------------ provenance

    def _local_file(self, name: str) -> Path | None:
        root = Path(self.model_name)
        if root.is_dir():
            candidate = root / name
            return candidate if candidate.is_file() else None
        try:
            from huggingface_hub import try_to_load_from_cache

            found = try_to_load_from_cache(self.model_name, name, revision=self.revision)
        except Exception:  # a cache lookup is best effort: provenance records what it can find
            return None
        return Path(found) if isinstance(found, str) else None

    def _template_sources(self, tokenizer: Any) -> list[str]:
        sources = []
        config = self._local_file("tokenizer_config.json")
        if config is not None:
            try:
                if json.loads(config.read_text(encoding="utf-8")).get("chat_template"):
                    sources.append("tokenizer_config.json")
            except (OSError, json.JSONDecodeError):
                pass
        sources += [name for name in TEMPLATE_FILES if self._local_file(name) is not None]
        extra = Path(self.model_name) / "additional_chat_templates"
        if extra.is_dir():
            sources += [f"additional_chat_templates/{p.name}" for p in sorted(extra.iterdir())]
        if getattr(tokenizer, "chat_template", None) and not sources:
            sources.append("tokenizer (loaded)")
        return sources

    def _file_hashes(self, names: tuple[str, ...]) -> dict[str, str]:
        hashes = {}
        for name in names:
            path = self._local_file(name)
            if path is not None:
                hashes[name] = file_sha256(path)
        return hashes

    def _provenance(self, model: Any, tokenizer: Any, template_sources: list[str]) -> dict[str, Any]:
        resolved = getattr(model.config, "_commit_hash", None)
        return {
            "model_id": self.model_name,
            "revision": self.revision,
            "resolved_revision": resolved,
            "adapter": self.adapter,
            "dtype": str(next(model.parameters()).dtype).replace("torch.", ""),
            "chat_template": {
                "state": "disabled",
                "found_and_ignored": template_sources,
            },
            "bos": {"id": tokenizer.bos_token_id, "token": tokenizer.bos_token},
            "eos": {"id": tokenizer.eos_token_id, "token": tokenizer.eos_token},
            "pad": {"id": tokenizer.pad_token_id, "token": tokenizer.pad_token, "side": "left"},
            "trust_remote_code": self.trust_remote_code,
            "config_sha256": self._file_hashes(CONFIG_FILES),
            "tokenizer_sha256": self._file_hashes(TOKENIZER_FILES),
            # the templates are stripped, but which ones sat beside the model is part of its identity
            "chat_template_sha256": self._file_hashes(TEMPLATE_FILES),
            "libraries": _library_versions(),
        }


def _torch_dtype(name: str) -> Any:
    import torch

    if name == "auto":
        return "auto"
    value = getattr(torch, name, None)
    if not isinstance(value, torch.dtype):
        raise LoaderError(f"unknown dtype '{name}'; use e.g. float32, bfloat16, float16 or auto")
    return value


def check_sentinels(tokenizer: Any) -> None:
    """Fail unless plain text encodes with no special tokens beyond the model's BOS/EOS policy.

    Two probes: a plain sentinel sentence must encode to ordinary tokens (plus BOS/EOS where the
    tokenizer adds them), and no chat marker may encode to a special token, since then any prompt
    text containing it would reach the model as a chat-turn boundary.
    """
    allowed = {tokenizer.bos_token_id, tokenizer.eos_token_id} - {None}
    special = set(tokenizer.all_special_ids)
    ids = tokenizer(SENTINEL_TEXT)["input_ids"]
    unexpected = [tokenizer.convert_ids_to_tokens(i) for i in ids if i in special and i not in allowed]
    if unexpected:
        raise LoaderError(f"sentinel check failed: plain text encoded with extra special tokens {unexpected}")
    bos_eos = {tokenizer.bos_token, tokenizer.eos_token}
    found = []
    for marker in CHAT_MARKERS:
        if marker in bos_eos:
            continue
        for token_id in tokenizer(marker, add_special_tokens=False)["input_ids"]:
            token = tokenizer.convert_ids_to_tokens(token_id)
            added = tokenizer.added_tokens_decoder.get(token_id)
            if token_id in special or (added is not None and added.special):
                found.append(f"{marker!r} -> special token {token!r} (id {token_id})")
    if found:
        raise LoaderError(
            "sentinel check failed: chat markers encode to special tokens, so prompt text could "
            "open a chat turn: " + "; ".join(found) + ". Use a base checkpoint without chat tokens."
        )
