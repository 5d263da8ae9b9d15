"""``quiet_libraries(True)`` switches the libraries' own bars, logs and warnings off, and back on after."""

import json
import subprocess
import sys
import textwrap

PROBE = textwrap.dedent(
    """
    import json, sys
    from stage1kit.console import quiet_libraries

    def state():
        import datasets
        import huggingface_hub.utils as hub
        from transformers.utils import logging as hf_logging
        return {
            "transformers bars": hf_logging.is_progress_bar_enabled(),
            "transformers level": hf_logging.get_verbosity(),
            "datasets bars": not datasets.are_progress_bars_disabled(),
            "datasets level": datasets.logging.get_verbosity(),
            "hub bars": not hub.are_progress_bars_disabled(),
        }

    with quiet_libraries(True):
        imported_on_entry = "transformers" in sys.modules or "datasets" in sys.modules
        inside = state()  # imported only now, inside the block
    after = state()
    with quiet_libraries(True):
        inside_again = state()  # already imported this time
    print(json.dumps([imported_on_entry, inside, after, inside_again, state()]))
    """
)


def test_quiet_switches_libraries_imported_later_and_sets_them_back():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout
    imported_on_entry, inside, after, inside_again, final = json.loads(out)
    assert imported_on_entry is False  # a run with nothing to do never pays for importing them
    quiet = {"transformers bars": False, "transformers level": 40, "datasets bars": False, "datasets level": 40, "hub bars": False}
    normal = {"transformers bars": True, "transformers level": 30, "datasets bars": True, "datasets level": 30, "hub bars": True}
    assert inside == quiet and inside_again == quiet
    assert after == normal and final == normal


def test_quiet_hides_library_warnings_but_not_stage1kits_own():
    code = textwrap.dedent(
        """
        import warnings
        from stage1kit.console import quiet_libraries
        with quiet_libraries(True):
            warnings.warn_explicit("library internals", FutureWarning, "x.py", 1, module="transformers.modeling_utils")
            warnings.warn_explicit("about your data", UserWarning, "y.py", 1, module="stage1kit.stages")
        """
    )
    err = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stderr
    assert "library internals" not in err and "about your data" in err
