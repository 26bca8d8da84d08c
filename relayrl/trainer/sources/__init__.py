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

EARLY_START: dict[str, str] = {"local": "relayrl.worker.launcher:start_early"}
"""Backend name -> ``"module:function"`` to call as early as possible in a run (before the trainer
imports torch), for a backend whose workers can start their own imports meanwhile. It must be a light
module to import."""


def backend_name(cfg: Config) -> str:
    """The backend a config asks for (``--backend``)."""
    return cfg.sampling.backend


def start_early(backend: str) -> None:
    """Run backend ``backend``'s early start, if it registered one (``EARLY_START``)."""
    spec = EARLY_START.get(backend)
    if spec is not None:
        import_object(spec, f"--backend {backend}")()


def source_class(name: str) -> SourceFactory:
    """The source class registered under ``name``; ConfigError listing the known names."""
    if name not in SOURCES:
        raise ConfigError(f"--backend {name!r} is not one of {', '.join(sorted(SOURCES))}.")
    return import_object(SOURCES[name], f"--backend {name}")  # type: ignore[no-any-return]
