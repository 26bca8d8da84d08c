"""An env whose difficulty follows training progress, reporting success and difficulty.

    relayrl train --env examples.progress_curriculum:Corridor --experiment corridor
    relayrl train --env examples.progress_curriculum:Corridor --env-kwargs '{"ramp_steps": 0}' --experiment corridor_flat
    python -m examples.progress_curriculum            # both, then prints the success rates

Corridor: the agent starts at the left end and must walk right to the goal before time runs out
(1.5x the corridor length). A random walk essentially never reaches the end of a 100-cell corridor
in 150 steps, so training flat on the full length never sees a reward; growing the corridor with
``approx_total_training_steps`` lets the agent learn "walk right" on short corridors first.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

import relayrl


class Corridor(gym.Env, relayrl.TrainingInfoInterface):
    """1-D corridor of ``length`` cells; reward 1 at the goal; ``length * 3 // 2`` steps allowed.

    env config: ``min_length`` (4), ``max_length`` (100), ``ramp_steps`` (200k: env steps over which the
    length grows linearly from min to max; 0 = always max).
    """

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        relayrl.TrainingInfoInterface.__init__(self)
        config = config or {}
        self.min_length = int(config.get("min_length", 4))
        self.max_length = int(config.get("max_length", 100))
        self.ramp_steps = int(config.get("ramp_steps", 200_000))
        self.length = self.next_length = self.min_length if self.ramp_steps > 0 else self.max_length
        self.observation_space = gym.spaces.Box(0.0, 1.0, (3,), np.float32)
        self.action_space = gym.spaces.Discrete(2)  # 0: left, 1: right
        self.pos = 0
        self.t = 0

    def set_training_info(self, training_info: dict[str, Any]) -> None:
        super().set_training_info(training_info)
        if self.ramp_steps > 0:
            progress = min(1.0, training_info["approx_total_training_steps"] / self.ramp_steps)
            self.next_length = round(self.min_length + progress * (self.max_length - self.min_length))

    @property
    def time_limit(self) -> int:
        return self.length * 3 // 2

    def _obs(self) -> np.ndarray:
        return np.array(
            [self.pos / self.max_length, self.length / self.max_length, self.t / self.time_limit], np.float32
        )

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.length = self.next_length  # the corridor only changes between episodes
        self.pos = 0
        self.t = 0
        return self._obs(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.t += 1
        self.pos = max(0, self.pos + (1 if int(action) == 1 else -1))
        reached = self.pos >= self.length
        truncated = not reached and self.t >= self.time_limit
        reward = 1.0 if reached else 0.0
        info: dict[str, Any] = {}
        if reached or truncated:
            info["episode_extra_stats"] = {"success": reached, "difficulty": {"length": self.length}}
        return self._obs(), reward, reached, truncated, info


def main() -> None:
    for name, kwargs in (("corridor", {}), ("corridor_flat", {"ramp_steps": 0})):
        cfg = relayrl.Config(
            env="examples.progress_curriculum:Corridor", experiment=name, seed=1, train_for_env_steps=300_000
        )
        cfg = relayrl.config.replace(cfg, environment__env_kwargs=kwargs)
        summary = relayrl.train(cfg)
        s = summary.stats
        print(
            f"{name}: success {s.get('episode_extra_stats/success/mean', float('nan')):.2f} at corridor length "
            f"{s.get('episode_extra_stats/difficulty/length/mean', float('nan')):.1f} "
            f"after {summary.env_steps:,} env steps ({summary.experiment_dir})"
        )


if __name__ == "__main__":
    main()
