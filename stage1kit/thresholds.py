"""QC thresholds, ``{"min_<metric>": x, "max_<metric>": x}``: the one parser of their keys.

Stage thresholds, the trainers' gate requirements and ``--require KEY=VALUE`` all use it.
"""

from __future__ import annotations

EXAMPLE = "--require min_order_agreement_rate=0.6 (or min_margin.mean=0.2, max_<metric>=...)"


def parse_threshold_key(key: str) -> tuple[str, str]:
    """``"min_records"`` -> ``("min", "records")``; ValueError for anything else."""
    kind, _, metric = key.partition("_")
    if kind not in ("min", "max") or not metric:
        raise ValueError(f"'{key}' is not min_<metric> or max_<metric>")
    return kind, metric


def parse_threshold(text: str) -> tuple[str, float]:
    """``"min_records=5"`` -> ``("min_records", 5.0)``; ValueError saying what to write."""
    key, sep, number = (part.strip() for part in text.partition("="))
    if not sep:
        raise ValueError(f"'{text}' is not KEY=VALUE with KEY min_<metric> or max_<metric>; write e.g. {EXAMPLE}")
    try:
        parse_threshold_key(key)
    except ValueError as exc:
        raise ValueError(f"{exc}; write e.g. {EXAMPLE}") from None
    try:
        return key, float(number)
    except ValueError:
        raise ValueError(f"'{text}': the value '{number}' is not a number; write e.g. {EXAMPLE}") from None


def click_thresholds(ctx: object, param: object, values: tuple[str, ...]) -> dict[str, float] | None:
    """click callback for repeatable ``--require KEY=VALUE``."""
    import click

    if not values:
        return None
    parsed = {}
    for text in values:
        try:
            key, value = parse_threshold(text)
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx, param) from None  # type: ignore[arg-type]
        parsed[key] = value
    return parsed
