"""The core option groups of ``Config`` (relayrl/config/__init__.py): nested frozen dataclasses, one
docstring per field, each group with its own ``validate(cfg)``.

The docstrings become ``relayrl train --help`` (parsed by tyro), one box per group. The command line
stays flat (``--num-workers``, not ``--sampling.num-workers``); a field whose name would not say its
group on its own gets its flag with ``flag(...)`` (``ray.address`` is ``--ray-address``). The groups of
features live beside this module (``multiagent.py``, ``self_play.py``, ``pbt.py``).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal

import tyro

from relayrl.errors import require

if TYPE_CHECKING:
    from relayrl.config import Config


def flag(name: str) -> Any:
    """The command-line name of a field (without ``--``), for fields whose own name omits their group."""
    return tyro.conf.arg(name=name)


def check_json_object(value: Any, name: str, example: str) -> None:
    """ConfigError unless ``value`` (a JSON flag) is a dict."""
    require(isinstance(value, dict), f"{name} must be a JSON object, e.g. '{example}' (got {value!r}).")


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

    def validate(self, cfg: Config) -> None:
        check_json_object(self.env_kwargs, "--env-kwargs", '{"size": 9}')
        require(self.frame_stack >= 1, f"--frame-stack must be >= 1 (got {self.frame_stack}).")
        require(
            self.max_episode_steps is None or self.max_episode_steps > 0,
            f"--max-episode-steps must be > 0 (got {self.max_episode_steps}).",
        )


BACKENDS = ("auto", "local", "ray", "serial")
"""The ``--backend`` names: ``auto``, chosen at the start of a run (relayrl/trainer/sources/layout.py), and
the rollout sources registered in relayrl/trainer/sources/__init__.py."""


@dataclasses.dataclass(frozen=True)
class SamplingConfig:
    """Rollout workers and the trajectories they produce."""

    num_workers: int = dataclasses.field(default_factory=lambda: max(1, min(os.cpu_count() or 1, 16)))
    """Rollout worker processes (default: one per CPU core, at most 16)."""

    backend: Literal["auto", "local", "ray", "serial"] = "auto"
    """Where rollout workers run: ``local`` (one process per worker on this machine, trajectories in
    shared memory), ``ray`` (one Ray actor per worker on a Ray cluster, see --ray-address;
    ``pip install 'relayrl[ray]'``), ``serial`` (inside the trainer's process, taking turns with the
    learner: for machines without a free core for the workers, debugging, profiling and fast tests) or
    ``auto`` (default: ``serial`` when fewer than 1.5 of this process's cores are free at the start of the
    run and the learner is on the CPU, else ``local``; the log says which and why)."""

    num_envs_per_worker: int = 16
    """Envs stepped by each worker, as one batch for policy inference."""

    rollout_length: int = 32
    """Env steps per env in one trajectory slot (the unit a worker hands to the learner)."""

    mode: Annotated[Literal["async", "sync"], flag("sampling-mode")] = "async"
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

    def validate(self, cfg: Config) -> None:
        require(self.num_workers >= 1, f"--num-workers must be >= 1 (got {self.num_workers}).")
        require(self.backend in BACKENDS, f"--backend {self.backend!r} is not one of {', '.join(BACKENDS)}.")
        require(self.num_envs_per_worker >= 1, f"--num-envs-per-worker must be >= 1 (got {self.num_envs_per_worker}).")
        require(self.rollout_length >= 1, f"--rollout-length must be >= 1 (got {self.rollout_length}).")
        require(
            self.num_buffers_per_worker >= 1,
            f"--num-buffers-per-worker must be >= 1 (got {self.num_buffers_per_worker}).",
        )


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

    def validate(self, cfg: Config) -> None:
        if self.batch_size is not None:
            require(self.batch_size > 0, f"--batch-size must be > 0 (got {self.batch_size}).")
            require(
                self.batch_size % cfg.rollout_steps == 0,
                f"--batch-size {self.batch_size} is not a multiple of one rollout "
                f"(num_envs_per_worker * rollout_length = {cfg.rollout_steps}); use e.g. "
                f"{max(1, self.batch_size // cfg.rollout_steps) * cfg.rollout_steps}.",
            )
            if cfg.sampling.mode == "sync":
                per_round = cfg.sampling.num_workers * cfg.rollout_steps
                require(
                    self.batch_size % per_round == 0,
                    f"in sync mode --batch-size must be a multiple of num_workers * num_envs_per_worker * "
                    f"rollout_length = {per_round} (got {self.batch_size}); change it or use --sampling-mode async.",
                )
        require(self.num_epochs >= 1, f"--num-epochs must be >= 1 (got {self.num_epochs}).")
        require(self.num_minibatches >= 1, f"--num-minibatches must be >= 1 (got {self.num_minibatches}).")
        rnn = cfg.model.use_rnn
        units = cfg.rollouts_per_batch * cfg.sampling.num_envs_per_worker if rnn else cfg.batch_size
        what = "env sequences per batch (RNN minibatches hold whole sequences)" if rnn else "env steps per batch"
        require(
            self.num_minibatches <= units,
            f"--num-minibatches {self.num_minibatches} exceeds the {units} {what}; lower it.",
        )
        require(self.lr > 0, f"--lr must be > 0 (got {self.lr}).")
        require(
            self.advantage_std_floor >= 0,
            f"--advantage-std-floor must be >= 0 (got {self.advantage_std_floor}); 0 switches the floor off.",
        )
        require(self.adam_eps > 0, f"--adam-eps must be > 0 (got {self.adam_eps}).")
        require(0.0 <= self.gamma <= 1.0, f"--gamma must be in [0, 1] (got {self.gamma}).")
        require(0.0 <= self.gae_lambda <= 1.0, f"--gae-lambda must be in [0, 1] (got {self.gae_lambda}).")
        require(self.clip_coef > 0, f"--clip-coef must be > 0 (got {self.clip_coef}).")
        require(self.ent_coef >= 0, f"--ent-coef must be >= 0 (got {self.ent_coef}).")
        require(self.vf_coef >= 0, f"--vf-coef must be >= 0 (got {self.vf_coef}).")
        require(self.max_grad_norm > 0, f"--max-grad-norm must be > 0 (got {self.max_grad_norm}).")
        require(self.target_kl is None or self.target_kl > 0, f"--target-kl must be > 0 (got {self.target_kl}).")
        require(
            self.learner_threads is None or self.learner_threads >= 1,
            f"--learner-threads must be >= 1 (got {self.learner_threads}).",
        )
        require(self.vtrace_rho_bar > 0 and self.vtrace_c_bar > 0, "--vtrace-rho-bar and --vtrace-c-bar must be > 0.")


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

    def validate(self, cfg: Config) -> None:
        require(
            len(self.hidden_sizes) >= 1 and all(h > 0 for h in self.hidden_sizes),
            f"--hidden-sizes must be one or more positive ints (got {self.hidden_sizes}).",
        )
        require(self.rnn_size > 0, f"--rnn-size must be > 0 (got {self.rnn_size}).")
