"""Every rule's VALID and INVALID examples, run as tests (the Fixit habit): the docs are the tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from stage1kit_audit.check import check_source
from stage1kit_audit.config import AuditConfig
from stage1kit_audit.rules import RULES
from stage1kit_audit.rules.retired import RetiredComponent

CONFIG = AuditConfig(root=Path("."), retired=RetiredComponent.EXAMPLE_RETIRED)


def _cases(kind: str) -> list:
    return [
        pytest.param(rule, source, id=f"{rule.code}-{kind}-{index}")
        for rule in RULES
        for index, source in enumerate(getattr(rule, kind))
    ]


@pytest.mark.parametrize(("rule", "source"), _cases("VALID"))
def test_valid_example_has_no_finding_of_its_rule(rule: type, source: str) -> None:
    findings, _ = check_source(source, CONFIG, loader=False)
    assert [f for f in findings if f[2] == rule.code] == []


@pytest.mark.parametrize(("rule", "source"), _cases("INVALID"))
def test_invalid_example_is_found(rule: type, source: str) -> None:
    findings, parsed = check_source(source, CONFIG, loader=False)
    assert parsed, "the prefilter skipped a file with a finding"
    assert rule.code in [f[2] for f in findings], findings


@pytest.mark.parametrize(("rule", "source"), _cases("INVALID"))
def test_invalid_example_is_found_without_prefilter_too(rule: type, source: str) -> None:
    findings, _ = check_source(source, CONFIG, loader=False, prefilter=False)
    assert rule.code in [f[2] for f in findings]


@pytest.mark.parametrize("rule", [r for r in RULES if r.loader_exempt], ids=lambda r: r.code)
def test_loader_modules_are_exempt(rule: type) -> None:
    for source in rule.INVALID:
        findings, _ = check_source(source, CONFIG, loader=True)
        assert rule.code not in [f[2] for f in findings]


def test_every_rule_is_documented_with_examples() -> None:
    for rule in RULES:
        assert rule.__doc__ and rule.VALID and rule.INVALID, rule.code
        assert rule.code.startswith("SK") and rule.summary
