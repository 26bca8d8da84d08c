"""The errors relayrl raises to its users (kept in one light module: the CLI maps them to exit codes
without importing the trainer)."""

from __future__ import annotations


class ConfigError(ValueError):
    """An invalid configuration value or combination; the message says what to change (exit code 2)."""


class WorkerError(RuntimeError):
    """A rollout worker raised or died; the message carries its traceback or exit code (exit code 1)."""


class TrainingInfoError(RuntimeError):
    """The user's training-info function raised or returned something that is not a dict (exit code 1)."""


class CheckpointError(RuntimeError):
    """The final checkpoint could not be written (exit code 1)."""


def require(condition: bool, message: str) -> None:
    """``ConfigError(message)`` unless ``condition``: the one helper of every config check."""
    if not condition:
        raise ConfigError(message)
