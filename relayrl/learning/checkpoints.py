"""Checkpoint files: atomic writes, keep the last K plus the best, fall back past a corrupt one.

Layout inside ``<experiment>/checkpoints/``: ``checkpoint_<version:09d>_<env_steps>.pt`` (the
latest K) and ``best.pt``. A file is written to ``<name>.tmp``, fsynced, then renamed over its
final name, so a crash mid-write never leaves a truncated checkpoint under a real name.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger("relayrl.checkpoints")

_PATTERN = re.compile(r"^checkpoint_(\d{9})_(\d+)\.pt$")
BEST_NAME = "best.pt"


def existing_experiment_dir(train_dir: str | Path, name: str) -> Path:
    """``<train_dir>/<name>``; ConfigError saying how to fix it when it does not exist."""
    from relayrl.config import ConfigError

    exp_dir = Path(train_dir) / name
    if not exp_dir.is_dir():
        raise ConfigError(
            f"experiment directory {exp_dir} does not exist; check --experiment and --train-dir "
            f"(or train it first: relayrl train --experiment {name} --train-dir {train_dir})."
        )
    return exp_dir


def checkpoint_dir(experiment_dir: str | Path) -> Path:
    return Path(experiment_dir) / "checkpoints"


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_save(state: dict[str, Any], path: Path) -> None:
    """``torch.save`` to ``path`` through a temp file, fsync and rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def list_checkpoints(experiment_dir: str | Path) -> list[Path]:
    """Periodic checkpoints, oldest first (by policy version)."""
    folder = checkpoint_dir(experiment_dir)
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if _PATTERN.match(p.name)]
    return sorted(found, key=lambda p: (int(_PATTERN.match(p.name).group(1)), p.name))  # type: ignore[union-attr]


def save_checkpoint(experiment_dir: str | Path, state: dict[str, Any], keep: int) -> Path:
    """Write a periodic checkpoint named after ``state['policy_version']`` and ``state['env_steps']``;
    delete all but the newest ``keep``."""
    name = f"checkpoint_{int(state['policy_version']):09d}_{int(state['env_steps'])}.pt"
    path = checkpoint_dir(experiment_dir) / name
    atomic_save(state, path)
    for old in list_checkpoints(experiment_dir)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def save_best(experiment_dir: str | Path, state: dict[str, Any]) -> Path:
    path = checkpoint_dir(experiment_dir) / BEST_NAME
    atomic_save(state, path)
    return path


def _load(path: Path, map_location: str | torch.device) -> dict[str, Any]:
    return torch.load(path, map_location=map_location, weights_only=False)


def load_latest(experiment_dir: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any] | None:
    """The newest readable periodic checkpoint, or None when there is none.

    A corrupt or truncated file is reported with a warning and the previous one is tried.
    """
    for path in reversed(list_checkpoints(experiment_dir)):
        try:
            state = _load(path, map_location)
        except Exception as exc:  # noqa: BLE001 - any unreadable file falls back to the previous one
            log.warning("checkpoint %s is unreadable (%s: %s); trying the previous one", path, type(exc).__name__, exc)
            continue
        state["path"] = str(path)
        return state
    return None


def load_checkpoint(
    experiment_dir: str | Path, which: str = "latest", map_location: str | torch.device = "cpu"
) -> dict[str, Any] | None:
    """``which``: ``latest``, ``best`` (falls back to latest when there is no best), or a file path."""
    if which == "latest":
        return load_latest(experiment_dir, map_location)
    if which == "best":
        best = checkpoint_dir(experiment_dir) / BEST_NAME
        if best.is_file():
            try:
                state = _load(best, map_location)
                state["path"] = str(best)
                return state
            except Exception as exc:  # noqa: BLE001
                log.warning("best checkpoint %s is unreadable (%s); using the latest", best, exc)
        return load_latest(experiment_dir, map_location)
    path = Path(which)
    state = _load(path, map_location)
    state["path"] = str(path)
    return state
