"""Named sets of defaults for a family of tasks (``--preset NAME``): building a ``Config`` from one.

The values live in relayrl/config/presets.py; ``relayrl train --preset mujoco --lr 1e-4`` trains with the
preset's values except the learning rate (the flags are parsed over ``preset_defaults``), and in Python
``preset_config("mujoco", env=..., algorithm__lr=...)`` starts from the preset and applies the changes.
"""

from __future__ import annotations

from typing import Any

from relayrl.config import Config, replace
from relayrl.config.presets import MUJOCO, PRESETS, changes, known, preset_name_in

__all__ = ["MUJOCO", "PRESETS", "changes", "known", "preset_config", "preset_defaults", "preset_name_in"]


def preset_defaults(name: str | None) -> Config:
    """The default Config of preset ``name`` (the plain defaults for None), with ``preset`` set."""
    if name is None:
        return Config()
    return replace(Config(), preset=name, **changes(name))


def preset_config(name: str, **changes_: Any) -> Config:
    """Config from preset ``name``'s defaults, then ``changes_`` (``replace`` syntax: ``env=...``,
    ``algorithm__lr=...``), which win over the preset."""
    return replace(preset_defaults(name), **changes_)
