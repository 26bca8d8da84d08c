"""The run's service groups of ``Config``: logging, training info, faults, Ray, checkpoints (each with
its own ``validate(cfg)``; see relayrl/config/groups.py for the conventions)."""

from __future__ import annotations

import dataclasses
import importlib.util
from typing import TYPE_CHECKING, Annotated, Literal

from relayrl.config.groups import HookSpec, JsonDict, check_json_object, flag
from relayrl.errors import require
from relayrl.hooks import resolve_hook

if TYPE_CHECKING:
    from relayrl.config import Config


@dataclasses.dataclass(frozen=True)
class LoggingConfig:
    """Console, TensorBoard, progress file and Weights & Biases."""

    report_interval: float = 5.0
    """Seconds between console reports / TensorBoard / progress-file rows."""

    stats_window: int = 100
    """Recent episodes over which episode statistics are aggregated."""

    progress_bar: bool = True
    """Show a progress bar with ETA on a terminal (the console report carries the ETA otherwise)."""

    tensorboard: bool = True
    """Write TensorBoard event files into the experiment directory."""

    metrics_fn: HookSpec = None
    """Derived metrics: called at every report with the aggregated episode stats (the dict envs get as
    ``training_info["stats"]``); returns ``{name: number}``, logged as ``derived/<name>``."""

    wandb: bool = False
    """Also log to Weights & Biases: the TensorBoard scalars (x-axis env steps) and the resolved
    config. Needs ``pip install 'relayrl[wandb]'`` and ``wandb login`` (or WANDB_MODE=offline
    to log locally); the run id is kept in ``<experiment_dir>/wandb_run_id``, so a resumed
    experiment continues its run."""

    wandb_project: str = "relayrl"
    """W&B project of the run."""

    wandb_entity: str | None = None
    """W&B entity (user or team) of the run (default: your default entity)."""

    wandb_group: str | None = None
    """W&B group of the run, e.g. to show the seeds of one setting together."""

    wandb_tags: tuple[str, ...] = ()
    """W&B tags of the run."""

    def validate(self, cfg: Config) -> None:
        require(self.report_interval > 0, f"--report-interval must be > 0 (got {self.report_interval}).")
        require(self.stats_window >= 1, f"--stats-window must be >= 1 (got {self.stats_window}).")
        resolve_hook(self.metrics_fn, "--metrics-fn")
        if self.wandb:
            require(
                importlib.util.find_spec("wandb") is not None,
                "--wandb needs the wandb package: pip install 'relayrl[wandb]' (or drop --wandb).",
            )
            require(bool(self.wandb_project), "--wandb-project is empty: give a W&B project name.")


@dataclasses.dataclass(frozen=True)
class TrainingInfoConfig:
    """What the trainer tells every env instance (see docs/training-info.md)."""

    interval: Annotated[float, flag("training-info-interval")] = 0.05
    """Seconds between deliveries of training info to an env (it gets a fresh value before its next
    step once this much time has passed; 0 = before every step)."""

    delivery: Annotated[Literal["step", "episode"], flag("training-info-delivery")] = "step"
    """``step``: deliver between any two env steps; ``episode``: only right before a reset, so values
    never change mid-episode. Either way the first episode already has training info."""

    fn: Annotated[HookSpec, flag("training-info-fn")] = None
    """Adds keys to training info: called in the trainer with a read-only ``TrainerView``, returns a
    dict of extra keys."""

    reward_shaping: JsonDict | None = None
    """Initial ``reward_shaping`` dict delivered to envs (change it mid-run with
    ``Trainer.set_reward_shaping``)."""

    def validate(self, cfg: Config) -> None:
        require(self.interval >= 0, f"--training-info-interval must be >= 0 seconds (got {self.interval}).")
        if self.reward_shaping is not None:
            check_json_object(self.reward_shaping, "--reward-shaping", '{"distance": 0.1}')
        resolve_hook(self.fn, "--training-info-fn")


@dataclasses.dataclass(frozen=True)
class FaultConfig:
    """What happens when envs or workers fail (see docs/reliability.md)."""

    env_error_policy: Literal["restart", "raise"] = "restart"
    """An exception in an env's step, reset or set_training_info: ``restart`` recreates that env and
    drops its partial episode from the training data; ``raise`` stops the run (checkpoint first)."""

    max_consecutive_env_errors: int = 5
    """With ``restart``: stop the run when one env fails more than this many times in a row."""

    max_worker_restarts: int = 5
    """Worker processes that die (killed, segfault, out of memory) are restarted with fresh envs up
    to this many times in total; the next death stops the run."""

    check_obs: bool = True
    """Check every observation against its space (shape, dtype) and for NaN/inf, and rewards for
    NaN/inf; a bad one stops the run with the env and field named."""

    def validate(self, cfg: Config) -> None:
        require(
            self.max_consecutive_env_errors >= 0,
            f"--max-consecutive-env-errors must be >= 0 (got {self.max_consecutive_env_errors}).",
        )
        require(self.max_worker_restarts >= 0, f"--max-worker-restarts must be >= 0 (got {self.max_worker_restarts}).")


@dataclasses.dataclass(frozen=True)
class RayConfig:
    """Rollout workers on a Ray cluster (``--backend ray``, see docs/scale-out.md)."""

    address: Annotated[str, flag("ray-address")] = ""
    """The cluster to run the workers on: ``auto`` (the cluster this machine joined with ``ray start``),
    ``host:port`` of its head node, or empty to start a Ray instance on this machine for this run.
    A process that already called ``ray.init`` keeps its connection."""

    cpus_per_worker: Annotated[float, flag("ray-cpus-per-worker")] = 1.0
    """CPUs each rollout worker actor reserves on its node (fractions let several share a core)."""

    placement_strategy: Annotated[Literal["PACK", "SPREAD"] | None, flag("ray-placement-strategy")] = None
    """Reserve the workers' CPUs up front in one placement group: ``PACK`` them onto as few nodes as
    possible, or ``SPREAD`` them over the nodes. Default: no reservation, Ray places each worker."""

    def validate(self, cfg: Config) -> None:
        require(self.cpus_per_worker > 0, f"--ray-cpus-per-worker must be > 0 (got {self.cpus_per_worker}).")
        require(
            self.placement_strategy in (None, "PACK", "SPREAD"),
            f"--ray-placement-strategy must be PACK or SPREAD (got {self.placement_strategy!r}).",
        )


@dataclasses.dataclass(frozen=True)
class CheckpointConfig:
    """Checkpoints and resuming."""

    save_every_seconds: float = 120.0
    """Seconds between periodic checkpoints (one is always written at the end)."""

    keep_checkpoints: int = 3
    """Latest checkpoints kept (the best one is kept separately)."""

    resume: bool = True
    """Continue from the experiment's latest checkpoint when it has one. ``--no-resume`` refuses to
    run in an experiment directory that already has checkpoints."""

    def validate(self, cfg: Config) -> None:
        require(self.keep_checkpoints >= 1, f"--keep-checkpoints must be >= 1 (got {self.keep_checkpoints}).")
        require(self.save_every_seconds > 0, f"--save-every-seconds must be > 0 (got {self.save_every_seconds}).")
