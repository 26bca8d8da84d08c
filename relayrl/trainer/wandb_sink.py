"""Weights & Biases sink: the report's scalars against env steps, the resolved config, evaluation videos.

One experiment directory is one W&B run. Its id is written to the experiment's ``wandb_run_id`` file the
first time and reused with ``resume="allow"`` by every later training session of the experiment and
by ``relayrl enjoy --wandb``, so a resumed experiment continues the same run.

Every metric is plotted against ``env_steps`` (``define_metric(step_metric=...)``), which is logged
with each row, instead of passing ``step=env_steps``: a resumed session restarts from its checkpoint's
env steps, which can be below the last ones logged before the interruption, and W&B drops rows whose
explicit step goes backwards, whereas its own step keeps counting up.
"""

from __future__ import annotations

import logging
import os
import secrets
import string
from pathlib import Path
from types import ModuleType
from typing import Any

from relayrl.config import ConfigError, LoggingConfig
from relayrl.experiment import Experiment

log = logging.getLogger("relayrl.wandb")

INSTALL_HINT = "pip install 'relayrl[wandb]'"
STEP_METRIC = "env_steps"


def require_wandb() -> ModuleType:
    """The ``wandb`` module; ``ConfigError`` with the install hint when it is not installed."""
    try:
        import wandb
    except ImportError as exc:
        raise ConfigError(f"--wandb needs the wandb package: {INSTALL_HINT} (or drop --wandb).") from exc
    return wandb


def new_run_id() -> str:
    """A fresh run id: 8 random lowercase letters and digits, like W&B's own."""
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))


def experiment_run_id(experiment: Experiment, new_id: str) -> str:
    """The experiment's W&B run id from its ``wandb_run_id`` file; ``new_id`` is written there (and
    returned) when the file does not exist yet."""
    path = experiment.wandb_run_id_path
    if path.is_file():
        saved = path.read_text().strip()
        if saved:
            return saved
    experiment.root.mkdir(parents=True, exist_ok=True)
    path.write_text(new_id + "\n")
    return new_id


class WandbSink:
    """A W&B run tied to an experiment directory; takes the same scalars as TensorBoard."""

    def __init__(self, cfg: LoggingConfig, experiment: Experiment) -> None:
        wandb = require_wandb()
        self._wandb = wandb
        name = experiment.name
        run_id = experiment_run_id(experiment, new_run_id())
        # W&B's files go into the experiment directory unless WANDB_DIR says otherwise
        folder = None if os.environ.get("WANDB_DIR") else str(experiment.root)
        try:
            self.run = wandb.init(
                project=cfg.wandb_project,
                entity=cfg.wandb_entity,
                group=cfg.wandb_group,
                tags=list(cfg.wandb_tags) or None,
                name=name,
                id=run_id,
                resume="allow",
                dir=folder,
            )
        except Exception as exc:  # noqa: BLE001 - login, network and settings errors all stop here
            raise ConfigError(
                f"could not start the W&B run {run_id} ({type(exc).__name__}: {' '.join(str(exc).split())}); "
                "run `wandb login`, or set WANDB_MODE=offline to log locally and `wandb sync` later, or drop --wandb."
            ) from exc
        self.run.define_metric(STEP_METRIC)
        self.run.define_metric("*", step_metric=STEP_METRIC)
        log.info("W&B run %s (project %s, id %s)", name, cfg.wandb_project, run_id)

    def log_scalars(self, scalars: dict[str, float], step: int) -> None:
        """One report: ``{tag: value}`` at ``step`` env steps."""
        self.run.log({**scalars, STEP_METRIC: step})

    def log_config(self, config: dict[str, Any]) -> None:
        """The resolved config (a resumed session may change values such as train_for_env_steps)."""
        self.run.config.update(config, allow_val_change=True)

    def log_video(self, path: Path, key: str, step: int, scalars: dict[str, float] | None = None) -> None:
        """An mp4 or GIF file under ``key``, with optional scalars, at ``step`` env steps."""
        self.run.log({key: self._wandb.Video(str(path)), **(scalars or {}), STEP_METRIC: step})

    def close(self) -> None:
        self.run.finish()


def log_evaluation(
    cfg: LoggingConfig, experiment: Experiment, step: int, scalars: dict[str, float], video: Path | None
) -> None:
    """Add an evaluation (``relayrl enjoy --wandb``) to the experiment's run: scalars and the video."""
    sink = WandbSink(cfg, experiment)
    try:
        if video is not None:
            sink.log_video(video, "videos/enjoy", step, scalars)
        else:
            sink.log_scalars(scalars, step)
    finally:
        sink.close()
