"""Experiment configuration: ``Config``, its derived values, and its round trip through config.json.

``Config`` holds the top-level settings and one frozen dataclass per option group: the core groups in
``groups.py`` and ``run_groups.py``, the features' groups in ``multiagent.py``, ``self_play.py``,
``pbt.py``, ``evaluation.py``, ``task_curriculum.py`` and ``opponent_ratings.py``. Defaults live only there. Derived values are properties, never
fields filled in later.
``Config.validate()`` rejects bad values and combinations before any process starts: the top-level
fields here, then every group's own ``validate(cfg)``. This package imports no feature package and
nothing above it (the features import their group from here).
"""

from __future__ import annotations

import dataclasses
import os
import re
import typing
from typing import Any

from relayrl.config import presets
from relayrl.config.evaluation import EvaluationConfig
from relayrl.config.groups import (
    BACKENDS,
    AlgorithmConfig,
    EnvConfig,
    HookSpec,
    JsonDict,
    ModelConfig,
    SamplingConfig,
)
from relayrl.config.multiagent import MultiAgentConfig
from relayrl.config.opponent_ratings import OpponentRatingsConfig
from relayrl.config.pbt import PBTConfig
from relayrl.config.run_groups import CheckpointConfig, FaultConfig, LoggingConfig, RayConfig, TrainingInfoConfig
from relayrl.config.self_play import SelfPlayConfig
from relayrl.config.task_curriculum import TaskCurriculumConfig
from relayrl.errors import ConfigError as ConfigError  # re-exported: relayrl.config.ConfigError
from relayrl.errors import require
from relayrl.hooks import hook_name

__all__ = [
    "BACKENDS",
    "AlgorithmConfig",
    "CheckpointConfig",
    "Config",
    "ConfigError",
    "EnvConfig",
    "EvaluationConfig",
    "FaultConfig",
    "HookSpec",
    "JsonDict",
    "LARGE_MODEL_MULTIPLY_ADDS",
    "LoggingConfig",
    "ModelConfig",
    "MultiAgentConfig",
    "OpponentRatingsConfig",
    "PBTConfig",
    "RayConfig",
    "SamplingConfig",
    "SelfPlayConfig",
    "TaskCurriculumConfig",
    "TrainingInfoConfig",
    "replace",
    "validate",
]

LARGE_MODEL_MULTIPLY_ADDS = 1_000_000
"""Per-sample forward multiply-adds from which a CPU learner defaults to all cores (see ``learner_threads``)."""


