"""Checkpoints: their content, when they are written, which are kept, and how they are read back.

Content (``FORMAT_VERSION`` 2), tensors and plain Python types only, so files load with
``torch.load(weights_only=True)`` and a checkpoint can never run code when it is opened::

    format_version, relayrl_version, config (the resolved Config as a dict), episode_stats,
    env_steps, train_seconds, curriculum_states {env index: state}, rng {torch, numpy},
    policies {policy id: {learner (model, optimizer, normalizers, policy_version), policy_version,
                          best_reward, best_source, reward_shaping, env_steps, env_params}},
    <extension name>: each enabled training extension's ``state_dict()`` (relayrl/trainer/extensions.py):
        self_play (--self-play) {slots {slot: {version, policy, weights}}, results {"k:controller": [..]},
                                 last_versions {k: version}, num_policies,
                                 league {model, players {id: {mu, sigma, games, changing}}, active}}
        pbt (--pbt) {last_ranked, lineage, hyperparameters, warned_objective}
        evaluation (--eval-every-env-steps) {next_env_steps, warned_metric, last_evaluated}

Keys added within format 2 (a policy's ``env_steps``, ``env_params`` and ``best_source``, the
extensions' entries) are optional when read.

Format-1 files (written before policies were keyed by id) are converted on load. A file whose pickle
names anything but tensors and plain types is refused (``UnsafeCheckpointError``) without running it.

Writing: ``<name>.tmp``, fsync, rename; the latest ``keep_checkpoints`` periodic files are kept, plus
each policy's best file (``best.pt`` for policy 0, ``best_policy_<k>.pt`` for policy k > 0). File names
come from ``Experiment``.

The best files follow one *source* of scores: by default the windowed mean training return
(``maybe_save_best``, ``TRAINING_RETURN``); a training extension that scores policies itself (evaluation
during training) takes the choice over with ``choose_best_by(source)`` and reports each score with
``save_best_if``. A policy's best score and its source are its ``PolicyState`` (``best_reward``,
``best_source``), saved in checkpoints, so a resume keeps them; a best of another source (saved before
the rule changed) is replaced by the first score of the new one.
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from relayrl.config import CheckpointConfig
from relayrl.errors import CheckpointError, ConfigError
from relayrl.experiment import Experiment
from relayrl.trainer.state import TRAINING_RETURN, plain_numpy_rng

if TYPE_CHECKING:
    from relayrl.trainer.policy_set import Policy, PolicySet
    from relayrl.trainer.state import TrainState

log = logging.getLogger("relayrl.checkpoints")

FORMAT_VERSION = 2
MIN_EPISODES_FOR_BEST = 10
"""``best.pt`` is written only once the stats window holds this many episodes (or is full)."""


class UnsafeCheckpointError(ConfigError):
    """A checkpoint file that would import code when unpickled; it was not loaded."""


# ----- reading -----


def _numpy_globals() -> list[Any]:
    """Numpy arrays and scalars are data: format-1 files hold the RNG state as one, and curricula may
    keep them in their state. Their reconstructors build arrays, never call code (an object array's
    elements would still need globals of their own, which stay refused)."""
    core = getattr(np, "_core", None) or np.core
    numeric: list[Any] = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32]
    numeric += [np.uint64, np.float16, np.float32, np.float64]
    return [core.multiarray._reconstruct, core.multiarray.scalar, np.ndarray, np.dtype] + [
        type(np.dtype(t)) for t in numeric
    ]


def read_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """One checkpoint file in the current format (older formats converted), with ``path`` added.

    Raises ``UnsafeCheckpointError`` for a file that names code, a ``ConfigError`` for a format newer
    than this relayrl, and whatever torch raises for a truncated or corrupt file.
    """
    try:
        with torch.serialization.safe_globals(_numpy_globals()):
            data = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        try:
            names = sorted(set(torch.serialization.get_unsafe_globals_in_checkpoint(str(path))))
        except Exception:  # noqa: BLE001 - naming them is best effort; refusing is what matters
            names = []
        what = ", ".join(names) if names else "objects other than tensors and plain data"
        raise UnsafeCheckpointError(
            f"refusing to load checkpoint {path}: it would import {what} when unpickled (a relayrl checkpoint "
            "holds only tensors and plain data); only load checkpoints you trust, or retrain."
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not a relayrl checkpoint (it holds a {type(data).__name__}).")
    data = _upgrade(data, path)
    data["path"] = str(path)
    return data


def _upgrade(data: dict[str, Any], path: Path) -> dict[str, Any]:
    version = int(data.get("format_version", 1))
    if version > FORMAT_VERSION:
        raise ConfigError(
            f"checkpoint {path} has format {version}, newer than this relayrl reads ({FORMAT_VERSION}); "
            "upgrade relayrl to load it."
        )
    if version == 1:
        if "learner" not in data:
            raise ConfigError(f"{path} is not a relayrl checkpoint (no 'learner' or 'policies' entry).")
        data = {
            "format_version": FORMAT_VERSION,
            "relayrl_version": None,
            "config": data.get("config"),
            "episode_stats": data.get("episode_stats", {}),
            "env_steps": data["env_steps"],
            "train_seconds": data["train_seconds"],
            "curriculum_states": data.get("curriculum_states") or {},
            "rng": {"torch": data["rng"]["torch"], "numpy": plain_numpy_rng(data["rng"]["numpy"])},
            "policies": {
                0: {
                    "learner": data["learner"],
                    "policy_version": data["policy_version"],
                    "best_reward": data.get("best_reward"),
                    "reward_shaping": data.get("reward_shaping"),
                }
            },
        }
    return data


def load_latest(experiment: Experiment, map_location: str | torch.device = "cpu") -> dict[str, Any] | None:
    """The newest readable periodic checkpoint, or None when there is none. A truncated or corrupt
    file is skipped with a warning; an unsafe one stops everything (``UnsafeCheckpointError``)."""
    for path in reversed(experiment.checkpoints()):
        try:
            return read_checkpoint(path, map_location)
        except ConfigError:
            raise
        except Exception as exc:  # noqa: BLE001 - an unreadable file falls back to the previous one
            log.warning("checkpoint %s is unreadable (%s: %s); trying the previous one", path, type(exc).__name__, exc)
    return None


def load_checkpoint(
    experiment: Experiment, which: str = "latest", map_location: str | torch.device = "cpu"
) -> dict[str, Any] | None:
    """``which``: ``latest``, ``best`` (the latest when there is no readable best), or a file path
    (absolute, or relative to the checkpoint folder). None when the experiment has no checkpoint."""
    if which == "latest":
        return load_latest(experiment, map_location)
    if which == "best":
        best = experiment.best_checkpoint
        if best.is_file():
            try:
                return read_checkpoint(best, map_location)
            except ConfigError:
                raise
            except Exception as exc:  # noqa: BLE001
                log.warning("best checkpoint %s is unreadable (%s); using the latest", best, exc)
        return load_latest(experiment, map_location)
    path = Path(which)
    if not path.is_file() and (experiment.checkpoint_dir / which).is_file():
        path = experiment.checkpoint_dir / which
    if not path.is_file():
        raise ConfigError(f"checkpoint {which} does not exist; give latest, best or a checkpoint file.")
    return read_checkpoint(path, map_location)


# ----- writing -----


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_save(state: Mapping[str, Any], path: Path) -> None:
    """``torch.save`` to ``path`` through a temp file, fsync and rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(dict(state), f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


class Checkpointer:
    """Writes the run's checkpoints: periodic (every ``save_every_seconds``), best, and final."""

    def __init__(
        self,
        experiment: Experiment,
        cfg: CheckpointConfig,
        config_dict: Mapping[str, Any],
        state: TrainState,
        policies: PolicySet,
        episode_stats: Callable[[], dict[str, float]],
        extension_states: Callable[[], Mapping[str, Any]] = dict,
    ) -> None:
        """``extension_states()``: each training extension's ``state_dict()`` by its ``name``."""
        from relayrl.version import __version__

        self.extension_states = extension_states
        self.best_by = TRAINING_RETURN
        """The source of the scores that pick the best files (``choose_best_by``)."""
        self.experiment = experiment
        self.cfg = cfg
        self.header = {"format_version": FORMAT_VERSION, "relayrl_version": __version__, "config": dict(config_dict)}
        self.state = state
        self.policies = policies
        self.episode_stats = episode_stats
        self.last_path: str | None = None
        """The last periodic or final checkpoint written in this session."""
        self.last_save = time.monotonic()

    def content(self) -> dict[str, Any]:
        data: dict[str, Any] = {**self.header, "episode_stats": self.episode_stats(), **self.state.to_dict()}
        for policy in self.policies.all():
            data["policies"][policy.id]["learner"] = policy.learner.state_dict()
            data["policies"][policy.id]["policy_version"] = policy.version
        data.update(self.extension_states())
        return data

    def maybe_save(self) -> None:
        if time.monotonic() - self.last_save >= self.cfg.save_every_seconds:
            self.save()

    def save(self, final: bool = False) -> None:
        """Write a periodic checkpoint and drop all but the newest ``keep_checkpoints``. A periodic
        one that fails (disk full, ...) is logged and retried at the next interval; the final one
        raises ``CheckpointError``."""
        self.last_save = time.monotonic()
        version = self.policies.latest_version
        path = self.experiment.checkpoint_path(version, self.state.env_steps)
        try:
            atomic_save(self.content(), path)
            for old in self.experiment.checkpoints()[: -self.cfg.keep_checkpoints]:
                old.unlink(missing_ok=True)
        except OSError as exc:
            message = (
                f"could not write a checkpoint to {self.experiment.checkpoint_dir} ({exc.strerror or exc}); "
                f"free disk space or make it writable. Last good checkpoint: {self.last_path}"
            )
            if final:
                raise CheckpointError(message) from exc
            log.error("%s; training goes on and retries in %.0f s", message, self.cfg.save_every_seconds)
            return
        self.last_path = str(path)

    def choose_best_by(self, source: str) -> None:
        """From now on the best files follow the scores given to ``save_best_if`` with ``source`` (the
        windowed training return no longer counts). ValueError when another source took it already."""
        if self.best_by not in (TRAINING_RETURN, source):
            raise ValueError(f"the best files follow {self.best_by!r} already; {source!r} cannot take them over")
        self.best_by = source

    def maybe_save_best(self, policy: Policy, window: int) -> bool:
        """The default source: ``policy``'s windowed mean training return (once its window holds
        ``min(window, 10)`` episodes) through ``save_best_if``; returns whether a best file was written."""
        mean_reward = policy.window.flat().get("reward_mean")
        if mean_reward is None or len(policy.window) < min(window, MIN_EPISODES_FOR_BEST):
            return False
        return self.save_best_if(policy, mean_reward, TRAINING_RETURN)

    def save_best_if(
        self, policy: Policy, score: float, source: str, learner_state: Mapping[str, Any] | None = None
    ) -> bool:
        """Write ``policy``'s best file when ``source`` picks the best files (``choose_best_by``) and
        ``score`` beats the policy's best score of that source; ``learner_state``: the learner state
        that scored (``Learner.state_dict()`` layout; default: the current one). Returns whether it did."""
        state = policy.state
        if source != self.best_by or math.isnan(score):
            return False
        if state.best_source == source and state.best_reward is not None and score <= state.best_reward:
            return False
        state.best_reward, state.best_source = float(score), source
        data = self.content()
        if learner_state is not None:
            data["policies"][policy.id]["learner"] = dict(learner_state)
            data["policies"][policy.id]["policy_version"] = int(learner_state["policy_version"])
        path = self.experiment.best_checkpoint_of(policy.id)
        try:
            atomic_save(data, path)
        except OSError as exc:
            log.error("could not write %s (%s); training goes on", path, exc.strerror or exc)
            return False
        return True
