"""``relayrl enjoy``: evaluate a trained policy in one env, report episode returns, optionally record a video.

``enjoy(EnjoyConfig(experiment=...))`` rebuilds the training ``Config`` from the experiment's
``config.json``, builds one env and the model, loads a checkpoint and runs ``num_episodes`` episodes.
Every missing piece (experiment dir, config.json, checkpoint) is a ``ConfigError`` naming the path.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from relayrl.cli.parsing import parse
from relayrl.config import Config, ConfigError, JsonDict, replace
from relayrl.envs import make_env
from relayrl.evaluation import EvalResult, VideoWriter, evaluate, policy_from_checkpoint, policy_from_spaces
from relayrl.experiment import Experiment
from relayrl.hooks import import_callable
from relayrl.multiagent.contract import agent_spaces, is_multiagent_env
from relayrl.multiagent.evaluation import ModelPlayer, ScriptedPlayer, evaluate_multiagent
from relayrl.trainer import checkpointer
from relayrl.trainer.wandb_sink import log_evaluation, require_wandb
from relayrl.utils.logs import setup_logging

log = logging.getLogger("relayrl.enjoy")


@dataclasses.dataclass(frozen=True)
class EnjoyConfig:
    """Evaluate a trained relayrl policy (and optionally record a video)."""

    experiment: str
    """Experiment name: the folder under train_dir that training wrote."""

    train_dir: str = "train_dir"
    """Root folder for experiments."""

    checkpoint: str = "best"
    """Which checkpoint: ``latest``, ``best`` (falls back to latest), or a path to a ``.pt`` file."""

    num_episodes: int = 10
    """Episodes to run."""

    deterministic: bool = True
    """Take the most likely action instead of sampling from the policy."""

    video: bool = False
    """Record a video of the first episodes (see max_video_episodes)."""

    video_path: str | None = None
    """Where to write the video (default: ``<experiment_dir>/videos/enjoy.mp4``); a ``.gif`` suffix writes a GIF."""

    video_fps: int = 30
    """Frames per second of the video."""

    max_video_episodes: int = 1
    """Episodes recorded into the video."""

    seed: int = 12345
    """Seed for the env resets (episode i uses seed + i) and for sampled actions."""

    max_episode_steps: int | None = None
    """Override the env's time limit for evaluation."""

    env_kwargs: JsonDict | None = None
    """Merged over the training run's --env-kwargs for evaluation (a JSON object), e.g. to play the
    hardest level of a curriculum env."""

    policy: int = 0
    """The policy to evaluate (``--num-policies``): it plays the single-agent env, or the first agent of
    a multi-agent env."""

    opponent: str | None = None
    """Multi-agent envs: who plays the other agents: ``policy:K`` (policy K of the same checkpoint;
    default: the evaluated policy itself) or ``package.module:function``, a scripted opponent called as
    ``function(obs) -> action`` (e.g. ``relayrl.envs.coin_duel:bot_4``)."""

    wandb: bool = False
    """Log the evaluation (mean return and length, and the video with --video) to the experiment's
    Weights & Biases run at the checkpoint's env steps, with the training config's W&B project,
    entity, group and tags. Needs ``pip install 'relayrl[wandb]'``."""


def _check(cfg: EnjoyConfig) -> None:
    if cfg.num_episodes < 1:
        raise ConfigError(f"--num-episodes must be >= 1 (got {cfg.num_episodes}).")
    if cfg.video_fps < 1:
        raise ConfigError(f"--video-fps must be >= 1 (got {cfg.video_fps}).")
    if cfg.max_video_episodes < 1:
        raise ConfigError(f"--max-video-episodes must be >= 1 (got {cfg.max_video_episodes}).")
    if cfg.max_episode_steps is not None and cfg.max_episode_steps < 1:
        raise ConfigError(f"--max-episode-steps must be > 0 (got {cfg.max_episode_steps}).")
    if cfg.wandb:
        require_wandb()


def load_checkpoint(experiment: Experiment, which: str) -> dict[str, Any]:
    """The checkpoint ``which`` (latest, best or a file) of ``experiment``; ConfigError when there is
    none or it cannot be read."""
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


def eval_config(cfg: EnjoyConfig, train_cfg: Config) -> Config:
    """The training config with enjoy's overrides (time limit, env kwargs)."""
    if cfg.max_episode_steps is not None:
        train_cfg = replace(train_cfg, environment__max_episode_steps=cfg.max_episode_steps)
    if cfg.env_kwargs:
        merged = {**train_cfg.environment.env_kwargs, **cfg.env_kwargs}
        train_cfg = replace(train_cfg, environment__env_kwargs=merged)
    return train_cfg


def _check_policy(cfg: EnjoyConfig, data: dict[str, Any]) -> None:
    if cfg.policy not in data["policies"]:
        raise ConfigError(f"--policy {cfg.policy}: the checkpoint has policies {sorted(data['policies'])}.")


