"""``validate(cfg)``: reject invalid values and combinations before any process starts, with a
message that names the flag and says what to change."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from relayrl.errors import ConfigError
from relayrl.hooks import resolve_hook
from relayrl.pbt.validation import validate_pbt
from relayrl.trainer.sources import SOURCES

if TYPE_CHECKING:
    from relayrl.config import Config


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def validate(cfg: Config) -> None:
    """Reject invalid values and combinations with a message that says what to change."""
    s, a, m = cfg.sampling, cfg.algorithm, cfg.model
    _require(bool(cfg.env), "--env is empty: give a Gymnasium id or 'package.module:callable'.")
    from relayrl.presets import check_applied  # imports relayrl.config, which imports this module

    check_applied(cfg)  # an unknown name, or a preset named but never applied
    _require(cfg.train_for_env_steps > 0, f"--train-for-env-steps must be > 0 (got {cfg.train_for_env_steps}).")
    _require(
        cfg.train_for_seconds is None or cfg.train_for_seconds > 0,
        f"--train-for-seconds must be > 0 (got {cfg.train_for_seconds}).",
    )
    _require(s.num_workers >= 1, f"--num-workers must be >= 1 (got {s.num_workers}).")
    backends = sorted(set(SOURCES) - {"serial"})
    _require(s.backend in backends, f"--backend {s.backend!r} is not one of {', '.join(backends)}.")
    _require(
        cfg.ray.ray_cpus_per_worker > 0,
        f"--ray-cpus-per-worker must be > 0 (got {cfg.ray.ray_cpus_per_worker}).",
    )
    _require(
        cfg.ray.ray_placement_strategy in (None, "PACK", "SPREAD"),
        f"--ray-placement-strategy must be PACK or SPREAD (got {cfg.ray.ray_placement_strategy!r}).",
    )
    _require(s.num_envs_per_worker >= 1, f"--num-envs-per-worker must be >= 1 (got {s.num_envs_per_worker}).")
    _require(s.rollout_length >= 1, f"--rollout-length must be >= 1 (got {s.rollout_length}).")
    _require(s.num_buffers_per_worker >= 1, f"--num-buffers-per-worker must be >= 1 (got {s.num_buffers_per_worker}).")
    if a.batch_size is not None:
        _require(a.batch_size > 0, f"--batch-size must be > 0 (got {a.batch_size}).")
        _require(
            a.batch_size % cfg.rollout_steps == 0,
            f"--batch-size {a.batch_size} is not a multiple of one rollout "
            f"(num_envs_per_worker * rollout_length = {cfg.rollout_steps}); use e.g. "
            f"{max(1, a.batch_size // cfg.rollout_steps) * cfg.rollout_steps}.",
        )
        if s.sampling_mode == "sync":
            per_round = s.num_workers * cfg.rollout_steps
            _require(
                a.batch_size % per_round == 0,
                f"in sync mode --batch-size must be a multiple of num_workers * num_envs_per_worker * "
                f"rollout_length = {per_round} (got {a.batch_size}); change it or use --sampling-mode async.",
            )
    _require(a.num_epochs >= 1, f"--num-epochs must be >= 1 (got {a.num_epochs}).")
    _require(a.num_minibatches >= 1, f"--num-minibatches must be >= 1 (got {a.num_minibatches}).")
    units = cfg.rollouts_per_batch * s.num_envs_per_worker if m.use_rnn else cfg.batch_size
    what = "env sequences per batch (RNN minibatches hold whole sequences)" if m.use_rnn else "env steps per batch"
    _require(
        a.num_minibatches <= units,
        f"--num-minibatches {a.num_minibatches} exceeds the {units} {what}; lower it.",
    )
    _require(a.lr > 0, f"--lr must be > 0 (got {a.lr}).")
    _require(
        a.advantage_std_floor >= 0,
        f"--advantage-std-floor must be >= 0 (got {a.advantage_std_floor}); 0 switches the floor off.",
    )
    _require(a.adam_eps > 0, f"--adam-eps must be > 0 (got {a.adam_eps}).")
    _require(0.0 <= a.gamma <= 1.0, f"--gamma must be in [0, 1] (got {a.gamma}).")
    _require(0.0 <= a.gae_lambda <= 1.0, f"--gae-lambda must be in [0, 1] (got {a.gae_lambda}).")
    _require(a.clip_coef > 0, f"--clip-coef must be > 0 (got {a.clip_coef}).")
    _require(a.ent_coef >= 0, f"--ent-coef must be >= 0 (got {a.ent_coef}).")
    _require(a.vf_coef >= 0, f"--vf-coef must be >= 0 (got {a.vf_coef}).")
    _require(a.max_grad_norm > 0, f"--max-grad-norm must be > 0 (got {a.max_grad_norm}).")
    _require(a.target_kl is None or a.target_kl > 0, f"--target-kl must be > 0 (got {a.target_kl}).")
    _require(
        a.learner_threads is None or a.learner_threads >= 1,
        f"--learner-threads must be >= 1 (got {a.learner_threads}).",
    )
    _require(a.vtrace_rho_bar > 0 and a.vtrace_c_bar > 0, "--vtrace-rho-bar and --vtrace-c-bar must be > 0.")
    _require(
        len(m.hidden_sizes) >= 1 and all(h > 0 for h in m.hidden_sizes),
        f"--hidden-sizes must be one or more positive ints (got {m.hidden_sizes}).",
    )
    _require(m.rnn_size > 0, f"--rnn-size must be > 0 (got {m.rnn_size}).")
    _require(cfg.logging.report_interval > 0, f"--report-interval must be > 0 (got {cfg.logging.report_interval}).")
    _require(cfg.logging.stats_window >= 1, f"--stats-window must be >= 1 (got {cfg.logging.stats_window}).")
    _require(
        cfg.checkpointing.keep_checkpoints >= 1,
        f"--keep-checkpoints must be >= 1 (got {cfg.checkpointing.keep_checkpoints}).",
    )
    _require(
        cfg.checkpointing.save_every_seconds > 0,
        f"--save-every-seconds must be > 0 (got {cfg.checkpointing.save_every_seconds}).",
    )
    _require(cfg.environment.frame_stack >= 1, f"--frame-stack must be >= 1 (got {cfg.environment.frame_stack}).")
    _require(
        cfg.environment.max_episode_steps is None or cfg.environment.max_episode_steps > 0,
        f"--max-episode-steps must be > 0 (got {cfg.environment.max_episode_steps}).",
    )
    _require(
        cfg.faults.max_consecutive_env_errors >= 0,
        f"--max-consecutive-env-errors must be >= 0 (got {cfg.faults.max_consecutive_env_errors}).",
    )
    _require(
        cfg.faults.max_worker_restarts >= 0,
        f"--max-worker-restarts must be >= 0 (got {cfg.faults.max_worker_restarts}).",
    )
    ti = cfg.training_info
    _require(
        ti.training_info_interval >= 0,
        f"--training-info-interval must be >= 0 seconds (got {ti.training_info_interval}).",
    )
    _require(
        ti.reward_shaping is None or isinstance(ti.reward_shaping, dict),
        "--reward-shaping must be a JSON object, e.g. '{\"distance\": 0.1}'.",
    )
    ma = cfg.multi_agent
    _require(ma.num_policies >= 1, f"--num-policies must be >= 1 (got {ma.num_policies}).")
    _require(ma.self_play_every >= 1, f"--self-play-every must be >= 1 policy version (got {ma.self_play_every}).")
    _require(ma.self_play_pool_size >= 1, f"--self-play-pool-size must be >= 1 (got {ma.self_play_pool_size}).")
    validate_pbt(cfg)
    resolve_hook(ti.training_info_fn, "--training-info-fn")
    resolve_hook(cfg.logging.metrics_fn, "--metrics-fn")
    if cfg.logging.wandb:
        from relayrl.trainer.wandb_sink import require_wandb  # imports wandb only when asked for

        require_wandb()
        _require(bool(cfg.logging.wandb_project), "--wandb-project is empty: give a W&B project name.")
    _require(
        re.fullmatch(r"(auto|cpu|cuda(:\d+)?)", cfg.device) is not None,
        f"--device {cfg.device!r} is not one of cpu, cuda, cuda:N, auto.",
    )
    _require(
        cfg.experiment is None
        or (bool(cfg.experiment) and "/" not in cfg.experiment and cfg.experiment not in (".", "..")),
        f"--experiment {cfg.experiment!r} must be a plain folder name (no '/').",
    )
