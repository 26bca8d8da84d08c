"""``relayrl enjoy``: evaluate a trained policy in one env, report episode returns, optionally record a video.

``enjoy(EnjoyConfig(experiment=...))`` rebuilds the training ``Config`` from the experiment's
``config.json``, builds one env and the model, loads the chosen policy's checkpoint (cli/policy_choice.py)
and runs ``num_episodes`` episodes: the policy plays a single-agent env, or the first agent of a
multi-agent env (``--opponent`` the others). The env is told it is an evaluation env before every
episode (``training_info["evaluation"]``, ``info_schema.evaluation_info``), so a curriculum plays its
evaluation level instead of starting over. Every missing piece (experiment dir, config.json,
checkpoint, policy) is a ``ConfigError`` naming the path or the flag.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from relayrl import info_schema
from relayrl.cli.parsing import parse
from relayrl.cli.policy_choice import LoadedCheckpoint, PolicyChoice, load_choice
from relayrl.config import Config, ConfigError, JsonDict, replace
from relayrl.envs import make_env
from relayrl.envs.parallel_contract import agent_spaces, is_multiagent_env
from relayrl.evaluation import EvalResult, VideoWriter, evaluate, policy_from_checkpoint, policy_from_spaces
from relayrl.evaluation.matches import (
    ModelPlayer,
    ScriptedPlayer,
    check_renders,
    evaluate_multiagent,
    opponent_refused_hint,
    resolve_opponent,
)
from relayrl.trainer.wandb_sink import log_evaluation, require_wandb
from relayrl.utils.logs import setup_logging

log = logging.getLogger("relayrl.enjoy")


@dataclasses.dataclass(frozen=True)
class EnjoyConfig(PolicyChoice):
    """Evaluate a trained relayrl policy (and optionally record a video)."""

    num_episodes: int = 10
    """Episodes to run."""

    deterministic: bool = True
    """Take the most likely action instead of sampling from the policy."""

    video: bool = False
    """Record a video of the first episodes (see max_video_episodes); the env must render rgb_array
    frames (multi-agent envs: a factory with a ``render_mode`` parameter)."""

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

    opponent: str | None = None
    """Multi-agent envs: who plays the other agents: ``policy:J`` (policy J of the same checkpoint;
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


def eval_config(cfg: EnjoyConfig, train_cfg: Config) -> Config:
    """The training config with enjoy's overrides (time limit, env kwargs)."""
    if cfg.max_episode_steps is not None:
        train_cfg = replace(train_cfg, environment__max_episode_steps=cfg.max_episode_steps)
    if cfg.env_kwargs:
        merged = {**train_cfg.environment.env_kwargs, **cfg.env_kwargs}
        train_cfg = replace(train_cfg, environment__env_kwargs=merged)
    return train_cfg


def enjoy(cfg: EnjoyConfig) -> EvalResult:
    """Evaluate the chosen policy of the experiment's checkpoint for ``cfg.num_episodes`` episodes; the
    result names the checkpoint file and the policy id."""
    _check(cfg)
    loaded = load_choice(cfg)
    train_cfg = eval_config(cfg, loaded.train_cfg)
    torch.manual_seed(cfg.seed)
    env = make_env(train_cfg, env_index=0, render_mode="rgb_array" if cfg.video else None)
    video: VideoWriter | None = None
    try:
        multiagent = is_multiagent_env(env)
        opponent: int | Callable[[Any], Any] | None = None
        if multiagent:  # resolved before a video file is opened
            spec = cfg.opponent or f"policy:{loaded.policy_id}"
            opponent = resolve_opponent(spec, sorted(loaded.data["policies"]), train_cfg.env)
        elif cfg.opponent is not None:
            raise ConfigError(
                f"--opponent needs a multi-agent env; {train_cfg.env!r} is a single-agent env"
                + opponent_refused_hint(env, cfg.opponent)
                + "."
            )
        if cfg.video:
            if multiagent:
                check_renders(env, train_cfg.env)
            path = Path(cfg.video_path) if cfg.video_path else loaded.experiment.videos_dir / "enjoy.mp4"
            video = VideoWriter(path, cfg.video_fps)
        log.info(
            "evaluating policy %d of %s (%s, policy version %s)",
            loaded.policy_id,
            loaded.path,
            train_cfg.env,
            loaded.policy_version,
        )
        if opponent is not None:
            result = enjoy_multiagent(cfg, loaded, train_cfg, env, opponent, video)
        else:
            result = _enjoy_single_agent(cfg, loaded, train_cfg, env, video)
    finally:
        env.close()
        if video is not None:
            video.close()
    result = dataclasses.replace(result, checkpoint=loaded.path, policy_id=loaded.policy_id)
    if cfg.wandb:
        scalars = {
            "eval/episode_return_mean": result.mean_return,
            "eval/episode_length_mean": float(np.mean(result.lengths)),
        }
        scalars.update({f"eval/{key}": value for key, value in result.extra_stats.items()})
        recorded = None if video is None else video.path
        env_steps = int(loaded.data.get("env_steps", 0))
        log_evaluation(train_cfg.logging, loaded.experiment, env_steps, scalars, recorded)
    return result


def evaluation_info(loaded: LoadedCheckpoint) -> dict[str, Any]:
    """The training info enjoy's env receives: the checkpoint's env steps and policy, ``evaluation: True``."""
    return info_schema.evaluation_info(
        int(loaded.data.get("env_steps", 0)), loaded.policy_id, int(loaded.policy_version or 0)
    )


def _enjoy_single_agent(
    cfg: EnjoyConfig, loaded: LoadedCheckpoint, train_cfg: Config, env: Any, video: VideoWriter | None
) -> EvalResult:
    model = policy_from_checkpoint(train_cfg, env, loaded.data, loaded.policy_id)
    env.action_space.seed(cfg.seed)

    def on_episode(i: int, ret: float, length: int) -> None:
        log.info("episode %d/%d: return %.3f, length %d", i + 1, cfg.num_episodes, ret, length)

    return evaluate(
        env,
        model,
        cfg.num_episodes,
        cfg.seed,
        cfg.deterministic,
        video,
        cfg.max_video_episodes,
        on_episode,
        evaluation_info(loaded),
    )


def enjoy_multiagent(
    cfg: EnjoyConfig,
    loaded: LoadedCheckpoint,
    train_cfg: Config,
    env: Any,
    opponent: int | Callable[[Any], Any],
    video: VideoWriter | None = None,
) -> EvalResult:
    """The evaluated policy plays the first agent; ``opponent`` (a policy id of the checkpoint or a
    scripted ``function(obs) -> action``, see ``resolve_opponent``) the others."""
    agents, obs_space, action_space = agent_spaces(env, train_cfg.env)

    def model_player(policy_id: int) -> ModelPlayer:
        model = policy_from_spaces(train_cfg, obs_space, action_space, loaded.data, policy_id)
        return ModelPlayer(model, action_space, cfg.deterministic)

    other: Any = model_player(opponent) if isinstance(opponent, int) else ScriptedPlayer(opponent)
    players = {agent: (model_player(loaded.policy_id) if a == 0 else other) for a, agent in enumerate(agents)}
    name = f"policy {opponent}" if isinstance(opponent, int) else cfg.opponent
    log.info("policy %d plays %r against %s", loaded.policy_id, agents[0], name)
    return evaluate_multiagent(
        env, players, agents[0], cfg.num_episodes, cfg.seed, video, cfg.max_video_episodes, evaluation_info(loaded)
    )


def format_result(result: EvalResult) -> str:
    """The human-readable results block the CLI prints."""
    arr = np.asarray(result.returns, dtype=np.float64)
    lines = []
    if result.checkpoint is not None:
        lines.append(f"checkpoint:   {result.checkpoint} (policy {result.policy_id})")
    lines += [
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