def enjoy(cfg: EnjoyConfig) -> EvalResult:
    """Evaluate the experiment's checkpoint for ``cfg.num_episodes`` episodes."""
    _check(cfg)
    experiment = Experiment.existing(cfg.train_dir, cfg.experiment)
    train_cfg = eval_config(cfg, experiment.read_config())
    data = load_checkpoint(experiment, cfg.checkpoint)
    _check_policy(cfg, data)
    torch.manual_seed(cfg.seed)
    env = make_env(train_cfg, env_index=0, render_mode="rgb_array" if cfg.video else None)
    if is_multiagent_env(env):
        try:
            return enjoy_multiagent(cfg, train_cfg, env, data)
        finally:
            env.close()
    if cfg.opponent is not None:
        env.close()
        raise ConfigError(f"--opponent needs a multi-agent env; {train_cfg.env!r} is a single-agent env.")
    video: VideoWriter | None = None
    try:
        model = policy_from_checkpoint(train_cfg, env, data, cfg.policy)
        env.action_space.seed(cfg.seed)
        version = data["policies"][cfg.policy].get("policy_version")
        log.info("evaluating %s (%s, policy version %s)", data.get("path"), train_cfg.env, version)
        if cfg.video:
            path = Path(cfg.video_path) if cfg.video_path else experiment.videos_dir / "enjoy.mp4"
            video = VideoWriter(path, cfg.video_fps)

        def on_episode(i: int, ret: float, length: int) -> None:
            log.info("episode %d/%d: return %.3f, length %d", i + 1, cfg.num_episodes, ret, length)

        result = evaluate(
            env, model, cfg.num_episodes, cfg.seed, cfg.deterministic, video, cfg.max_video_episodes, on_episode
        )
    finally:
        env.close()
        if video is not None:
            video.close()
    if cfg.wandb:
        scalars = {
            "eval/episode_return_mean": result.mean_return,
            "eval/episode_length_mean": float(np.mean(result.lengths)),
        }
        scalars.update({f"eval/{key}": value for key, value in result.extra_stats.items()})
        recorded = None if video is None else video.path
        log_evaluation(train_cfg.logging, experiment, int(data.get("env_steps", 0)), scalars, recorded)
    return result


def enjoy_multiagent(cfg: EnjoyConfig, train_cfg: Config, env: Any, data: dict[str, Any]) -> EvalResult:
    """The evaluated policy plays the first agent; ``--opponent`` the others (default: the same policy)."""
    if cfg.video:
        raise ConfigError("--video is not supported for multi-agent envs yet; drop --video.")
    agents, obs_space, action_space = agent_spaces(env, train_cfg.env)

    def model_player(policy_id: int) -> ModelPlayer:
        model = policy_from_spaces(train_cfg, obs_space, action_space, data, policy_id)
        return ModelPlayer(model, action_space, cfg.deterministic)

    spec = cfg.opponent or f"policy:{cfg.policy}"
    if spec.startswith("policy:"):
        try:
            opponent_id = int(spec.split(":", 1)[1])
        except ValueError:
            raise ConfigError(f"--opponent {spec!r}: give policy:K with an integer K.") from None
        if opponent_id not in data["policies"]:
            raise ConfigError(f"--opponent {spec}: the checkpoint has policies {sorted(data['policies'])}.")
        opponent: Any = model_player(opponent_id)
    else:
        opponent = ScriptedPlayer(import_callable(spec, f"--opponent {spec!r}"))
    players = {agent: (model_player(cfg.policy) if a == 0 else opponent) for a, agent in enumerate(agents)}
    log.info("evaluating policy %d as %r against %s (%s)", cfg.policy, agents[0], spec, data.get("path"))
    return evaluate_multiagent(env, players, agents[0], cfg.num_episodes, cfg.seed)


def format_result(result: EvalResult) -> str:
    """The human-readable results block the CLI prints."""
    arr = np.asarray(result.returns, dtype=np.float64)
    lines = [
        f"episodes:     {len(result.returns)}",
        f"mean return:  {result.mean_return:.3f} +- {result.std_return:.3f} (min {arr.min():.3f}, max {arr.max():.3f})",
        f"mean length:  {float(np.mean(result.lengths)):.1f}",
    ]
    for key, value in result.extra_stats.items():
        lines.append(f"{key + ':':<13} {value:.3f} (mean over episodes)")
    if result.video_path:
        lines.append(f"video:        {result.video_path}")
    return "\n".join(lines)


def parse_enjoy_args(argv: Sequence[str]) -> EnjoyConfig:
    """``relayrl enjoy`` flags -> EnjoyConfig."""
    return parse(EnjoyConfig, argv, "enjoy")


def run(argv: Sequence[str]) -> int:
    cfg = parse_enjoy_args(argv)
    setup_logging("main")
    print(format_result(enjoy(cfg)))
    return 0
