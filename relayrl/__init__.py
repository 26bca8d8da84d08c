"""relayrl: fast asynchronous PPO where the trainer and the environments talk both ways."""

from relayrl.config import (
    AlgorithmConfig,
    CheckpointConfig,
    Config,
    ConfigError,
    EnvConfig,
    FaultConfig,
    LoggingConfig,
    ModelConfig,
    SamplingConfig,
    TrainingInfoConfig,
)
from relayrl.curriculum import (
    Curriculum,
    GlobalPerformanceCurriculum,
    PerformanceCurriculum,
    ProgressCurriculum,
)
from relayrl.envs.faults import EnvError, ObservationError
from relayrl.envs.training_info import TrainingInfoInterface, find_training_info_interface
from relayrl.runners.runner import CheckpointError, Trainer, TrainSummary, train
from relayrl.runners.training_info import TrainerView, TrainingInfoError
from relayrl.runners.workers import WorkerError

__all__ = [
    "AlgorithmConfig",
    "CheckpointConfig",
    "CheckpointError",
    "EnvError",
    "FaultConfig",
    "GlobalPerformanceCurriculum",
    "ObservationError",
    "Config",
    "ConfigError",
    "Curriculum",
    "EnvConfig",
    "LoggingConfig",
    "ModelConfig",
    "PerformanceCurriculum",
    "ProgressCurriculum",
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
__version__ = "0.1.0"
