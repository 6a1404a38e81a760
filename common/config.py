"""What both services' settings are made of: one ``ConfigError``, one set of parsers, one way to
declare a setting (env name, default, doc) and to read a declared dataclass from the environment.

A setting is a dataclass field made by ``setting()``; its metadata carries the env name, the
doc, the parser (by default the one for the default's type) and, for the README, how the
default is shown. ``read_env`` fills such a dataclass from the environment (env > ``defaults``
> the field default); ``describe`` lists (env name, default, doc) for the README and its test.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, field, fields
from typing import Any

Parser = Callable[[str, Any], Any]


class ConfigError(ValueError):
    """A configuration value is malformed; the message says which setting and why.

    A ValueError, so the entry points' ``settings_or_exit`` ends the program with the message
    and exit status 2.
    """


def setting(env: str, default: Any, doc: str, *, parse: Parser | None = None, alias: str | None = None,
            shown: str | None = None, **kwargs: Any) -> Any:
    """A declared setting: a dataclass field whose metadata names its env variable and doc.

    ``parse(name, value)`` turns a raw value into the field's (default: by the default's type);
    ``alias`` is an older env name read when ``env`` is unset; ``shown`` is the default as the
    README writes it when it is not the value itself.
    """
    metadata = {"env": env, "doc": doc, "parse": parse, "alias": alias, "shown": shown}
    return field(default=default, metadata=metadata, **kwargs)


def declared(cls: type) -> list[Field[Any]]:
    """The fields of a settings dataclass that are read from the environment."""
    return [f for f in fields(cls) if "env" in f.metadata]


def parser_of(f: Field[Any]) -> Parser:
    parse: Parser | None = f.metadata.get("parse")
    if parse is not None:
        return parse
    return PARSERS[type(f.default)]


def read_env(cls: type, env: Mapping[str, str], defaults: Mapping[str, Any] | None = None,
             skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Keyword arguments for ``cls``: each declared setting set in ``env`` (or its alias, or
    ``defaults``, keyed by env name), parsed; unset ones are left to the field default."""
    defaults = defaults or {}
    values: dict[str, Any] = {}
    for f in declared(cls):
        name = f.metadata["env"]
        if f.name in skip:
            continue
        parse = parser_of(f)
        alias = f.metadata.get("alias")
        if env.get(name, "").strip():
            values[f.name] = parse(name, env[name].strip())
        elif alias and env.get(alias, "").strip():
            values[f.name] = parse(alias, env[alias].strip())
        elif name in defaults:
            values[f.name] = parse(name, defaults[name])
    return values


def describe(cls: type) -> list[tuple[str, Any, str]]:
    """(env name, default, doc) of every declared setting of ``cls``."""
    return [(f.metadata["env"], _default_of(f), f.metadata["doc"]) for f in declared(cls)]


def shown_default(cls: type, env_name: str) -> str:
    """The default of setting ``env_name`` as the README's table writes it."""
    for f in declared(cls):
        if f.metadata["env"] == env_name:
            return f.metadata.get("shown") or show(_default_of(f))
    raise KeyError(env_name)


def show(value: Any) -> str:
    """A default as the README writes it: ``–`` for none, numbers bare, strings in backticks."""
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return str(value)
    return f"`{value}`"


def _default_of(f: Field[Any]) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return None


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_range(name: str, value: float, low: float, high: float | None = None) -> None:
    """ConfigError unless ``low <= value (<= high)``."""
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise ConfigError(f"{name} must be {bound}, not {value!r}")


def parse_int(name: str, value: Any) -> int:
    if is_int(value):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ConfigError(f"{name} must be an integer, not {value!r}")


def parse_float(name: str, value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise ConfigError(f"{name} must be a number of seconds, not {value!r}") from None
    else:
        raise ConfigError(f"{name} must be a number of seconds, not {value!r}")
    if not math.isfinite(number):
        raise ConfigError(f"{name} must be a finite number, not {value!r}")
    return number


def parse_str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a string, not {value!r}")
    return value.strip()


def parse_bool(name: str, value: Any) -> bool:
    """1/0, true/false, yes/no (any case)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes"):
        return True
    if text in ("0", "false", "no"):
        return False
    raise ConfigError(f"{name} must be one of 1, 0, true, false, yes, no, not {value!r}")


def at_least(low: float, parse: Parser) -> Parser:
    """``parse``, then ConfigError when the value is below ``low``."""

    def parse_bounded(name: str, value: Any) -> Any:
        number = parse(name, value)
        check_range(name, number, low)
        return number

    return parse_bounded


def one_of(choices: tuple[str, ...]) -> Parser:
    """A word from ``choices`` (any case), or ConfigError listing them."""

    def parse_choice(name: str, value: Any) -> str:
        text = parse_str(name, value).lower()
        if text not in choices:
            raise ConfigError(f"{name} must be one of {', '.join(choices)}, not {text!r}")
        return text

    return parse_choice


PARSERS: dict[type, Parser] = {int: parse_int, float: parse_float, str: parse_str, bool: parse_bool}
