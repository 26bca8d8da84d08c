"""Rollout sources: the backends the training loop collects from (see ``base.py`` for the protocol).

``SOURCES`` maps a backend name to ``"module:Class"``; the module is imported only when chosen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from relayrl.errors import ConfigError
from relayrl.hooks import import_object

if TYPE_CHECKING:
    from relayrl.config import Config
    from relayrl.trainer.sources.base import SourceFactory

SOURCES: dict[str, str] = {
    "serial": "relayrl.trainer.sources.in_process:InProcessSource",
    "local": "relayrl.trainer.sources.processes:ProcessSource",
    "ray": "relayrl.trainer.sources.ray_cluster:RaySource",
}
"""Backend name -> ``"module:Class"`` (one registration line per backend)."""


def backend_name(cfg: Config) -> str:
    """The backend a config asks for (``--serial`` is the in-process backend)."""
    return "serial" if cfg.serial else cfg.sampling.backend


def source_class(name: str) -> SourceFactory:
    """The source class registered under ``name``; ConfigError listing the known names."""
    if name not in SOURCES:
        raise ConfigError(f"--backend {name!r} is not one of {', '.join(sorted(set(SOURCES) - {'serial'}))}.")
    return import_object(SOURCES[name], f"--backend {name}")  # type: ignore[no-any-return]
