"""``relayrl.train``, the Python API's entry: light to import, it starts the workers' imports first.

``import relayrl`` does not import torch, and ``relayrl.train`` is this module's ``train``, which
imports nothing heavy either. It checks the call (the worker-bootstrap guard, the config), resolves
the sampling layout (``--backend auto``) and runs the backend's early start (the forkserver of
``--backend local``, which imports torch and the worker modules) before it imports the trainer: the
trainer's ``import torch`` then runs beside the forkserver's on another core, as in ``relayrl
train`` (docs/architecture.md, "Start-up"). Imported the other way round, the workers were ready
about 1.2 s after the trainer instead of with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from relayrl.trainer import sources
from relayrl.trainer.sources import layout
from relayrl.utils.logs import setup_logging
from relayrl.worker.main_guard import refuse_in_worker_bootstrap

if TYPE_CHECKING:
    from relayrl.config import Config
    from relayrl.trainer.trainer import TrainSummary


def train(cfg: Config) -> TrainSummary:
    """Train ``cfg`` to ``train_for_env_steps`` and return a summary.

    Raises ``ConfigError`` for invalid settings (before any process starts) and ``WorkerError`` when
    a rollout worker raises or dies (after writing a checkpoint).
    """
    refuse_in_worker_bootstrap()
    cfg.validate()
    setup_logging("main")
    cfg = layout.resolve(cfg)  # --backend auto: local or serial, by the machine now (logged once)
    sources.start_early(sources.backend_name(cfg))
    from relayrl.trainer.trainer import train as run_training  # torch: beside the forkserver's import

    return run_training(cfg)
