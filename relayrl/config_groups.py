"""The option groups of ``Config`` (relayrl/config.py): nested frozen dataclasses, one docstring per field.

The docstrings become ``relayrl train --help`` (parsed by tyro). Every leaf field name is unique
across groups so that the command line stays flat (``--num-workers``, not ``--sampling.num-workers``).
Groups owned by a feature package live there: ``MultiAgentConfig`` (relayrl/multiagent/config.py),
``PBTConfig`` (relayrl/pbt/config.py).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from typing import Annotated, Any, Literal

import tyro

JsonDict = Annotated[dict[str, Any], tyro.conf.arg(constructor=json.loads, metavar="JSON")]
HookSpec = Annotated[str | Callable[..., Any] | None, tyro.conf.arg(constructor=str, metavar="MODULE:FUNCTION")]
"""A user hook: ``"package.module:function"`` (command line and config.json) or a Python callable (API)."""


@dataclasses.dataclass(frozen=True)
class EnvConfig:
    """How environments are built."""

    env_kwargs: JsonDict = dataclasses.field(default_factory=dict)
    """Keyword arguments for the env: passed to ``gymnasium.make`` for an id, or as the single
    env-config dict to a ``module:callable`` factory. On the command line, a JSON object."""

    vectorized: bool = False
    """Step each worker's envs through the id's Gymnasium vector entry point (numpy-batched, e.g.
    CartPole-v1) instead of one env object per env. Cheap envs run much faster this way."""

    max_episode_steps: int | None = None
    """Override the env's time limit (episodes are truncated after this many steps)."""

    frame_stack: int = 4
    """Frames stacked for Atari (ALE/...) ids, which get the standard 84x84 grayscale preprocessing."""


@dataclasses.dataclass(frozen=True)
class SamplingConfig:
    """Rollout workers and the trajectories they produce."""

    num_workers: int = dataclasses.field(default_factory=lambda: max(1, min(os.cpu_count() or 1, 16)))
    """Rollout worker processes (default: one per CPU core, at most 16)."""

    backend: str = "local"
    """Where rollout workers run: ``local`` (one process per worker on this machine, trajectories in
    shared memory) or ``ray`` (one Ray actor per worker on a Ray cluster, see --ray-address;
    ``pip install 'relayrl[ray]'``). ``--serial`` runs them inside the trainer's process instead."""

    num_envs_per_worker: int = 16
    """Envs stepped by each worker, as one batch for policy inference."""

    rollout_length: int = 32
    """Env steps per env in one trajectory slot (the unit a worker hands to the learner)."""

    sampling_mode: Literal["async", "sync"] = "async"
    """``async``: workers keep sampling while the learner trains (rollouts about one policy version
    old; see ``off_policy_correction``); ``sync``: workers wait for fresh weights after each rollout
    (no policy lag)."""

    publish_every_epoch: bool = True
    """Async mode: also publish the learner's weights after each epoch of an update (not only at its
    end), so rollouts that start during an update use the partly updated policy: fresher samples
    at the cost of a weight copy per epoch. Such rollouts carry the version of the last complete
    update; the PPO ratio uses each step's recorded behaviour log-probability either way."""

    num_buffers_per_worker: int = 2
    """Async mode: how many batches' worth of trajectory slots each worker owns (2: it fills the next
    batch's slots while the learner trains on the last ones; sync mode uses one batch's worth)."""


