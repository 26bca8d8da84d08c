"""Flags -> frozen config dataclasses with tyro: every nested field is a flat flag whose ``--help`` is
the field's docstring.

JSON flags (``JsonDict`` fields such as ``--env-kwargs``) are checked before tyro parses: malformed
JSON, or JSON that is not an object, is a one-line ``ConfigError`` naming the flag, not tyro's box.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

import tyro

from relayrl.config import ConfigError, JsonDict, flag_of

T = TypeVar("T")


def _is_json(hint: Any) -> bool:
    """``JsonDict``, ``JsonDict | None``, or either with a ``flag(...)`` name (nested ``Annotated`` merges
    their metadata, so ``JsonDict`` is recognized by its metavar)."""

    def marked(h: Any) -> bool:
        return h == JsonDict or any(getattr(m, "metavar", None) == "JSON" for m in getattr(h, "__metadata__", ()))

    return marked(hint) or any(marked(arg) for arg in typing.get_args(hint))


def json_flags(cls: type) -> Iterator[str]:
    """The ``--flag`` names of every ``JsonDict`` field of ``cls`` and its nested dataclass groups
    (flags are flat: ``flag_of``)."""
    hints = typing.get_type_hints(cls, include_extras=True)
    for field in dataclasses.fields(cls):
        hint = hints[field.name]
        if _is_json(hint):
            yield flag_of(cls, field.name)
        elif isinstance(hint, type) and dataclasses.is_dataclass(hint):
            yield from json_flags(hint)


REMOVED_FLAGS = {"--serial": "--backend serial", "--no-serial": "--backend local"}
"""Flags of earlier versions -> what replaced them (a one-line hint instead of tyro's box)."""


def check_removed_flags(argv: Sequence[str]) -> None:
    for arg in argv:
        if arg.partition("=")[0] in REMOVED_FLAGS:
            raise ConfigError(f"{arg} was replaced by {REMOVED_FLAGS[arg.partition('=')[0]]}; use that instead.")


def check_json_flags(cls: type, argv: Sequence[str]) -> None:
    """ConfigError naming the flag when a JSON flag's value is not a JSON object."""
    flags = set(json_flags(cls))
    args = list(argv)
    for i, arg in enumerate(args):
        flag, eq, value = arg.partition("=")
        if flag not in flags:
            continue
        if not eq:
            if i + 1 >= len(args):
                continue  # tyro says the value is missing
            value = args[i + 1]
        try:
            parsed = json.loads(value)
        except ValueError as exc:
            raise ConfigError(
                f"{flag} {value!r} is not valid JSON ({exc}); give a JSON object in single quotes, e.g. "
                f"""{flag} '{{"key": 1}}'."""
            ) from None
        if not isinstance(parsed, dict):
            raise ConfigError(f"{flag} {value!r} must be a JSON object ({{...}}), not {type(parsed).__name__}.")


def parse(cls: type[T], argv: Sequence[str], command: str, default: T | None = None) -> T:
    """``argv`` -> ``cls``; fields not given take ``default``'s values (the dataclass defaults when None)."""
    check_removed_flags(argv)
    check_json_flags(cls, argv)
    parsed = tyro.cli(
        cls, args=list(argv), prog=f"relayrl {command}", default=default, config=(tyro.conf.OmitArgPrefixes,)
    )
    assert parsed is not None  # tyro returns None only for an Optional type, never for a dataclass
    return parsed
