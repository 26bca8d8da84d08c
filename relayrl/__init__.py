"""relayrl: fast asynchronous PPO where the trainer and the environments talk both ways.

The public names below are imported on first use, so ``import relayrl`` (and the ``relayrl`` command)
starts without importing PyTorch until something needs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from relayrl.version import __version__ as __version__

_EXPORTS: dict[str, str] = {
    "AlgorithmConfig": "relayrl.config",
    "CheckpointConfig": "relayrl.config",
    "Config": "relayrl.config",
    "EnvConfig": "relayrl.config",
    "FaultConfig": "relayrl.config",
    "LoggingConfig": "relayrl.config",
    "ModelConfig": "relayrl.config",
    "RayConfig": "relayrl.config",
    "MultiAgentConfig": "relayrl.config",
    "PBTConfig": "relayrl.config",
    "SelfPlayConfig": "relayrl.config",
    "SamplingConfig": "relayrl.config",
    "TrainingInfoConfig": "relayrl.config",
    "CheckpointError": "relayrl.errors",
    "ConfigError": "relayrl.errors",
    "TrainingInfoError": "relayrl.errors",
    "WorkerError": "relayrl.errors",
    "Curriculum": "relayrl.curriculum",
    "GlobalPerformanceCurriculum": "relayrl.curriculum",
    "PerformanceCurriculum": "relayrl.curriculum",
    "ProgressCurriculum": "relayrl.curriculum",
    "TaskSpace": "relayrl.curriculum",
    "PrioritizedLevelReplay": "relayrl.curriculum",
    "LearningProgressCurriculum": "relayrl.curriculum",
    "EnvError": "relayrl.envs.faults",
    "ObservationError": "relayrl.envs.faults",
    "TrainingInfoInterface": "relayrl.envs.info_interface",
    "find_training_info_interface": "relayrl.envs.info_interface",
    "Trainer": "relayrl.trainer.trainer",
    "TrainSummary": "relayrl.trainer.trainer",
    "train": "relayrl.trainer.launch",
    "TrainerView": "relayrl.trainer.info_publisher",
}

__all__ = [
    "AlgorithmConfig",
    "CheckpointConfig",
    "CheckpointError",
    "Config",
    "ConfigError",
    "Curriculum",
    "EnvConfig",
    "EnvError",
    "FaultConfig",
    "GlobalPerformanceCurriculum",
    "LoggingConfig",
    "ModelConfig",
    "ObservationError",
    "PerformanceCurriculum",
    "ProgressCurriculum",
    "TaskSpace",
    "PrioritizedLevelReplay",
    "LearningProgressCurriculum",
    "RayConfig",
    "MultiAgentConfig",
    "PBTConfig",
    "SelfPlayConfig",
    "SamplingConfig",
    "TrainSummary",
    "Trainer",
    "TrainerView",
    "TrainingInfoConfig",
    "TrainingInfoError",
    "TrainingInfoInterface",
    "WorkerError",
    "find_training_info_interface",
    "train",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'relayrl' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:
    from relayrl.config import (
        AlgorithmConfig,
        CheckpointConfig,
        Config,
        EnvConfig,
        FaultConfig,
        LoggingConfig,
        ModelConfig,
        MultiAgentConfig,
        PBTConfig,
        RayConfig,
        SamplingConfig,
        SelfPlayConfig,
        TrainingInfoConfig,
    )
    from relayrl.curriculum import (
        Curriculum,
        GlobalPerformanceCurriculum,
        LearningProgressCurriculum,
        PerformanceCurriculum,
        PrioritizedLevelReplay,
        ProgressCurriculum,
        TaskSpace,
    )
    from relayrl.envs.faults import EnvError, ObservationError
    from relayrl.envs.info_interface import TrainingInfoInterface, find_training_info_interface
    from relayrl.errors import CheckpointError, ConfigError, TrainingInfoError, WorkerError
    from relayrl.trainer.info_publisher import TrainerView
    from relayrl.trainer.launch import train
    from relayrl.trainer.trainer import Trainer, TrainSummary