@dataclasses.dataclass(frozen=True)
class AlgorithmConfig:
    """PPO hyperparameters."""

    batch_size: int | None = None
    """Env steps per learner update. Default: one rollout from every worker
    (num_workers * num_envs_per_worker * rollout_length). Must be a multiple of
    num_envs_per_worker * rollout_length."""

    num_epochs: int = 4
    """Passes over each batch."""

    num_minibatches: int = 4
    """Minibatches per epoch (the batch is split into this many; whole sequences with an RNN)."""

    lr: float = 3e-4
    """Adam learning rate."""

    lr_schedule: Literal["constant", "linear"] = "linear"
    """``linear`` anneals the learning rate to 0 at train_for_env_steps."""

    adam_eps: float = 1e-5
    """Adam epsilon."""

    gamma: float = 0.99
    """Discount factor."""

    gae_lambda: float = 0.95
    """GAE / V-trace lambda."""

    clip_coef: float = 0.2
    """PPO ratio clipping."""

    clip_value_loss: bool = False
    """Clip the value update around the old value prediction (same coefficient as the ratio)."""

    ent_coef: float = 0.0
    """Entropy bonus coefficient."""

    vf_coef: float = 0.5
    """Value loss coefficient."""

    max_grad_norm: float = 0.5
    """Gradient norm clipping."""

    normalize_advantages: bool = True
    """Normalize advantages per minibatch."""

    advantage_std_floor: float = 0.1
    """With --normalize-advantages, advantages are divided by max(their minibatch std, this x the
    running std of the returns). Without reward signal (a sparse-reward env before its first
    successes) advantages are value noise; divided by their own tiny std they become full-size
    policy updates that wear down the policy's entropy, and with it the exploration that finds the
    reward. 0: plain normalization."""

    target_kl: float | None = None
    """Stop the epochs of an update early when the approximate KL exceeds this."""

    off_policy_correction: Literal["vtrace", "none"] = "none"
    """Correction for policy lag in async mode. ``none`` (default, as in Sample Factory's APPO): GAE
    on the behaviour policy's values, with the PPO ratio taken against the behaviour log-probs.
    ``vtrace``: value targets from V-trace's truncated importance weights (identical to GAE without
    lag). With a lag of about one version, truncation's bias outweighed its correction on CartPole
    (docs/benchmarks.md, "Policy lag and V-trace")."""

    vtrace_rho_bar: float = 1.0
    """V-trace truncation of the importance weight on the TD error."""

    vtrace_c_bar: float = 1.0
    """V-trace truncation of the importance weight on the trace."""

    learner_threads: int | None = None
    """PyTorch threads of a CPU learner (default: the cores the workers leave free, at least 1, at most
    8; for a model of 1M+ multiply-adds per sample, e.g. a Nature CNN, all cores, at most 8)."""


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Actor-critic network."""

    hidden_sizes: tuple[int, ...] = (64, 64)
    """MLP encoder layer sizes (for vector observations, and after a CNN)."""

    activation: Literal["tanh", "relu", "elu"] = "tanh"
    """Activation of MLP layers."""

    shared_actor_critic: bool = False
    """One encoder (and core) for actor and critic instead of two separate ones."""

    use_rnn: bool = False
    """Add a GRU core after the encoder, for partial observability."""

    rnn_size: int = 128
    """GRU hidden size."""

    normalize_obs: bool = True
    """Running mean/std normalization of vector observations (images are scaled to [0, 1] instead)."""

    normalize_returns: bool = True
    """Value head predicts returns normalized by a running mean/std."""

    log_std_init: float = 0.0
    """Box actions: initial value of the Gaussian policy's state-independent log-std (0: std 1).
    Lower starts with less exploration noise (the ``mujoco`` preset uses a lower one)."""


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


@dataclasses.dataclass(frozen=True)
class TrainingInfoConfig:
    """What the trainer tells every env instance (see docs/training-info.md)."""

    training_info_interval: float = 0.05
    """Seconds between deliveries of training info to an env (it gets a fresh value before its next
    step once this much time has passed; 0 = before every step)."""

    training_info_delivery: Literal["step", "episode"] = "step"
    """``step``: deliver between any two env steps; ``episode``: only right before a reset, so values
    never change mid-episode. Either way the first episode already has training info."""

    training_info_fn: HookSpec = None
    """Adds keys to training info: called in the trainer with a read-only ``TrainerView``, returns a
    dict of extra keys."""

    reward_shaping: JsonDict | None = None
    """Initial ``reward_shaping`` dict delivered to envs (change it mid-run with
    ``Trainer.set_reward_shaping``)."""


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


@dataclasses.dataclass(frozen=True)
class RayConfig:
    """Rollout workers on a Ray cluster (``--backend ray``, see docs/scale-out.md)."""

    ray_address: str = ""
    """The cluster to run the workers on: ``auto`` (the cluster this machine joined with ``ray start``),
    ``host:port`` of its head node, or empty to start a Ray instance on this machine for this run.
    A process that already called ``ray.init`` keeps its connection."""

    ray_cpus_per_worker: float = 1.0
    """CPUs each rollout worker actor reserves on its node (fractions let several share a core)."""

    ray_placement_strategy: Literal["PACK", "SPREAD"] | None = None
    """Reserve the workers' CPUs up front in one placement group: ``PACK`` them onto as few nodes as
    possible, or ``SPREAD`` them over the nodes. Default: no reservation, Ray places each worker."""


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
