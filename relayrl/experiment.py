"""The experiment folder: the one owner of its layout.

``<train_dir>/<experiment>/`` holds::

    config.json            the resolved Config of the run (written once a resume is known to be accepted)
    progress.jsonl         one JSON row per report
    pbt_lineage.jsonl      with --pbt: one JSON line per copy or mutation, appended when it happens
    task_distribution.jsonl  with --task-curriculum: the sampling distribution over tasks, one JSON line
                           per report at which it changed
    tensorboard/           TensorBoard event files
    checkpoints/           checkpoint_<policy version:09d>_<env steps>.pt (the latest K), best.pt and
                           best_policy_<k>.pt (policy k's best, runs with several policies)
    videos/                what ``relayrl enjoy --video`` records
    policy.onnx            what ``relayrl export`` writes by default (policy_<k>.onnx for --policy k > 0)
    wandb_run_id, wandb/   the experiment's Weights & Biases run id and files (with ``--wandb``)

and ``<train_dir>/plots/`` holds what ``relayrl plot`` draws. Train, enjoy, plot and the checkpointer
ask an ``Experiment`` for these paths; nothing else spells them out.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from relayrl.errors import ConfigError

if TYPE_CHECKING:
    from relayrl.config import Config

CONFIG_NAME = "config.json"
PROGRESS_NAME = "progress.jsonl"
PBT_LINEAGE_NAME = "pbt_lineage.jsonl"
TASK_DISTRIBUTION_NAME = "task_distribution.jsonl"
BEST_NAME = "best.pt"
_CHECKPOINT = re.compile(r"^checkpoint_(\d{9})_(\d+)\.pt$")


class Experiment:
    """Paths inside one experiment folder, and reading / writing its ``config.json``."""

    def __init__(self, train_dir: str | Path, name: str) -> None:
        self.train_dir = Path(train_dir)
        self.name = name
        self.root = self.train_dir / name

    @staticmethod
    def of(cfg: Config) -> Experiment:
        """The experiment a training config writes into."""
        return Experiment(cfg.train_dir, cfg.experiment_name)

    @staticmethod
    def existing(train_dir: str | Path, name: str) -> Experiment:
        """An experiment that must exist already (enjoy, plot, export); ConfigError naming the fix."""
        experiment = Experiment(train_dir, name)
        if not experiment.root.is_dir():
            raise ConfigError(
                f"experiment directory {experiment.root} does not exist; check --experiment and --train-dir "
                f"(or train it first: relayrl train --experiment {name} --train-dir {train_dir})."
            )
        return experiment

    # ----- paths -----

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def progress_path(self) -> Path:
        return self.root / PROGRESS_NAME

    @property
    def pbt_lineage_path(self) -> Path:
        """The population's lineage file (``relayrl/pbt/lineage_log.py``)."""
        return self.root / PBT_LINEAGE_NAME

    @property
    def task_distribution_path(self) -> Path:
        """The task curriculum's distribution over time (``relayrl/level_replay/distribution_log.py``)."""
        return self.root / TASK_DISTRIBUTION_NAME

    @property
    def tensorboard_dir(self) -> Path:
        return self.root / "tensorboard"

    @property
    def checkpoint_dir(self) -> Path:
        return self.root / "checkpoints"

    @property
    def best_checkpoint(self) -> Path:
        return self.checkpoint_dir / BEST_NAME

    def best_checkpoint_of(self, policy_id: int) -> Path:
        """Policy ``policy_id``'s best checkpoint: ``best.pt`` for policy 0, ``best_policy_<k>.pt`` else
        (each holds the whole run; ``relayrl enjoy --policy k`` plays policy k from it)."""
        if policy_id == 0:
            return self.best_checkpoint
        return self.checkpoint_dir / f"best_policy_{policy_id}.pt"

    @property
    def videos_dir(self) -> Path:
        return self.root / "videos"

    @property
    def onnx_path(self) -> Path:
        return self.root / "policy.onnx"

    def onnx_path_of(self, policy_id: int) -> Path:
        """Where ``relayrl export --policy k`` writes by default: ``policy.onnx`` for policy 0,
        ``policy_<k>.onnx`` else."""
        return self.onnx_path if policy_id == 0 else self.root / f"policy_{policy_id}.onnx"

    @property
    def wandb_run_id_path(self) -> Path:
        return self.root / "wandb_run_id"

    @property
    def plots_dir(self) -> Path:
        return self.train_dir / "plots"

    def checkpoint_path(self, policy_version: int, env_steps: int) -> Path:
        """Where the periodic checkpoint of this policy version and env-step count goes."""
        return self.checkpoint_dir / f"checkpoint_{policy_version:09d}_{env_steps}.pt"

    def checkpoints(self) -> list[Path]:
        """Periodic checkpoints, oldest first (by policy version)."""
        if not self.checkpoint_dir.is_dir():
            return []
        found = [(m, p) for p in self.checkpoint_dir.iterdir() if (m := _CHECKPOINT.match(p.name))]
        return [p for _, p in sorted(found, key=lambda mp: (int(mp[0].group(1)), mp[1].name))]

    # ----- config.json -----

    def write_config(self, cfg: Config) -> None:
        """Write ``config.json`` atomically; ConfigError when the folder cannot be written."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = self.config_path.with_name(CONFIG_NAME + ".tmp")
            with open(tmp, "w") as f:
                json.dump(cfg.to_dict(), f, indent=2)
            os.replace(tmp, self.config_path)
        except OSError as exc:
            raise ConfigError(
                f"cannot write to the experiment directory {self.root} ({exc.strerror or exc}); "
                "choose a writable --train-dir or free some disk space."
            ) from exc

    def read_config(self) -> Config:
        """The training Config saved in ``config.json``; ConfigError naming the file when it is missing
        or unreadable."""
        from relayrl.config import Config

        if not self.config_path.is_file():
            raise ConfigError(
                f"{self.config_path} is missing; {self.root} is not a relayrl experiment (train into it first)."
            )
        try:
            with open(self.config_path) as f:
                return Config.from_dict(json.load(f))
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                f"{self.config_path} is not a readable relayrl config ({exc}); retrain or fix the file."
            ) from exc
