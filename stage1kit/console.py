"""Quiet runs: silence the libraries' own progress bars, logs and warnings when the user asks."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_libraries(quiet: bool) -> Iterator[None]:
    """With ``quiet``, transformers, datasets and huggingface_hub print no bars, logs or warnings."""
    if not quiet:
        yield
        return
    import transformers
    from datasets.utils import logging as datasets_logging
    from huggingface_hub.utils import disable_progress_bars

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    datasets_logging.disable_progress_bar()
    disable_progress_bars()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