@dataclasses.dataclass(frozen=True)
class Config:
    """A relayrl experiment."""

    env: str = "CartPole-v1"
    """A Gymnasium id (``CartPole-v1``, ``ALE/Pong-v5``), or ``package.module:callable`` returning a
    ``gymnasium.Env`` (called with the env-kwargs dict) or a ``gymnasium.vector.VectorEnv``."""

    experiment: str | None = None
    """Experiment name, the folder under train_dir (default: derived from the env name)."""

    train_dir: str = "train_dir"
    """Root folder for experiments."""

    train_for_env_steps: int = 500_000
    """Stop after this many env steps (summed over all envs)."""

    train_for_seconds: float | None = None
    """Also stop after this many seconds of training in this session (a time budget)."""

    seed: int | None = None
    """Seed for envs, sampling and initialization (default: a random one, recorded in config.json)."""

    device: str = "cpu"
    """Learner device: ``cpu``, ``cuda``, ``cuda:N`` or ``auto``. Workers always infer on the CPU."""

    preset: str | None = None
    """A named set of defaults for a family of tasks (``mujoco``: continuous control; see
    relayrl/presets.py). It changes defaults only: flags given explicitly win. Recorded in config.json."""

    environment: EnvConfig = EnvConfig()
    sampling: SamplingConfig = SamplingConfig()
    algorithm: AlgorithmConfig = AlgorithmConfig()
    model: ModelConfig = ModelConfig()
    logging: LoggingConfig = LoggingConfig()
    training_info: TrainingInfoConfig = TrainingInfoConfig()
    faults: FaultConfig = FaultConfig()
    checkpointing: CheckpointConfig = CheckpointConfig()
    ray: RayConfig = RayConfig()
    multi_agent: MultiAgentConfig = MultiAgentConfig()
    self_play: SelfPlayConfig = SelfPlayConfig()
    pbt: PBTConfig = PBTConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    task_curriculum: TaskCurriculumConfig = TaskCurriculumConfig()
    opponent_ratings: OpponentRatingsConfig = OpponentRatingsConfig()

    # ----- validation -----

    def validate(self) -> None:
        """Reject invalid values and combinations with a message that says what to change (ConfigError)."""
        require(bool(self.env), "--env is empty: give a Gymnasium id or 'package.module:callable'.")
        self._check_preset_applied()
        require(self.train_for_env_steps > 0, f"--train-for-env-steps must be > 0 (got {self.train_for_env_steps}).")
        require(
            self.train_for_seconds is None or self.train_for_seconds > 0,
            f"--train-for-seconds must be > 0 (got {self.train_for_seconds}).",
        )
        require(
            re.fullmatch(r"(auto|cpu|cuda(:\d+)?)", self.device) is not None,
            f"--device {self.device!r} is not one of cpu, cuda, cuda:N, auto.",
        )
        require(
            self.experiment is None
            or (bool(self.experiment) and "/" not in self.experiment and self.experiment not in (".", "..")),
            f"--experiment {self.experiment!r} must be a plain folder name (no '/').",
        )
        for group in self.groups():
            group.validate(self)

    def groups(self) -> list[Any]:
        """The option groups, in field order (each has ``validate(cfg)``)."""
        return [getattr(self, f.name) for f in dataclasses.fields(self) if dataclasses.is_dataclass(f.default)]

    def _check_preset_applied(self) -> None:
        """An unknown preset name, or a preset whose values were never applied: every field it sets still
        has the plain default (``Config(preset="mujoco")`` instead of ``preset_config``)."""
        if self.preset is None:
            return
        preset = presets.changes(self.preset)
        plain = Config()
        differs = {key for key, value in preset.items() if _leaf(plain, key) != value}
        if differs and all(_leaf(self, key) == _leaf(plain, key) for key in differs):
            raise ConfigError(
                f"Config(preset={self.preset!r}) only records the preset's name; build the config with "
                f"relayrl.presets.preset_config({self.preset!r}, ...) so its defaults apply."
            )

    # ----- derived values -----

    @property
    def experiment_name(self) -> str:
        """The experiment folder name: ``experiment`` or the env name made filesystem-safe."""
        if self.experiment:
            return self.experiment
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", self.env).strip("_") or "experiment"

    @property
    def experiment_dir(self) -> str:
        return os.path.join(self.train_dir, self.experiment_name)

    def learner_threads(self, multiply_adds: int = 0) -> int:
        """Torch threads for the learner process on CPU (``--learner-threads``, else a default).

        ``multiply_adds``: the model's per-sample forward cost (``ActorCritic.multiply_adds_per_sample``).
        Default: the cores the workers leave free, at least 1, at most 8 (``--backend serial``: 1). A model of at least
        ``LARGE_MODEL_MULTIPLY_ADDS`` gets all cores (at most 8): its ops are large enough to split
        across threads and it keeps the learner the bottleneck, so it takes a share of the workers'
        cores. Smaller models' ops are too small to split and a second thread only adds contention.
        Measured on 2 cores with 2 workers (docs/benchmarks.md): CartPole's 64x64 MLP (~9k
        multiply-adds) 1 thread 1.4x the fps of 2; MiniGrid's small CNN (~0.16M) 1 thread 1.4x the
        fps of 2; Pong's Nature CNN (~10M) 2 threads 1.3x the fps of 1.
        """
        if self.algorithm.learner_threads is not None:
            return self.algorithm.learner_threads
        cores = os.cpu_count() or 1
        large = multiply_adds >= LARGE_MODEL_MULTIPLY_ADDS
        if self.sampling.backend == "serial":
            # the in-process workers' batch-sized inference and the small model's updates gain nothing
            # from a second thread; on a busy machine its synchronization alone made them many times slower
            return min(8, cores) if large else 1
        free = max(1, cores - self.sampling.num_workers)
        return min(8, max(free, cores) if large else free)

    @property
    def rollout_steps(self) -> int:
        """Env steps in one trajectory slot."""
        return self.sampling.num_envs_per_worker * self.sampling.rollout_length

    @property
    def batch_size(self) -> int:
        """Env steps per learner update."""
        if self.algorithm.batch_size is not None:
            return self.algorithm.batch_size
        return self.sampling.num_workers * self.rollout_steps

    @property
    def rollouts_per_batch(self) -> int:
        return self.batch_size // self.rollout_steps

    @property
    def rollouts_per_worker(self) -> int:
        """Rollouts one batch needs from each worker (rounded up)."""
        return max(1, -(-self.rollouts_per_batch // self.sampling.num_workers))

    @property
    def num_slots_per_worker(self) -> int:
        """Trajectory slots each worker owns in shared memory: one batch's worth in sync mode,
        ``num_buffers_per_worker`` batches' worth in async mode (so there are always enough slots
        for a batch, whatever the batch size)."""
        if self.sampling.mode == "sync":
            return self.rollouts_per_worker
        return self.rollouts_per_worker * max(self.sampling.num_buffers_per_worker, 1)

    @property
    def policies_share_rows(self) -> bool:
        """Whether a trajectory slot may hold rows of several controllers (policies or snapshots), so
        each learner trains on its own rows only."""
        return self.multi_agent.num_policies > 1 or self.self_play.enabled

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (hooks given as callables are written as ``"module:qualname"``)."""
        out = dataclasses.asdict(self)
        out["training_info"]["fn"] = hook_name(self.training_info.fn)
        out["logging"]["metrics_fn"] = hook_name(self.logging.metrics_fn)
        return out

    def without_hooks(self) -> Config:
        """The config without user hooks, for worker processes (hooks run in the trainer only, and a
        lambda could not be sent to a spawned process)."""
        return replace(self, training_info__fn=None, logging__metrics_fn=None)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Config:
        """Rebuild a Config from ``to_dict`` output (e.g. a saved config.json; older field names are
        converted, see ``upgrade_dict``)."""
        groups: dict[str, Any] = {
            f.name: type(f.default) for f in dataclasses.fields(Config) if dataclasses.is_dataclass(f.default)
        }
        kwargs: dict[str, Any] = {}
        for key, value in upgrade_dict(data).items():
            if key in groups:
                sub = dict(value)
                if key == "model" and "hidden_sizes" in sub:
                    sub["hidden_sizes"] = tuple(sub["hidden_sizes"])
                if key == "logging" and "wandb_tags" in sub:
                    sub["wandb_tags"] = tuple(sub["wandb_tags"])
                kwargs[key] = groups[key](**sub)
            else:
                kwargs[key] = value
        return Config(**kwargs)


def validate(cfg: Config) -> None:
    """``cfg.validate()``: reject invalid values and combinations (ConfigError naming what to change)."""
    cfg.validate()


def _leaf(cfg: Config, key: str) -> Any:
    value: Any = cfg
    for part in key.split("__"):
        value = getattr(value, part)
    return value


_RENAMED: dict[str, dict[str, str]] = {
    "training_info": {
        "training_info_interval": "interval",
        "training_info_delivery": "delivery",
        "training_info_fn": "fn",
    },
    "ray": {
        "ray_address": "address",
        "ray_cpus_per_worker": "cpus_per_worker",
        "ray_placement_strategy": "placement_strategy",
    },
    "pbt": {"pbt": "enabled"},
    "sampling": {"sampling_mode": "mode"},
}
"""Field names of config.json files written before the groups dropped their prefixes (old -> new)."""


def upgrade_dict(data: dict[str, Any]) -> dict[str, Any]:
    """A config dict with older field names (``serial``, ``pbt.pbt_*``, ``ray.ray_*``, the self-play fields
    in ``multi_agent``) converted to the current ones; current dicts come back unchanged."""
    out = {key: dict(value) if isinstance(value, dict) else value for key, value in data.items()}
    if "serial" in out:
        if out.pop("serial"):
            out.setdefault("sampling", {})["backend"] = "serial"
    for group, renames in _RENAMED.items():
        sub = out.get(group)
        if isinstance(sub, dict):
            for old, new in renames.items():
                if old in sub:
                    sub[new] = sub.pop(old)
    pbt = out.get("pbt")
    if isinstance(pbt, dict):
        out["pbt"] = {key[4:] if key.startswith("pbt_") else key: value for key, value in pbt.items()}
        out["pbt"].pop("objective_grace_env_steps", None)  # removed: the objective is checked at the first episodes
    multi = out.get("multi_agent")
    if isinstance(multi, dict) and any(key.startswith("self_play") for key in multi):
        sp = out.setdefault("self_play", {})
        for key in [k for k in multi if k.startswith("self_play")]:
            sp["enabled" if key == "self_play" else key[len("self_play_") :]] = multi.pop(key)
    return out


def flag_of(owner: type, name: str) -> str:
    """The ``relayrl train`` flag of field ``name`` of dataclass ``owner`` (a group or ``Config``): its
    ``flag(...)`` name when it has one, else the field name with dashes."""
    hints = typing.get_type_hints(owner, include_extras=True)
    if name not in hints:
        raise KeyError(f"{owner.__name__} has no field {name!r}")
    named = [m.name for m in getattr(hints[name], "__metadata__", ()) if getattr(m, "name", None)]
    return "--" + (named[0] if named else name.replace("_", "-"))


def cli_flag(key: str) -> str:
    """The ``relayrl train`` flag of a ``replace`` key: ``pbt__period_env_steps`` -> ``--pbt-period-env-steps``,
    ``train_for_env_steps`` -> ``--train-for-env-steps``."""
    *groups, name = key.split("__")
    owner: Any = type(getattr(Config(), groups[0])) if groups else Config
    return flag_of(owner, name)


def replace(cfg: Config, **changes: Any) -> Config:
    """``dataclasses.replace`` that also accepts ``group__field=value`` for nested fields."""
    top: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in changes.items():
        if "__" in key:
            group, field = key.split("__", 1)
            nested.setdefault(group, {})[field] = value
        else:
            top[key] = value
    for group, fields in nested.items():
        top[group] = dataclasses.replace(getattr(cfg, group), **fields)
    return dataclasses.replace(cfg, **top)
