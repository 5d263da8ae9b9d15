"""Model access: the one way from ``[model]`` settings to a clean model, for every stage.

The base model for the data stages, the same model for training, the trained adapter or merged
checkpoint for evaluation: all go through :class:`~stage1kit.loader.CleanModelLoader` with the
``[model]`` dtype and remote-code settings, so none of them can be loaded differently by accident.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stage1kit.settings import EngineSettings, ModelSettings


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_model_id(model_id: str, base_dir: Path) -> str:
    """A local checkpoint as an absolute path (so configs and commands name it the same way); a hub id as is."""
    candidate = Path(model_id).expanduser()
    candidate = candidate if candidate.is_absolute() else base_dir / candidate
    return str(candidate.resolve()) if candidate.exists() else model_id


@dataclass
class ModelAccess:
    """Loads models from ``[model]`` settings on demand, and keeps the base model for the data stages."""

    settings: ModelSettings
    model_id: str
    _base: Any = field(default=None, repr=False)
    _trained: Any = field(default=None, repr=False)
    _served: Any = field(default=None, repr=False)

    @classmethod
    def preloaded(cls, loaded: Any, settings: ModelSettings | None = None, trained: Any = None) -> "ModelAccess":
        """Access around models already loaded (notebooks, plugin authors' tests); ``loaded`` may be
        None, and the base model then loads from ``settings`` when first asked for."""
        provenance = getattr(loaded, "provenance", {}) or {}
        settings = settings or ModelSettings(id=str(provenance.get("model_id", "")))
        return cls(settings, settings.id, loaded, trained)

    def load_options(self) -> dict[str, Any]:
        """What every load of this model shares: dtype and remote-code settings."""
        return {
            "dtype": self.settings.dtype,
            "trust_remote_code": self.settings.trust_remote_code,
            "allow_remote_code": self.settings.allow_remote_code,
        }

    def loader(self, source: str | Path | None = None, *, device: str | None = "auto", **extra: Any) -> Any:
        """A CleanModelLoader for ``source`` (default: the base model). ``device=None`` leaves
        placement to the caller (the Trainer places the model itself, also under accelerate)."""
        from stage1kit.loader import CleanModelLoader

        if device == "auto":
            device = self.settings.device or default_device()
        is_base = source is None
        return CleanModelLoader(
            self.model_id if is_base else source,
            revision=self.settings.revision if is_base else None,
            device=device,
            **self.load_options(),
            **extra,
        )

    def base(self) -> Any:
        """The base model, loaded once and shared by the data stages."""
        if self._base is None:
            self._base = self.loader().load()
        return self._base

    def served(self, engine: EngineSettings, registry: Any) -> Any:
        """The base model for the data stages, served by ``[engine]``: the transformers engine is
        :meth:`base`; another is built once by its plugin (through the clean loader) and kept."""
        if engine.is_default or getattr(self._base, "engine", None) is not None:
            return self.base()
        if self._served is None:
            plugin = registry.create("engines", engine.name, **engine.settings)
            self._served = plugin.load(self.loader(device=None))
        return self._served

    def release(self) -> None:
        """Drop the base model and close any engine serving it (before training loads its own copy)."""
        self._base = None
        served, self._served = self._served, None
        if served is not None and served.engine is not None:
            served.engine.close()

    def trained(self, folder: Path) -> Any:
        """A trained output: an adapter on the base model, or a whole (merged) checkpoint."""
        if self._trained is not None:
            return self._trained
        if (folder / "adapter_config.json").exists():
            return self.loader(adapter=folder).load()
        return self.loader(folder).load()

    def save_merged(self, folder: Path, destination: Path) -> Any:
        """Write a trained output (an adapter on the base model, or a whole checkpoint) as one whole
        checkpoint in ``destination``, loaded with the ``[model]`` settings (on the CPU)."""
        if (folder / "adapter_config.json").exists():
            return self.loader(adapter=folder, device=None).save_merged(destination)
        return self.loader(folder, device=None).save_merged(destination)

    def preflight(self) -> Any:
        """Open the model's config and tokenizer (no weights) so a bad folder or hub id fails
        before any stage touches its outputs; returns the loader's family report (None when the
        base model is already loaded)."""
        if self._base is not None:
            return None
        from stage1kit.loader import LoaderError

        looks_local = self.settings.id.startswith((".", "/", "~")) or Path(self.model_id).exists()
        if looks_local and not Path(self.model_id).is_dir():
            raise LoaderError(f"[model] id = {self.settings.id!r}: no checkpoint folder at {self.model_id}")
        return self.loader(device=None).preflight()
