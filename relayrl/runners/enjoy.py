"""Evaluation: run a trained policy in one env, report episode returns, optionally record a video.

``enjoy(EnjoyConfig(experiment=...))`` rebuilds the training ``Config`` from the experiment's
``config.json``, builds one env and the model, loads a checkpoint and runs ``num_episodes`` episodes.
Every missing piece (experiment dir, config.json, checkpoint) is a ``ConfigError`` naming the path.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

import gymnasium as gym
import imageio.v2 as imageio
import numpy as np
import torch

from relayrl.config import Config, ConfigError, JsonDict, replace
from relayrl.envs import make_env
from relayrl.envs.episode_stats import EXTRA_STATS_KEY, flatten_extra_stats
from relayrl.learning import checkpoints
from relayrl.models import ActorCritic, build_actor_critic
from relayrl.runners.wandb_sink import log_evaluation, require_wandb
from relayrl.sampling.buffers import map_obs

log = logging.getLogger("relayrl.enjoy")

MACRO_BLOCK = 16


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

    wandb: bool = False
    """Log the evaluation (mean return and length, and the video with --video) to the experiment's
    Weights & Biases run at the checkpoint's env steps, with the training config's W&B project,
    entity, group and tags. Needs ``pip install 'relayrl[wandb]'``."""

    @property
    def experiment_dir(self) -> Path:
        return Path(self.train_dir) / self.experiment


@dataclasses.dataclass
class EvalResult:
    """What ``enjoy`` returns."""

    returns: list[float]
    lengths: list[int]
    mean_return: float
    std_return: float
    video_path: str | None
    extra_stats: dict[str, float] = dataclasses.field(default_factory=dict)
    """Mean over episodes of each ``episode_extra_stats`` key the env reported (e.g. ``success``)."""


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


def load_train_config(cfg: EnjoyConfig) -> Config:
    """The training ``Config`` saved in ``<train_dir>/<experiment>/config.json``."""
    exp_dir = checkpoints.existing_experiment_dir(cfg.train_dir, cfg.experiment)
    path = exp_dir / "config.json"
    if not path.is_file():
        raise ConfigError(f"{path} is missing; {exp_dir} is not a relayrl experiment (train into it first).")
    try:
        with open(path) as f:
            return Config.from_dict(json.load(f))
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{path} is not a readable relayrl config ({exc}); retrain or fix the file.") from exc


def load_state(cfg: EnjoyConfig) -> dict[str, Any]:
    """The checkpoint dict selected by ``cfg.checkpoint``."""
    exp_dir = cfg.experiment_dir
    which = cfg.checkpoint
    if which not in ("latest", "best"):
        path = Path(which)
        if not path.is_file() and (checkpoints.checkpoint_dir(exp_dir) / which).is_file():
            path = checkpoints.checkpoint_dir(exp_dir) / which
        if not path.is_file():
            raise ConfigError(f"checkpoint {which} does not exist; give latest, best or a checkpoint file.")
        which = str(path)
    try:
        state = checkpoints.load_checkpoint(exp_dir, which)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a user-facing error
        raise ConfigError(f"checkpoint {which} is unreadable ({type(exc).__name__}: {exc}).") from exc
    if state is None:
        raise ConfigError(
            f"no checkpoint in {checkpoints.checkpoint_dir(exp_dir)}; train the experiment first "
            "(checkpoints are written periodically and at the end of training)."
        )
    return state


def build_model(train_cfg: Config, env: gym.Env, state: dict[str, Any]) -> ActorCritic:
    model = build_actor_critic(env.observation_space, env.action_space, train_cfg.model)
    try:
        model.load_state_dict(state["learner"]["model"])
    except (RuntimeError, KeyError) as exc:
        raise ConfigError(f"checkpoint {state.get('path')} does not match the experiment's model ({exc}).") from exc
    model.eval()
    return model


class VideoWriter:
    """Streams RGB frames to an mp4 (ffmpeg, frames padded to multiples of 16) or a GIF (pillow)."""

    def __init__(self, path: Path, fps: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        gif = path.suffix.lower() == ".gif"
        self.block = 1 if gif else MACRO_BLOCK
        if gif:
            self.writer = imageio.get_writer(path, mode="I", duration=1000.0 / fps, loop=0)
        else:
            self.writer = imageio.get_writer(path, fps=fps, macro_block_size=MACRO_BLOCK)

    def add(self, frame: Any) -> None:
        if frame is None:
            raise ConfigError("the env returned no frame from render(); it does not support rgb_array, drop --video.")
        frame = np.asarray(frame, dtype=np.uint8)
        if frame.ndim == 2:
            frame = np.repeat(frame[..., None], 3, axis=-1)
        h, w = frame.shape[:2]
        pad_h, pad_w = -h % self.block, -w % self.block
        if pad_h or pad_w:
            frame = np.pad(frame, ((0, pad_h), (0, pad_w), (0, 0)))
        self.writer.append_data(frame)

    def close(self) -> None:
        self.writer.close()


def _batch(obs: Any) -> Any:
    """One raw env observation -> a batch of 1 tensor (or dict of them)."""
    return map_obs(obs, lambda x: torch.as_tensor(np.asarray(x))[None])


def _env_action(action: torch.Tensor, space: gym.Space) -> Any:
    if isinstance(space, gym.spaces.Discrete):
        return int(action.item())
    a = action.numpy()
    if isinstance(space, gym.spaces.Box):
        return np.clip(a, space.low, space.high).astype(space.dtype)
    return a


def run_episode(
    env: gym.Env, model: ActorCritic, seed: int, deterministic: bool, video: VideoWriter | None
) -> tuple[float, int, dict[str, float]]:
    """One episode with a batch-of-1 policy; returns (return, length, flattened episode_extra_stats)."""
    obs, _ = env.reset(seed=seed)
    size = model.rnn_state_size
    rnn_state = torch.zeros(1, size) if size > 0 else None
    starts = torch.ones(1, dtype=torch.bool)
    total, length = 0.0, 0
    if video is not None:
        video.add(env.render())
    while True:
        with torch.inference_mode():
            res = model.act(_batch(obs), rnn_state, starts, deterministic=deterministic)
        obs, reward, terminated, truncated, info = env.step(_env_action(res.actions[0], env.action_space))
        total += float(reward)
        length += 1
        rnn_state, starts = res.rnn_state, torch.zeros(1, dtype=torch.bool)
        if video is not None:
            video.add(env.render())
        if terminated or truncated:
            extra = info.get(EXTRA_STATS_KEY) if isinstance(info, dict) else None
            return total, length, flatten_extra_stats(extra, lambda key, value: None) if extra else {}


def enjoy(cfg: EnjoyConfig) -> EvalResult:
    """Evaluate the experiment's checkpoint for ``cfg.num_episodes`` episodes."""
    _check(cfg)
    train_cfg = load_train_config(cfg)
    if cfg.max_episode_steps is not None:
        train_cfg = replace(train_cfg, environment__max_episode_steps=cfg.max_episode_steps)
    if cfg.env_kwargs:
        merged = {**train_cfg.environment.env_kwargs, **cfg.env_kwargs}
        train_cfg = replace(train_cfg, environment__env_kwargs=merged)
    state = load_state(cfg)
    torch.manual_seed(cfg.seed)
    env = make_env(train_cfg, env_index=0, render_mode="rgb_array" if cfg.video else None)
    video: VideoWriter | None = None
    try:
        model = build_model(train_cfg, env, state)
        env.action_space.seed(cfg.seed)
        log.info("evaluating %s (%s, policy version %s)", state.get("path"), train_cfg.env, state.get("policy_version"))
        if cfg.video:
            path = Path(cfg.video_path) if cfg.video_path else cfg.experiment_dir / "videos" / "enjoy.mp4"
            video = VideoWriter(path, cfg.video_fps)
        returns: list[float] = []
        lengths: list[int] = []
        extras: dict[str, list[float]] = {}
        for i in range(cfg.num_episodes):
            recording = video if i < cfg.max_video_episodes else None
            ret, length, extra = run_episode(env, model, cfg.seed + i, cfg.deterministic, recording)
            returns.append(ret)
            lengths.append(length)
            for key, value in extra.items():
                extras.setdefault(key, []).append(value)
            log.info("episode %d/%d: return %.3f, length %d", i + 1, cfg.num_episodes, ret, length)
    finally:
        env.close()
        if video is not None:
            video.close()
    arr = np.asarray(returns, dtype=np.float64)
    video_path = str(video.path) if video is not None else None
    extra_means = {key: float(np.mean(values)) for key, values in sorted(extras.items())}
    result = EvalResult(returns, lengths, float(arr.mean()), float(arr.std()), video_path, extra_means)
    if cfg.wandb:
        scalars = {"eval/episode_return_mean": result.mean_return, "eval/episode_length_mean": float(np.mean(lengths))}
        scalars.update({f"eval/{key}": value for key, value in extra_means.items()})
        step = int(state.get("env_steps", 0))
        recorded = None if video is None else video.path
        log_evaluation(train_cfg.logging, cfg.experiment, cfg.experiment_dir, step, scalars, recorded)
    return result


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
