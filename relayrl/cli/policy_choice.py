"""The flags ``relayrl enjoy`` and ``relayrl export`` share: which experiment, checkpoint and policy,
and the one way a command loads them.

``--checkpoint best`` means the chosen policy's own best file (``Experiment.best_checkpoint_of``:
``best.pt`` for policy 0, ``best_policy_<k>.pt`` for policy k), the latest checkpoint while it has
none. A checkpoint with several policies needs ``--policy``: no command silently picks policy 0.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from relayrl.config import Config
from relayrl.errors import ConfigError
from relayrl.experiment import Experiment
from relayrl.trainer import checkpointer

log = logging.getLogger("relayrl.cli")


@dataclasses.dataclass(frozen=True)
class PolicyChoice:
    """Which trained policy a command loads (the first flags of enjoy and export)."""

    experiment: str
    """Experiment name: the folder under train_dir that training wrote."""

    train_dir: str = "train_dir"
    """Root folder for experiments."""

    checkpoint: str = "best"
    """Which checkpoint: ``latest``, ``best`` (the policy's own best file: ``best.pt`` for policy 0,
    ``best_policy_<k>.pt`` for policy k; the latest while there is none), or a path to a ``.pt`` file."""

    policy: int | None = None
    """The policy to load (runs trained with ``--num-policies N``: 0..N-1). Required when the
    checkpoint holds several policies; a single-policy checkpoint needs none."""


@dataclasses.dataclass
class LoadedCheckpoint:
    """A checkpoint read for one policy: the experiment, its training config, the checkpoint content
    (``trainer/checkpointer.py`` format), the policy id chosen and the file it came from."""

    experiment: Experiment
    train_cfg: Config
    data: dict[str, Any]
    policy_id: int
    path: str

    @property
    def policy_version(self) -> Any:
        return self.data["policies"][self.policy_id].get("policy_version")


def _choose_policy_message(ids: list[int], where: str) -> str:
    listed = ", ".join(str(k) for k in ids)
    return f"{where} holds policies {listed}; choose one with --policy K (e.g. --policy {ids[0]})."


def read_checkpoint_file(experiment: Experiment, which: str) -> dict[str, Any]:
    """The checkpoint ``which`` (``latest``, ``best`` for policy 0, or a file) of ``experiment``;
    ConfigError when there is none or it cannot be read."""
    try:
        data = checkpointer.load_checkpoint(experiment, which)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a user-facing error
        raise ConfigError(f"checkpoint {which} is unreadable ({type(exc).__name__}: {exc}).") from exc
    if data is None:
        raise ConfigError(
            f"no checkpoint in {experiment.checkpoint_dir}; train the experiment first "
            "(checkpoints are written periodically and at the end of training)."
        )
    return data


def _best_of(experiment: Experiment, policy_id: int) -> dict[str, Any]:
    """Policy ``policy_id``'s best file, else (missing or unreadable) the latest checkpoint."""
    path = experiment.best_checkpoint_of(policy_id)
    if path.is_file():
        try:
            return checkpointer.read_checkpoint(path)
        except ConfigError:
            raise
        except Exception as exc:  # noqa: BLE001 - as checkpointer.load_checkpoint("best") does
            log.warning("best checkpoint %s is unreadable (%s); using the latest", path, exc)
    else:
        log.info("policy %d has no best file yet (%s); using the latest checkpoint", policy_id, path.name)
    return read_checkpoint_file(experiment, "latest")


def load_choice(choice: PolicyChoice) -> LoadedCheckpoint:
    """Read the experiment's config and the checkpoint of the chosen policy; ConfigError naming the
    fix for a missing experiment or checkpoint, an unknown policy, or several policies and no ``--policy``."""
    experiment = Experiment.existing(choice.train_dir, choice.experiment)
    train_cfg = experiment.read_config()
    trained = list(range(train_cfg.multi_agent.num_policies))
    if choice.policy is not None and choice.policy not in trained:
        raise ConfigError(
            f"--policy {choice.policy}: {_choose_policy_message(trained, f'experiment {experiment.name}')}"
        )
    if choice.checkpoint == "best":
        if choice.policy is None and len(trained) > 1:
            raise ConfigError(_choose_policy_message(trained, f"experiment {experiment.name}"))
        data = _best_of(experiment, choice.policy or 0)
    else:
        data = read_checkpoint_file(experiment, choice.checkpoint)
    path = str(data.get("path", choice.checkpoint))
    ids = sorted(data["policies"])
    policy = choice.policy
    if policy is None:
        if len(ids) > 1:
            raise ConfigError(_choose_policy_message(ids, f"checkpoint {path}"))
        policy = ids[0]
    elif policy not in ids:
        raise ConfigError(f"--policy {policy}: {_choose_policy_message(ids, f'checkpoint {path}')}")
    return LoadedCheckpoint(experiment, train_cfg, data, policy, path)
