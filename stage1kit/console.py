"""What the ML libraries may print while stage1kit works: nothing but errors when the user asks for quiet.

transformers, datasets, huggingface_hub, TRL, PEFT and accelerate each draw their own tqdm bars
("Loading weights", "Map"), log advisory warnings and raise ``FutureWarning``/``UserWarning`` about
their own internals. None of it is something a stage1kit user can act on, and under ``--quiet`` it
buried the lines that mattered. :func:`quiet_libraries` silences it through each library's own
switches and sets every switch back on the way out (tests run many commands in one process).

A library that is not imported yet is switched the moment something imports it, never imported
here just to be switched: transformers and datasets take a second or two to import, which a run
whose stages are all up to date would otherwise pay for nothing. So ``stage1kit --help`` and
``stage1kit audit`` stay free of torch and transformers, and importing this module costs nothing.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from types import ModuleType
from typing import Any

#: Packages whose logs and warnings ``--quiet`` silences.
LIBRARIES = ("transformers", "datasets", "huggingface_hub", "trl", "peft", "accelerate", "vllm")
#: Those that log through a plain stdlib logger named after them; the others (re)set their logger's
#: level when first imported, so their own ``set_verbosity`` is used instead.
PLAIN_LOGGERS = ("trl", "peft", "accelerate")
#: Warning classes the libraries raise about their own internals (deprecations, defaults).
LIBRARY_WARNINGS = (FutureWarning, UserWarning, DeprecationWarning)

#: Silences one library's progress bars (and its own log level) and returns what sets them back.
Silencer = Callable[[], Callable[[], None]]


@contextlib.contextmanager
def quiet_libraries(quiet: bool) -> Iterator[None]:
    """While inside, when ``quiet``: no library progress bars, library logs at ERROR only, no library warnings.

    Not quiet: libraries print as they always do (training draws stage1kit's own rich bar).
    """
    if not quiet:
        yield
        return
    with contextlib.ExitStack() as stack:
        stack.enter_context(_library_warnings_hidden())
        stack.enter_context(_library_loggers_at_error())
        # transformers' bar switch flips the hub's too, so the hub's bars are switched only without it.
        hub_bars = not _installed("transformers")
        _silence_when_imported("huggingface_hub", lambda: _silence_hub(bars=hub_bars), stack)
        _silence_when_imported("transformers", _silence_transformers, stack)
        _silence_when_imported("datasets", _silence_datasets, stack)
        stack.enter_context(_vllm_logs_at_error())
        yield


@contextlib.contextmanager
def _vllm_logs_at_error() -> Iterator[None]:
    """vLLM reads its log level from the environment when imported, in this process and in the
    engine processes it starts (which inherit the environment), so the switch is the variable; a
    vLLM already imported has its logger set too."""
    before = os.environ.get("VLLM_LOGGING_LEVEL")
    os.environ["VLLM_LOGGING_LEVEL"] = "ERROR"
    logger = logging.getLogger("vllm")
    level = logger.level
    if "vllm" in sys.modules:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
        if before is None:
            os.environ.pop("VLLM_LOGGING_LEVEL", None)
        else:
            os.environ["VLLM_LOGGING_LEVEL"] = before


@contextlib.contextmanager
def _library_warnings_hidden() -> Iterator[None]:
    module = "(" + "|".join(LIBRARIES) + r")(\.|$)"
    with warnings.catch_warnings():
        for category in LIBRARY_WARNINGS:
            warnings.filterwarnings("ignore", category=category, module=module)
        yield


@contextlib.contextmanager
def _library_loggers_at_error(names: Sequence[str] = PLAIN_LOGGERS) -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _silence_transformers() -> Callable[[], None]:
    from transformers.utils import logging as hf_logging

    bars_on, level = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()

    def restore() -> None:
        hf_logging.set_verbosity(level)
        if bars_on:
            hf_logging.enable_progress_bar()

    return restore


def _silence_datasets() -> Callable[[], None]:
    import datasets

    bars_on, level = not datasets.are_progress_bars_disabled(), datasets.logging.get_verbosity()
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()

    def restore() -> None:
        datasets.logging.set_verbosity(level)
        if bars_on:
            datasets.enable_progress_bars()

    return restore


def _silence_hub(*, bars: bool) -> Callable[[], None]:
    from huggingface_hub import utils as hub

    bars_on, level = not hub.are_progress_bars_disabled(), hub.logging.get_verbosity()
    if bars:
        hub.disable_progress_bars()
    hub.logging.set_verbosity_error()

    def restore() -> None:
        hub.logging.set_verbosity(level)
        if bars and bars_on:
            hub.enable_progress_bars()

    return restore


def _silence_when_imported(name: str, silence: Silencer, stack: contextlib.ExitStack) -> None:
    """Silence library ``name`` now if it is imported, else right after its import; undo it on ``stack``'s exit."""
    if name in sys.modules:
        stack.callback(silence())
    elif _installed(name):
        hook = _AfterImport(name, lambda: stack.callback(silence()))
        sys.meta_path.insert(0, hook)
        stack.callback(hook.remove)


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs ``then()`` once, right after the module ``name`` has been executed by its own loader."""

    def __init__(self, name: str, then: Callable[[], None]) -> None:
        self.name = name
        self.then = then
        self.fired = False

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None) -> Any:
        if fullname != self.name or self.fired:
            return None
        self.fired = True  # also keeps the search below from finding this finder again
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        run_module = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run_module(module)
            self.then()

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec

    def remove(self) -> None:
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)


def _installed(name: str) -> bool:
    return name in sys.modules or importlib.util.find_spec(name) is not None
