"""Running a trained policy: episodes with a batch-of-1 policy, their returns and extra stats, and an
optional video. ``relayrl enjoy`` (cli/enjoy.py) and the benchmark suites evaluate through here."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import gymnasium as gym
import imageio.v2 as imageio
import numpy as np
import torch

from relayrl.config import Config, ConfigError
from relayrl.envs.episode_stats import EXTRA_STATS_KEY, flatten_extra_stats
from relayrl.envs.info_interface import find_training_info_interface
from relayrl.models import ActorCritic, build_actor_critic
from relayrl.utils.obs_tree import map_obs

MACRO_BLOCK = 16


@dataclasses.dataclass
class EvalResult:
    """Episodes of one evaluation."""

    returns: list[float]
    lengths: list[int]
    mean_return: float
    std_return: float
    video_path: str | None
    extra_stats: dict[str, float] = dataclasses.field(default_factory=dict)
    """Mean over episodes of each ``episode_extra_stats`` key the env reported (e.g. ``success``)."""
    checkpoint: str | None = None
    """The checkpoint file evaluated (set by ``relayrl enjoy``)."""
    policy_id: int | None = None
    """The policy of that checkpoint that was evaluated (set by ``relayrl enjoy``)."""
    episode_extras: list[dict[str, float]] = dataclasses.field(default_factory=list)
    """Each episode's ``episode_extra_stats`` (flattened; multi-agent matches: the focus agent's)."""


def policy_from_checkpoint(train_cfg: Config, env: gym.Env, data: dict[str, Any], policy_id: int = 0) -> ActorCritic:
    """The model of policy ``policy_id`` in checkpoint ``data`` (``trainer/checkpointer.py`` format), in
    eval mode; ConfigError when it does not fit the experiment's model."""
    return policy_from_spaces(train_cfg, env.observation_space, env.action_space, data, policy_id)


def policy_from_spaces(
    train_cfg: Config, obs_space: gym.Space, action_space: gym.Space, data: dict[str, Any], policy_id: int = 0
) -> ActorCritic:
    """``policy_from_checkpoint`` for given spaces (a multi-agent env's agents' spaces, say)."""
    model = build_actor_critic(obs_space, action_space, train_cfg.model)
    try:
        model.load_state_dict(data["policies"][policy_id]["learner"]["model"])
    except (RuntimeError, KeyError) as exc:
        raise ConfigError(f"checkpoint {data.get('path')} does not match the experiment's model ({exc}).") from exc
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


def env_action(action: torch.Tensor, space: gym.Space) -> Any:
    """A sampled action as the env takes it (Box actions clipped to the bounds, as in training)."""
    if isinstance(space, gym.spaces.Discrete):
        return int(action.item())
    a = action.numpy()
    if isinstance(space, gym.spaces.Box):
        return np.clip(a, space.low, space.high).astype(space.dtype)
    return a


def deliver_training_info(env: Any, training_info: dict[str, Any] | None) -> None:
    """Hand ``training_info`` (e.g. ``info_schema.evaluation_info``) to the first object in ``env``'s
    chain that implements the training-info interface (a copy: the env may keep it); None: nothing."""
    target = None if training_info is None else find_training_info_interface(env)
    if target is not None and training_info is not None:
        target.set_training_info(dict(training_info))


def run_episode(
    env: gym.Env,
    model: ActorCritic,
    seed: int,
    deterministic: bool,
    video: VideoWriter | None,
    training_info: dict[str, Any] | None = None,
) -> tuple[float, int, dict[str, float]]:
    """One episode with a batch-of-1 policy; returns (return, length, flattened episode_extra_stats).
    ``training_info`` is delivered right before the reset (when given)."""
    deliver_training_info(env, training_info)
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
        obs, reward, terminated, truncated, info = env.step(env_action(res.actions[0], env.action_space))
        total += float(reward)
        length += 1
        rnn_state, starts = res.rnn_state, torch.zeros(1, dtype=torch.bool)
        if video is not None:
            video.add(env.render())
        if terminated or truncated:
            extra = info.get(EXTRA_STATS_KEY) if isinstance(info, dict) else None
            return total, length, flatten_extra_stats(extra, lambda key, value: None) if extra else {}


def evaluate(
    env: gym.Env,
    model: ActorCritic,
    num_episodes: int,
    seed: int,
    deterministic: bool = True,
    video: VideoWriter | None = None,
    max_video_episodes: int = 1,
    on_episode: Any = None,
    training_info: dict[str, Any] | None = None,
) -> EvalResult:
    """``num_episodes`` episodes (episode i reset with ``seed + i``); the first ``max_video_episodes``
    recorded into ``video`` when given. ``on_episode(i, return, length)`` is called after each;
    ``training_info`` is delivered to the env before every reset (``info_schema.evaluation_info``)."""
    returns: list[float] = []
    lengths: list[int] = []
    extras: dict[str, list[float]] = {}
    for i in range(num_episodes):
        recording = video if i < max_video_episodes else None
        ret, length, extra = run_episode(env, model, seed + i, deterministic, recording, training_info)
        returns.append(ret)
        lengths.append(length)
        for key, value in extra.items():
            extras.setdefault(key, []).append(value)
        if on_episode is not None:
            on_episode(i, ret, length)
    arr = np.asarray(returns, dtype=np.float64)
    video_path = str(video.path) if video is not None else None
    extra_means = {key: float(np.mean(values)) for key, values in sorted(extras.items())}
    return EvalResult(returns, lengths, float(arr.mean()), float(arr.std()), video_path, extra_means)
