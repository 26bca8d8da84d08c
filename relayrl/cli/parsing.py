"""Flags -> frozen config dataclasses with tyro: every nested field is a flat flag whose ``--help`` is
the field's docstring."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import tyro

T = TypeVar("T")


def parse(cls: type[T], argv: Sequence[str], command: str) -> T:
    return tyro.cli(cls, args=list(argv), prog=f"relayrl {command}", config=(tyro.conf.OmitArgPrefixes,))
