"""Resuming a run: the one place that reads the checkpoint a run continues from.

``resume`` checks that the experiment may be continued with this config, restores every policy's
learner and returns the ``Resumed`` run: its ``TrainState`` and the saved state of each extension. Nothing
is written, so a refused resume leaves the experiment as it was.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from relayrl.config import Config, ConfigError
from relayrl.experiment import Experiment
from relayrl.learning.learner import Learner
from relayrl.trainer import checkpointer as ckpt
from relayrl.trainer.state import TrainState

log = logging.getLogger("relayrl.trainer")


@dataclasses.dataclass(frozen=True)
class Resumed:
    """A run continued from a checkpoint."""

    state: TrainState
    data: Mapping[str, Any]
    """The checkpoint's content (``checkpointer.read_checkpoint``)."""

    def extension_state(self, name: str) -> Mapping[str, Any] | None:
        """What extension ``name`` saved (None when the checkpoint has no entry for it)."""
        saved = self.data.get(name)
        return saved if saved else None


def resume(experiment: Experiment, cfg: Config, learners: Mapping[int, Learner]) -> Resumed | None:
    """The experiment's latest checkpoint with every learner restored from it; None for a new experiment.
    ConfigError when it may not be continued with ``cfg`` (another preset, other policies, another model,
    ``--no-resume``)."""
    if not experiment.checkpoints():
        return None
    if not cfg.checkpointing.resume:
        raise ConfigError(
            f"experiment directory {experiment.root} already has checkpoints and --no-resume was given; "
            "choose another --experiment or drop --no-resume to continue it."
        )
    saved_preset = experiment.read_config().preset if experiment.config_path.exists() else None
    if saved_preset != cfg.preset:
        raise ConfigError(
            f"experiment {experiment.root} was trained with --preset {saved_preset or '(none)'} "
            f"({experiment.config_path}), this run has --preset {cfg.preset or '(none)'}; give the same "
            "--preset to continue it, or choose another --experiment."
        )
    data = ckpt.load_latest(experiment)
    if data is None:
        raise ConfigError(f"no readable checkpoint in {experiment.checkpoint_dir}; move it away.")
    if sorted(data["policies"]) != sorted(learners):
        # fewer policies would drop the others from every later checkpoint; more would start untrained ones
        raise ConfigError(
            f"checkpoint {data['path']} has policies {sorted(data['policies'])}, this config {sorted(learners)}; "
            f"resume with --num-policies {len(data['policies'])} or choose a new --experiment."
        )
    for pid, learner in learners.items():
        try:
            learner.load_state_dict(data["policies"][pid]["learner"])
        except (RuntimeError, ValueError, KeyError) as exc:
            raise ConfigError(
                f"checkpoint {data['path']} does not match this config's model ({exc}); "
                f"train with the settings in {experiment.config_path} or choose a new --experiment."
            ) from exc
    state = TrainState.from_dict(data)
    versions = ", ".join(f"{k}: {learner.policy_version}" for k, learner in learners.items())
    log.info("resumed from %s (env steps %d, policy versions %s)", data["path"], state.env_steps, versions)
    if state.curriculum_states:
        log.info("resuming the curriculum state of %d env(s)", len(state.curriculum_states))
    return Resumed(state, data)
