"""relayrl: fast asynchronous PPO where the trainer and the environments talk both ways."""

from relayrl.config import (
    AlgorithmConfig,
    CheckpointConfig,
    Config,
    ConfigError,
    EnvConfig,
    LoggingConfig,
    ModelConfig,
    SamplingConfig,
)
from relayrl.runners.runner import TrainSummary, WorkerError, train

__all__ = [
    "AlgorithmConfig",
    "CheckpointConfig",
    "Config",
    "ConfigError",
    "EnvConfig",
    "LoggingConfig",
    "ModelConfig",
    "SamplingConfig",
    "TrainSummary",
    "WorkerError",
    "train",
]
__version__ = "0.1.0"
