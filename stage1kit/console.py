"""What the ML libraries may print while stage1kit works: nothing but errors when the user asks for quiet.

transformers, datasets, huggingface_hub, TRL, PEFT and accelerate each draw their own tqdm bars
("Loading weights", "Map"), log advisory warnings and raise ``FutureWarning``/``UserWarning`` about
their own internals. None of it is something a stage1kit user can act on, and under ``--quiet``
it buried the one line that mattered. :func:`library_output` silences it through each library's
own switches and restores every switch on the way out (tests run many commands in one process).

The libraries are imported only when quiet is asked for, never at import time, so ``stage1kit
--help`` and ``stage1kit audit`` stay free of torch and transformers.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import warnings
from collections.abc import Callable, Iterator

#: Packages whose progress bars, logs and warnings ``--quiet`` silences.
LIBRARIES = ("transformers", "datasets", "huggingface_hub", "trl", "peft", "accelerate")
#: Warning classes the libraries raise about their own internals (deprecations, defaults).
LIBRARY_WARNINGS = (FutureWarning, UserWarning, DeprecationWarning)


@contextlib.contextmanager
def library_output(*, quiet: bool) -> Iterator[None]:
    """While inside, when ``quiet``: no library progress bars, library logs at ERROR only, no library warnings.

    Not quiet: libraries print as they always do (training draws stage1kit's own rich bar).
    """
    if not quiet:
        yield
        return
    with contextlib.ExitStack() as stack:
        stack.enter_context(_library_warnings_hidden())
        stack.enter_context(_library_progress_bars_off())  # imports the libraries, which set their log levels
        stack.enter_context(_library_logs_at_error())  # so the levels come after
        yield


@contextlib.contextmanager
def _library_warnings_hidden() -> Iterator[None]:
    module = "(" + "|".join(LIBRARIES) + r")(\.|$)"
    with warnings.catch_warnings():
        for category in LIBRARY_WARNINGS:
            warnings.filterwarnings("ignore", category=category, module=module)
        yield


@contextlib.contextmanager
def _library_logs_at_error() -> Iterator[None]:
    """Each library logs through a stdlib logger named after it (transformers' verbosity is that level)."""
    loggers = [logging.getLogger(name) for name in LIBRARIES]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


@contextlib.contextmanager
def _library_progress_bars_off() -> Iterator[None]:
    """transformers, datasets and huggingface_hub each keep their own on/off switch for tqdm bars.

    All states are read before any is switched (a library reads the hub's switch when imported), and
    they are set back in reverse, the hub's last, since transformers' switch flips the hub's too.
    """
    switches = _progress_bar_switches()
    was_off = [is_off() for is_off, _, _ in switches]
    for _, switch_off, _ in switches:
        switch_off()
    try:
        yield
    finally:
        for (_, switch_off, switch_on), off in reversed(list(zip(switches, was_off))):
            (switch_off if off else switch_on)()


Switch = tuple[Callable[[], bool], Callable[[], None], Callable[[], None]]


def _progress_bar_switches() -> list[Switch]:
    """(is it off?, switch off, switch on) for each installed library, the hub's first."""
    switches: list[Switch] = []
    if _installed("huggingface_hub"):
        from huggingface_hub import utils as hub

        switches.append((hub.are_progress_bars_disabled, hub.disable_progress_bars, hub.enable_progress_bars))
    if _installed("transformers"):
        from transformers.utils import logging as hf_logging

        switches.append((lambda: not hf_logging.is_progress_bar_enabled(), hf_logging.disable_progress_bar, hf_logging.enable_progress_bar))
    if _installed("datasets"):
        import datasets

        switches.append((datasets.are_progress_bars_disabled, datasets.disable_progress_bars, datasets.enable_progress_bars))
    return switches


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None
