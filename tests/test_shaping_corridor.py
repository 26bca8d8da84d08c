"""The PBT showcase env: its shaping weight comes from training info, its true objective is reported."""

from __future__ import annotations

from typing import Any

from examples.shaping_corridor import ShapingCorridor


def _walk(env: ShapingCorridor, actions: list[int]) -> tuple[list[float], dict[str, Any]]:
    rewards: list[float] = []
    info: dict[str, Any] = {}
    for a in actions:
        _, reward, terminated, truncated, info = env.step(a)
        rewards.append(float(reward))
        if terminated or truncated:
            break
    return rewards, info


def test_shaping_weight_comes_from_training_info() -> None:
    env = ShapingCorridor({"length": 6, "start": 2})
    env.reset(seed=0)
    assert _walk(env, [1])[0] == [0.0]  # no training info yet: no shaping
    env.set_training_info({"reward_shaping": {"closeness": 0.5}, "approx_total_training_steps": 0})
    env.reset(seed=0)
    rewards, _ = _walk(env, [1, 0])
    assert rewards == [0.5 * 3 / 5, 0.5 * 2 / 5]


def test_true_objective_reported_for_each_exit() -> None:
    env = ShapingCorridor({"length": 6, "start": 2, "decoy": 0.5, "max_steps": 4})
    env.set_training_info({"reward_shaping": {"closeness": 10.0}, "approx_total_training_steps": 0})
    env.reset(seed=0)
    rewards, info = _walk(env, [0, 0])
    assert info["episode_extra_stats"]["true_objective"] == 0.5 and rewards[-1] == 0.5
    env.reset(seed=0)
    rewards, info = _walk(env, [1, 1, 1])
    stats = info["episode_extra_stats"]
    assert stats["true_objective"] == 1.0 and stats["goal"] == 1.0 and rewards[-1] == 1.0
    assert stats["shaping_return"] == 10.0 * (3 / 5 + 4 / 5)
    env.reset(seed=0)
    rewards, info = _walk(env, [1, 0, 1, 0])  # loiters until the time limit: shaped reward, no objective
    assert info["episode_extra_stats"]["true_objective"] == 0.0 and sum(rewards) > 1.0
