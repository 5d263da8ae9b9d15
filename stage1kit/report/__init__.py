"""The evaluation report the evaluate stage writes: run statistics, plots, ``report.{json,md}``.

Part of the core (not of an evaluator plugin), so the core never imports a plugin package.
"""

from stage1kit.report.writer import write_report

__all__ = ["write_report"]
