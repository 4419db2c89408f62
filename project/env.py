"""Typed readers of the environment for ``project/settings.py``.

Every setting the environment can change is read through one of these, so that:

* a bad value stops the process with one line naming the variable, the value given and
  the form expected (``refuse_to_start``), instead of a traceback from ``int()`` in the
  middle of the settings import;
* ``DEFAULTS`` lists every variable the settings read, with the default each was given:
  tests/project/test_settings.py checks the README's configuration table against it.

The readers only run at settings import, where stopping the process is the right answer
to a bad value; nothing else should call them.
"""

import os
from collections.abc import Iterable
from typing import NoReturn

# Variable name -> the default the settings gave it, filled as the settings are read.
DEFAULTS: dict[str, object] = {}

TRUE_WORDS = ("1", "true", "yes", "on")
# The empty string was "off" before these readers existed; it stays so.
FALSE_WORDS = ("0", "false", "no", "off", "")


def refuse_to_start(reason: str) -> NoReturn:
    # SystemExit prints one clear line instead of a settings-import traceback.
    raise SystemExit(f"Atom Tournament refuses to start: {reason}")


def _declare(name: str, default: object) -> str | None:
    DEFAULTS[name] = default
    return os.environ.get(name)


def _refuse_value(name: str, expected: str, value: str) -> NoReturn:
    refuse_to_start(f'{name} must be {expected}; got "{value}"')


def _whole_number_form(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f"a whole number from {minimum} to {maximum}"
    if minimum is not None:
        return f"a whole number of at least {minimum}"
    if maximum is not None:
        return f"a whole number of at most {maximum}"
    return "a whole number"


def env_int(
    name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    value = _declare(name, default)
    if value is None:
        return default
    try:
        # int() as before: surrounding spaces, a sign and underscores are accepted.
        number = int(value)
    except ValueError:
        number = None
    if (
        number is None
        or (minimum is not None and number < minimum)
        or (maximum is not None and number > maximum)
    ):
        _refuse_value(name, _whole_number_form(minimum, maximum), value)
    return number


def env_bool(name: str, default: bool = False) -> bool:
    value = _declare(name, default)
    if value is None:
        return default
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word not in FALSE_WORDS:
        # Before, any other word meant "off": a typo (`DEBUG=treu`) silently did the opposite.
        _refuse_value(
            name, f"on ({', '.join(TRUE_WORDS)}) or off ({', '.join(FALSE_WORDS[:-1])})", value
        )
    return False


def env_str(name: str, default: str = "") -> str:
    value = _declare(name, default)
    return default if value is None else value


def env_list(name: str) -> list[str]:
    """A comma-separated list; blanks around and between the commas are ignored."""
    value = _declare(name, [])
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def env_choice(name: str, default: str, *, choices: Iterable[str]) -> str:
    value = _declare(name, default)
    if value is None:
        return default
    choices = tuple(choices)
    if value not in choices:
        _refuse_value(name, f"one of {', '.join(choices)}", value)
    return value
