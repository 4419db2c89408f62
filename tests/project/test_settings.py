"""Settings from the environment: the readers of project/env.py, the one-line refusal of a
bad value, and the README's configuration table against the variables the settings read."""

import re

import pytest
from django.conf import settings

from project import env
from tests.project.test_operations import PRODUCTION, ROOT, manage

NAME = "ATOM_TEST_VARIABLE"
REFUSAL = "Atom Tournament refuses to start: "

# Defaults the README describes in words because they depend on another variable (DEBUG,
# REDIS_URL) or stand for something other than their value ("" for SQLite, say).
DEFAULTS_IN_WORDS = {
    "SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "ALLOWED_HOSTS",
    "EMAIL_BACKEND",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "CELERY_TASK_ALWAYS_EAGER",
}


@pytest.fixture
def declared(monkeypatch):
    """A registry of its own, so that the readers' tests leave the settings' one alone."""
    monkeypatch.setattr(env, "DEFAULTS", {})
    monkeypatch.delenv(NAME, raising=False)
    return env.DEFAULTS


def refusal_of(reader, *args, **kwargs) -> str:
    with pytest.raises(SystemExit) as refused:
        reader(NAME, *args, **kwargs)
    return str(refused.value)


# --- The readers ---------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "number"), [("42", 42), (" 7 ", 7), ("0", 0), ("-3", -3)])
def test_env_int_reads_a_whole_number(declared, monkeypatch, value, number):
    monkeypatch.setenv(NAME, value)
    assert env.env_int(NAME, 5) == number
    assert declared == {NAME: 5}


def test_env_int_unset_is_the_default(declared):
    assert env.env_int(NAME, 5, minimum=1) == 5
    assert declared == {NAME: 5}


@pytest.mark.parametrize(
    ("value", "bounds", "expected"),
    [
        ("abc", {}, "a whole number"),
        ("", {}, "a whole number"),
        ("1.5", {"minimum": 1}, "a whole number of at least 1"),
        ("0", {"minimum": 1}, "a whole number of at least 1"),
        ("11", {"maximum": 10}, "a whole number of at most 10"),
        ("65536", {"minimum": 1, "maximum": 65535}, "a whole number from 1 to 65535"),
    ],
)
def test_env_int_refuses_a_bad_value_naming_the_variable_and_form(
    declared, monkeypatch, value, bounds, expected
):
    monkeypatch.setenv(NAME, value)
    assert (
        refusal_of(env.env_int, 5, **bounds) == f'{REFUSAL}{NAME} must be {expected}; got "{value}"'
    )


def test_env_int_accepts_its_bounds(declared, monkeypatch):
    for value in ("1", "65535"):
        monkeypatch.setenv(NAME, value)
        assert env.env_int(NAME, 25, minimum=1, maximum=65535) == int(value)


@pytest.mark.parametrize("value", ["1", "true", "Yes", " ON "])
def test_env_bool_reads_on(declared, monkeypatch, value):
    monkeypatch.setenv(NAME, value)
    assert env.env_bool(NAME) is True


@pytest.mark.parametrize("value", ["0", "false", "No", " off ", ""])
def test_env_bool_reads_off(declared, monkeypatch, value):
    monkeypatch.setenv(NAME, value)
    assert env.env_bool(NAME, default=True) is False


@pytest.mark.parametrize("default", [True, False])
def test_env_bool_unset_is_the_default(declared, default):
    assert env.env_bool(NAME, default=default) is default
    assert declared == {NAME: default}


def test_env_bool_refuses_any_other_word(declared, monkeypatch):
    monkeypatch.setenv(NAME, "treu")
    assert refusal_of(env.env_bool) == (
        f'{REFUSAL}{NAME} must be on (1, true, yes, on) or off (0, false, no, off); got "treu"'
    )


def test_env_str_reads_the_value_as_given(declared, monkeypatch):
    assert env.env_str(NAME, "fallback") == "fallback"
    monkeypatch.setenv(NAME, " as given ")
    assert env.env_str(NAME, "fallback") == " as given "
    assert declared == {NAME: "fallback"}


def test_env_list_reads_comma_separated_items(declared, monkeypatch):
    assert env.env_list(NAME) == []
    monkeypatch.setenv(NAME, " a.example.com, ,b.example.com ,")
    assert env.env_list(NAME) == ["a.example.com", "b.example.com"]
    assert declared == {NAME: []}


def test_env_choice_reads_one_of_the_choices(declared, monkeypatch):
    assert env.env_choice(NAME, "INFO", choices=["INFO", "DEBUG"]) == "INFO"
    monkeypatch.setenv(NAME, "DEBUG")
    assert env.env_choice(NAME, "INFO", choices=["INFO", "DEBUG"]) == "DEBUG"


def test_env_choice_refuses_another_value(declared, monkeypatch):
    monkeypatch.setenv(NAME, "debug")
    assert refusal_of(env.env_choice, "INFO", choices=["INFO", "DEBUG"]) == (
        f'{REFUSAL}{NAME} must be one of INFO, DEBUG; got "debug"'
    )


# --- The settings refuse a bad value in one line ------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("LIVE_EVENT_RETENTION_DAYS", "abc", "a whole number of at least 1"),
        ("EMAIL_PORT", "99999", "a whole number from 1 to 65535"),
        ("DEBUG", "maybe", "on (1, true, yes, on) or off (0, false, no, off)"),
        ("LOG_LEVEL", "info", "one of CRITICAL, FATAL, ERROR, WARN, WARNING, INFO, DEBUG, NOTSET"),
    ],
)
def test_settings_refuse_a_bad_value_in_one_line(variable, value, expected):
    result = manage("check", **{**PRODUCTION, variable: value})
    assert result.returncode != 0
    assert result.stderr.strip() == f'{REFUSAL}{variable} must be {expected}; got "{value}"'


# --- The README's configuration table -----------------------------------------------------


def readme_configuration_table() -> dict[str, str]:
    """Variable -> the README's default for it; a row naming several variables states their
    defaults in the same order, separated by commas."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    table: dict[str, str] = {}
    for row in section.splitlines():
        if not row.startswith("| `"):
            continue
        names_cell, _meaning, default_cell = (cell.strip() for cell in row.strip("|").split("|"))
        names = re.findall(r"`([A-Z][A-Z0-9_]*)`", names_cell)
        defaults = default_cell.split(", ") if len(names) > 1 else [default_cell]
        assert len(defaults) == len(names), row
        for name, default in zip(names, defaults, strict=True):
            assert name not in table, f"{name} has two rows"
            table[name] = default
    return table


def readme_form(default: object) -> str:
    """A settings default written the way the README's table writes a literal default."""
    if isinstance(default, bool):
        return "on" if default else "off"
    if isinstance(default, int):
        return str(default)
    if not default:
        return "none"
    return f"`{default}`"


def is_literal(readme_default: str) -> bool:
    return re.fullmatch(r"-?\d+|on|off|none|`[^`]*`", readme_default) is not None


def settings_defaults() -> dict[str, object]:
    assert settings.configured and settings.DEBUG is False  # the settings have been read
    return env.DEFAULTS


def test_readme_table_names_exactly_the_variables_the_settings_read():
    assert set(readme_configuration_table()) == set(settings_defaults())


def test_readme_table_states_the_settings_defaults():
    table = readme_configuration_table()
    defaults = settings_defaults()
    literal = {name: default for name, default in table.items() if is_literal(default)}
    assert {name: readme_form(defaults[name]) for name in literal} == literal
    # Every other default is described in words, on purpose: a new one must be added here.
    assert set(table) - set(literal) == DEFAULTS_IN_WORDS
