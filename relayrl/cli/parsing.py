"""Flags -> frozen config dataclasses with tyro: every nested field is a flat flag whose ``--help`` is
the field's docstring."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import tyro

T = TypeVar("T")


def parse(cls: type[T], argv: Sequence[str], command: str, default: T | None = None) -> T:
    """``argv`` -> ``cls``; fields not given take ``default``'s values (the dataclass defaults when None)."""
    parsed = tyro.cli(
        cls, args=list(argv), prog=f"relayrl {command}", default=default, config=(tyro.conf.OmitArgPrefixes,)
    )
    assert parsed is not None  # tyro returns None only for an Optional type, never for a dataclass
    return parsed
