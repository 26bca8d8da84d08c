"""A ``module:callable`` env factory that wraps its env in a curriculum (copy it for your env).

    relayrl train --env examples.curriculum_factory:make_env --experiment goal_curriculum
    relayrl train --env examples.curriculum_factory:make_env --env-kwargs '{"curriculum": "global"}'
    relayrl train --env examples.curriculum_factory:make_env --env-kwargs '{"curriculum": "progress"}'
    relayrl train --env examples.curriculum_factory:make_env --env-kwargs '{"curriculum": "none"}'
    python -m examples.curriculum_factory         # the same from Python, then prints the levels reached

Every worker process calls ``make_env`` once per env instance, so each instance gets its own
curriculum (a ``PerformanceCurriculum`` keeps its own level). The env is relayrl's built-in
``GoalDistanceEnv`` (walk right to a goal ``distance`` cells away); the curriculum moves the goal
through ``DISTANCES``. The level shows in TensorBoard as ``episode_extra_stats/curriculum/level``,
and a resumed run (same command, larger ``--train-for-env-steps``) continues at the levels reached.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

import relayrl
from relayrl.curriculum import GoalDistanceEnv

DISTANCES = [1, 2, 4, 6, 8, 12, 16]


def make_env(config: dict[str, Any] | None = None) -> gym.Env:
    """``config`` is ``--env-kwargs``: ``curriculum`` ("performance" (default), "global", "progress"
    or "none"); the other keys go to ``GoalDistanceEnv``."""
    config = dict(config or {})
    kind = config.pop("curriculum", "performance")
    if kind == "none":
        return GoalDistanceEnv({**config, "distance": DISTANCES[-1]})
    env = GoalDistanceEnv(config)
    if kind == "performance":
        # this instance's last 20 episodes at its level: up at 80 % success, down below 30 %,
        # and 1 episode in 10 replays an easier level
        return relayrl.PerformanceCurriculum(
            env,
            "set_distance",  # a method of the env, called with DISTANCES[level]
            DISTANCES,
            metric="success",
            window=20,
            promote_threshold=0.8,
            demote_threshold=0.3,
            replay_probability=0.1,
        )
    if kind == "global":
        # the success rate of all envs together (training_info["stats"]); every env moves at once
        return relayrl.GlobalPerformanceCurriculum(
            env, "set_distance", DISTANCES, metric="success", promote_threshold=0.8, min_episodes=100
        )
    if kind == "progress":
        # the goal moves from 1 to 16 cells over the first 100k env steps of the run
        # (set_distance rounds the float to a whole cell)
        return relayrl.ProgressCurriculum.linear(env, "set_distance", 1, DISTANCES[-1], 0, 100_000)
    raise ValueError(f"curriculum must be performance, global, progress or none, got {kind!r}")


def main() -> None:
    cfg = relayrl.Config(env="examples.curriculum_factory:make_env", experiment="goal_curriculum", seed=1)
    cfg = relayrl.config.replace(cfg, train_for_env_steps=100_000)
    summary = relayrl.train(cfg)
    s = summary.stats
    print(
        f"after {summary.env_steps:,} env steps: level mean {s.get('episode_extra_stats/curriculum/level/mean', 0):.2f} "
        f"(max {s.get('episode_extra_stats/curriculum/level/max', 0):.0f} of {len(DISTANCES) - 1}), "
        f"success {s.get('episode_extra_stats/success/mean', 0):.2f} ({summary.experiment_dir})"
    )


if __name__ == "__main__":
    main()
