"""The verifier plugin kind: the built-ins as a user configures them, and a third-party verifier
found through a real temporary distribution."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from stage1kit.errors import Stage1kitError
from stage1kit.plugins import KIND_HOOKS, load_registry, reset_registry
from stage1kit.protocols import ReferenceSet, Verification, Verifier
from stage1kit.testing import make_plugin_distribution
from stage1kit_verifiers.callable import CallableVerifier
from stage1kit_verifiers.exact import ExactMatchVerifier, ReferenceFileError
from stage1kit_verifiers.normalise import normalise
from stage1kit_verifiers.regex import RegexVerifier

ROOT = Path(__file__).resolve().parents[2]


def _reference(tmp_path: Path, rows: list[dict], name: str = "answers.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_normalisation_is_the_documented_one():
    assert normalise('  "Twelve."  \nQuery: more') == "twelve"
    assert normalise("A   big\tdog!") == "a big dog"
    assert normalise("Paris", case_sensitive=True) == "Paris"
    assert normalise("one\ntwo", first_line=False) == "one two"


def test_exact_match_checks_answers_against_the_reference(tmp_path):
    path = _reference(tmp_path, [
        {"instruction": "What is 2 plus 3?", "answer": "5"},
        {"instruction": "Name the capital of Mars.", "answer": ["Ares City", "Olympus"]},
    ])
    verifier = ExactMatchVerifier(reference=str(path))
    assert isinstance(verifier, Verifier) and isinstance(verifier, ReferenceSet)
    assert verifier.verify("what is  2 plus 3?", " 5.\nQuery: next") == Verification(True, 1.0, "5")
    assert verifier.verify("What is 2 plus 3?", "6").correct is False
    assert verifier.verify("Name the capital of Mars.", "olympus").correct is True
    unknown = verifier.verify("What is 9 plus 9?", "18")
    assert unknown.known is False and unknown.correct is False
    assert verifier.questions() == ["What is 2 plus 3?", "Name the capital of Mars."]
    assert verifier.describe()["questions"] == 2 and len(verifier.describe()["reference_sha256"]) == 64


def test_a_relative_reference_is_read_from_the_config_folder(tmp_path):
    _reference(tmp_path, [{"instruction": "q", "answer": "a"}])
    assert ExactMatchVerifier(reference="answers.jsonl", config_dir=str(tmp_path)).verify("q", "a").correct


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "no file at"),
        ('{"instruction": "q", "answer": "a"}\nnot json\n', "answers.jsonl:2: not JSON"),
        ('{"instruction": "q"}\n', "answers.jsonl:1: field 'answer'"),
        ('{"instruction": "q", "answer": "a"}\n{"instruction": "Q", "answer": "b"}\n', "appears twice"),
        ("\n", "holds no rows"),
    ],
)
def test_a_bad_reference_file_is_an_error_naming_file_and_line(tmp_path, content, message):
    path = tmp_path / "answers.jsonl"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ReferenceFileError, match=message):
        ExactMatchVerifier(reference=str(path))


def test_exact_match_without_a_reference_says_which_setting_to_give():
    with pytest.raises(Stage1kitError, match=r"verifier_settings = \{ reference"):
        ExactMatchVerifier()


def test_regex_verifier_fullmatch_search_and_instruction_placeholder():
    number = RegexVerifier(pattern=r"-?\d+")
    assert number.verify("How many?", " 42.").correct and not number.verify("How many?", "42 apples").correct
    assert RegexVerifier(pattern=r"\d+", match="search").verify("How many?", "42 apples").correct
    echo = RegexVerifier(pattern=r"you asked: {instruction}")
    assert echo.verify("a+b", "You asked: a+b.").correct and not echo.verify("a+b", "You asked: aab").correct


@pytest.mark.parametrize("settings, message", [
    ({"pattern": "("}, "not a valid regular expression"),
    ({"pattern": "x", "match": "prefix"}, "use one of fullmatch, search"),
    ({}, "needs a pattern"),
])
def test_regex_verifier_rejects_bad_settings(settings, message):
    with pytest.raises(Stage1kitError, match=message):
        RegexVerifier(**settings)


def test_callable_verifier_calls_the_named_function(tmp_path, monkeypatch):
    (tmp_path / "my_checks.py").write_text(
        "def is_even(instruction, answer):\n"
        "    return None if 'skip' in instruction else answer.strip().isdigit() and int(answer) % 2 == 0\n"
        "def closeness(instruction, answer):\n"
        "    return 1.0 / (1 + abs(float(answer) - 10))\n"
        "def broken(instruction, answer):\n"
        "    return 'yes'\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    even = CallableVerifier(function="my_checks:is_even")
    assert even.verify("q", "4").correct and not even.verify("q", "3").correct
    assert even.verify("skip this", "4").known is False
    close = CallableVerifier(function="my_checks:closeness", threshold=0.5)
    assert close.verify("q", "10").score == 1.0 and not close.verify("q", "13").correct
    with pytest.raises(Stage1kitError, match="returned 'yes'"):
        CallableVerifier(function="my_checks:broken").verify("q", "a")


@pytest.mark.parametrize("spec, message", [
    ("my_checks", 'give "module:function"'),
    ("no_such_module_xyz:f", "cannot import no_such_module_xyz"),
    ("json:no_such_function", "json has no function no_such_function"),
])
def test_callable_verifier_names_what_is_wrong_with_the_function(spec, message):
    with pytest.raises(Stage1kitError, match=message):
        CallableVerifier(function=spec)


def test_builtins_register_through_the_stage1kit_entry_point_group():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["entry-points"]["stage1kit"]["verifiers"] == "stage1kit_verifiers.plugin"
    assert "verifiers" in KIND_HOOKS
    from stage1kit_verifiers import plugin

    registered = {}
    plugin.register_verifiers(register=lambda name, factory, settings=None: registered.setdefault(name, settings))
    assert sorted(registered) == ["callable", "exact-match", "regex"]
    assert all(settings is not None for settings in registered.values())  # listed by `plugins --settings`


THIRD_PARTY = '''
from stage1kit.hookspecs import hookimpl
from stage1kit.protocols import Verification


class Palindrome:
    def __init__(self, min_length=1):
        self.min_length = min_length

    def verify(self, instruction, answer):
        text = answer.strip().lower()
        ok = len(text) >= self.min_length and text == text[::-1]
        return Verification(ok, 1.0 if ok else 0.0)

    def describe(self):
        return {"name": "palindrome"}


@hookimpl
def register_verifiers(register):
    register("palindrome", Palindrome)
'''


def test_a_third_party_verifier_is_discovered_and_built_with_its_settings(tmp_path, monkeypatch):
    make_plugin_distribution(tmp_path, "palindrome-check", {"palindrome_check.py": THIRD_PARTY}, {"palindrome": "palindrome_check"})
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("STAGE1KIT_LOAD_PLUGINS", "palindrome-check")
    reset_registry()
    try:
        registry = load_registry()
        assert registry.names("verifiers") == ["palindrome"]
        verifier = registry.create("verifiers", "palindrome", min_length=3)
        assert verifier.verify("say one", "Level").correct and not verifier.verify("say one", "aa").correct
    finally:
        reset_registry()


def test_a_kind_nobody_registers_says_to_reinstall():
    """After an update adds a kind, an old install's metadata lacks its entry point: say so."""
    from stage1kit.plugins import PluginInfo, Registry, UnknownPluginError, new_plugin_manager

    registry = Registry([PluginInfo("x", "x", "x", "0")], {"verifiers": {}}, new_plugin_manager())
    with pytest.raises(UnknownPluginError, match=r"no verifier named 'exact-match'; available: none\. .*reinstall it \(pip install -e \.\)"):
        registry.get("verifiers", "exact-match")
