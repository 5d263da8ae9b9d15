"""Suppressions name the rule and give a reason; bad ones are findings themselves (SK900)."""

from __future__ import annotations

from pathlib import Path

from audit_helpers import audit_source, rules_found

LOAD = "from transformers import AutoModel\n"


def test_suppression_on_the_line(tmp_path: Path) -> None:
    source = LOAD + "AutoModel.from_config(c)  # stage1kit: allow[SK100] reason: builds a random tiny model\n"
    assert rules_found(audit_source(tmp_path, source)) == []


def test_suppression_on_the_line_above(tmp_path: Path) -> None:
    source = LOAD + "# stage1kit: allow[SK100] reason: test fixture\nAutoModel.from_config(c)\n"
    assert rules_found(audit_source(tmp_path, source)) == []


def test_trailing_suppression_does_not_cover_the_next_line(tmp_path: Path) -> None:
    source = LOAD + "x = 1  # stage1kit: allow[SK100] reason: wrong line\nAutoModel.from_config(c)\n"
    assert sorted(rules_found(audit_source(tmp_path, source))) == ["SK100", "SK900"]


def test_suppression_without_reason_is_a_finding(tmp_path: Path) -> None:
    source = LOAD + "AutoModel.from_config(c)  # stage1kit: allow[SK100]\n"
    report = audit_source(tmp_path, source)
    assert sorted(rules_found(report)) == ["SK100", "SK900"]
    message = [f for f in report.findings if f.rule == "SK900"][0].message
    assert "no reason" in message and "allow[SK100] reason:" in message  # the fix names the same code


def test_suppression_of_an_unknown_code_is_a_finding(tmp_path: Path) -> None:
    source = LOAD + "AutoModel.from_config(c)  # stage1kit: allow[SK123] reason: typo\n"
    report = audit_source(tmp_path, source)
    assert sorted(rules_found(report)) == ["SK100", "SK900"]
    assert "SK123" in [f for f in report.findings if f.rule == "SK900"][0].message


def test_suppression_that_suppresses_nothing_is_a_finding(tmp_path: Path) -> None:
    source = "x = 1  # stage1kit: allow[SK200] reason: stale\n"
    report = audit_source(tmp_path, source)
    assert rules_found(report) == ["SK900"]
    assert "suppresses nothing" in report.findings[0].message


def test_suppression_of_another_rule_does_not_apply(tmp_path: Path) -> None:
    source = LOAD + "AutoModel.from_config(c)  # stage1kit: allow[SK200] reason: wrong code\n"
    assert sorted(rules_found(audit_source(tmp_path, source))) == ["SK100", "SK900"]


def test_noqa_suppresses_nothing(tmp_path: Path) -> None:
    source = LOAD + "AutoModel.from_config(c)  # noqa: SK100\n"
    assert rules_found(audit_source(tmp_path, source)) == ["SK100"]


def test_malformed_suppression_is_a_finding(tmp_path: Path) -> None:
    source = "x = 1  # stage1kit: allow SK100 because\n"
    assert rules_found(audit_source(tmp_path, source)) == ["SK900"]


def test_marker_inside_a_string_is_not_a_suppression(tmp_path: Path) -> None:
    source = "text = '# stage1kit: allow[SK100] reason: in a string'\n"
    assert rules_found(audit_source(tmp_path, source)) == []


def test_one_comment_may_name_several_codes(tmp_path: Path) -> None:
    source = LOAD + (
        "AutoModel.from_config(c, trust_remote_code=True)  # stage1kit: allow[SK100, SK400] reason: fixture\n"
    )
    assert rules_found(audit_source(tmp_path, source)) == []
