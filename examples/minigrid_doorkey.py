"""MiniGrid door-and-key with a curriculum over grid sizes (the curriculum showcase's env).

    relayrl train --env examples.minigrid_doorkey:make_env --env-kwargs '{"curriculum": "performance"}'
    relayrl train --env examples.minigrid_doorkey:make_env --env-kwargs '{"curriculum": "none"}'

``DoorKeySizes`` holds one MiniGrid DoorKey env per size (5, 6, 8, 16 by default) and plays the
one selected with ``set_size`` at the next reset; all sizes share the 7x7 egocentric view, so one
policy fits all. Each episode reports ``success`` (the goal was reached) and ``size``.
``--env-kwargs`` key ``curriculum``: ``none`` (always the largest size), ``progress`` (size by
training progress), ``performance`` (each instance's own success), ``global`` (all envs' success).
``"eval": true`` plays the largest size without a curriculum (for ``relayrl enjoy``).
Needs ``pip install minigrid`` (the ``.[minigrid]`` extra).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

import relayrl
from relayrl.config import ConfigError
from relayrl.envs.wrappers import MiniGridObsWrapper

SIZES = (5, 6, 8, 16)


class DoorKeySizes(gym.Env):
    """DoorKey at several grid sizes behind one env; ``set_size`` takes effect at the next reset."""

    def __init__(self, sizes: tuple[int, ...] = SIZES, size: int | None = None) -> None:
        try:
            import minigrid  # noqa: F401  (registers the MiniGrid ids)
        except ImportError as exc:
            raise ConfigError("this example needs MiniGrid: pip install minigrid") from exc
        self.envs = {s: MiniGridObsWrapper(gym.make(f"MiniGrid-DoorKey-{s}x{s}-v0")) for s in sizes}
        self.size = size if size is not None else sizes[0]
        self.largest = max(sizes)
        first = self.envs[self.size]
        self.observation_space = first.observation_space
        self.action_space = first.action_space
        self._seeded = False

    def set_size(self, size: int) -> None:
        self.size = int(size)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        if seed is not None and not self._seeded:
            for i, env in enumerate(self.envs.values()):
                env.reset(seed=seed + 7919 * i)
            self._seeded = True
        return self.envs[self.size].reset()

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.envs[self.size].step(action)
        if terminated or truncated:
            info = dict(info)
            stats = {"success": float(reward > 0), "size": self.size}
            if self.size == self.largest:
                # only episodes on the full-size task: its success rate, comparable across all arms
                stats["success_largest"] = stats["success"]
            info["episode_extra_stats"] = stats
        return obs, reward, terminated, truncated, info

    def close(self) -> None:
        for env in self.envs.values():
            env.close()


def make_env(config: dict[str, Any] | None = None) -> gym.Env:
    config = dict(config or {})
    sizes = tuple(config.get("sizes", SIZES))
    kind = config.get("curriculum", "performance")
    if config.get("eval") or kind == "none":
        return DoorKeySizes(sizes, size=sizes[-1])
    env = DoorKeySizes(sizes)
    if kind == "progress":
        # one size up every `progress_step` env steps
        step = int(config.get("progress_step", 500_000))
        return relayrl.ProgressCurriculum(env, "set_size", [step * (i + 1) for i in range(len(sizes) - 1)], list(sizes))
    if kind == "performance":
        return relayrl.PerformanceCurriculum(
            env,
            "set_size",
            list(sizes),
            metric="success",
            window=20,
            promote_threshold=0.8,
            demote_threshold=0.2,
            replay_probability=0.1,
        )
    if kind == "global":
        return relayrl.GlobalPerformanceCurriculum(
            env, "set_size", list(sizes), metric="success", promote_threshold=0.8, min_episodes=100
        )
    raise ConfigError(f"curriculum {kind!r}: choose none, progress, performance or global")
