"""relayrl.curriculum: the three curricula (unit), state restore across a resume (end to end)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from conftest import fast_config
from envs_for_tests import CURRICULUM_DISTANCES

import relayrl
from relayrl import GlobalPerformanceCurriculum, PerformanceCurriculum, ProgressCurriculum, TrainingInfoInterface
from relayrl.config import Config
from relayrl.curriculum import Curriculum, GoalDistanceEnv, WorkerCurricula, batch_curricula, find_curriculum
from relayrl.envs import ListEnvBatch, VectorEnvBatch
from relayrl.experiment import Experiment
from relayrl.trainer import checkpointer as checkpoints


class ScriptedEnv(gym.Env):
    """One-step episodes whose success / reward the test sets; logs setter, reset and step calls."""

    def __init__(self, horizon: int = 1) -> None:
        self.observation_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.horizon = horizon
        self.difficulty: Any = None
        self.success = True
        self.reward = 1.0
        self.events: list[str] = []
        self.reported: dict[str, Any] | None = None
        self.t = 0

    def set_difficulty(self, value: Any) -> None:
        self.events.append(f"set {value}")
        self.difficulty = value

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.events.append("reset")
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.events.append("step")
        self.t += 1
        info: dict[str, Any] = {}
        done = self.t >= self.horizon
        if done:
            success = self.success(self.difficulty) if callable(self.success) else self.success
            self.reported = {"success": success, "own": {"x": 7}}
            info["episode_extra_stats"] = self.reported
        return np.zeros(1, np.float32), self.reward if done else 0.0, done, False, info


def play(cur: gym.Env, episodes: int = 1) -> list[dict[str, Any]]:
    """Play whole episodes; returns each episode's episode_extra_stats as the curriculum reported it."""
    out = []
    for _ in range(episodes):
        cur.reset()
        while True:
            _, _, term, trunc, info = cur.step(0)
            if term or trunc:
                out.append(info["episode_extra_stats"])
                break
    return out


def perf(env: gym.Env | None = None, **kw: Any) -> PerformanceCurriculum:
    kw = {"levels": 4, "window": 3, "promote_threshold": 1.0, **kw}
    return PerformanceCurriculum(env or ScriptedEnv(), "set_difficulty", **kw)


# ----- progress -----


def test_progress_thresholds_and_no_info_keeps_start_level():
    cur = ProgressCurriculum(GoalDistanceEnv(), "set_distance", thresholds=[100, 300], levels=[1, 2, 4])
    cur.reset()
    assert cur.unwrapped.distance == 1 and cur.level == 0  # no training info yet
    for steps, level, distance in [(99, 0, 1), (100, 1, 2), (299, 1, 2), (300, 2, 4), (10**9, 2, 4)]:
        cur.set_training_info({"approx_total_training_steps": steps})
        cur.reset()
        assert (cur.level, cur.unwrapped.distance) == (level, distance)
    with pytest.raises(ValueError, match="increasing"):
        ProgressCurriculum(GoalDistanceEnv(), "set_distance", thresholds=[5, 5])
    with pytest.raises(ValueError, match="3 levels"):
        ProgressCurriculum(GoalDistanceEnv(), "set_distance", thresholds=[5, 9], levels=4)


def test_progress_linear_interpolates_a_float():
    seen: list[float] = []
    cur = ProgressCurriculum.linear(ScriptedEnv(), lambda env, v: seen.append(v), 1.0, 9.0, 100, 500)
    assert [cur.level_at(s) for s in (0, 100, 300, 500, 900)] == [1.0, 1.0, 5.0, 9.0, 9.0]
    cur.set_training_info({"approx_total_training_steps": 200})
    [stats] = play(cur)
    assert seen == [3.0] and stats["curriculum/level"] == 3.0


# ----- the base wrapper -----


def test_levels_change_only_at_resets_and_setter_runs_before_the_inner_reset():
    env = ScriptedEnv(horizon=3)
    cur = ProgressCurriculum(env, "set_difficulty", thresholds=[10], levels=["easy", "hard"])
    cur.reset()
    cur.step(0)
    cur.set_training_info({"approx_total_training_steps": 50})  # mid-episode
    assert env.difficulty == "easy"
    _, _, _, _, info = cur.step(0)
    assert "episode_extra_stats" not in info  # only on the last step
    _, _, done, _, info = cur.step(0)
    assert done and env.difficulty == "easy" and info["episode_extra_stats"]["curriculum/level"] == 0
    cur.reset()
    assert env.difficulty == "hard"
    assert env.events == ["set easy", "reset", "step", "step", "step", "set hard", "reset"]
    cur.reset()  # unchanged level: the setter is not called again
    assert env.events[-3:] == ["set hard", "reset", "reset"]


def test_level_is_merged_into_a_copy_of_the_envs_stats():
    env = ScriptedEnv()
    cur = perf(env)
    [stats] = play(cur)
    assert stats == {"success": True, "own": {"x": 7}, "curriculum/level": 0}
    assert env.reported == {"success": True, "own": {"x": 7}}  # the env's dict is not mutated

    class Silent(ScriptedEnv):
        def step(self, action):
            obs, r, term, trunc, _ = super().step(action)
            return obs, r, term, trunc, {}

    named = PerformanceCurriculum(Silent(), "set_difficulty", 3, metric="reward", name="cur")
    assert play(named) == [{"cur/level": 0}]


def test_setter_as_callable_method_name_and_list_levels():
    calls: list[tuple[Any, Any]] = []
    inner = ScriptedEnv()
    wrapped = gym.wrappers.PassiveEnvChecker(inner)
    settings = [{"size": 5}, {"size": 8}]
    cur = ProgressCurriculum(wrapped, lambda env, v: calls.append((env, v)), [10], levels=settings)
    cur.reset()
    assert calls == [(wrapped, {"size": 5})]  # the env passed to the curriculum, and the setting
    by_name = ProgressCurriculum(wrapped, "set_difficulty", [10], levels=settings, start_level=1)
    by_name.reset()
    assert inner.difficulty == {"size": 8}  # called on the unwrapped env
    with pytest.raises(ValueError, match="no_such_method"):
        ProgressCurriculum(wrapped, "no_such_method", [10])


def test_training_info_is_passed_on_to_an_inner_implementer():
    class Inner(ScriptedEnv, TrainingInfoInterface):
        def __init__(self):
            ScriptedEnv.__init__(self)
            TrainingInfoInterface.__init__(self)

    inner = Inner()
    cur = perf(inner)
    assert relayrl.find_training_info_interface(cur) is cur
    cur.set_training_info({"approx_total_training_steps": 7})
    assert inner.training_info == {"approx_total_training_steps": 7}


# ----- per-instance performance -----


def test_promotion_after_n_successes_and_window_reset():
    env = ScriptedEnv()
    cur = perf(env)
    play(cur, 3)
    assert cur.level == 0 and list(cur.values) == [1.0, 1.0, 1.0]
    cur.reset()  # decided at the reset that follows the 3rd success
    assert cur.level == 1 and env.difficulty == 1 and not cur.values and cur.episodes_at_level == 0
    env.success = False
    play(cur, 10)
    assert cur.level == 1  # no demote threshold: stays
    env.success = True
    play(cur, 2)
    assert cur.level == 1  # the window holds the last 3 at this level: 2 of 3 succeeded
    play(cur, 2)
    assert cur.level == 2


def test_demotion_and_min_episodes():
    env = ScriptedEnv()
    cur = perf(env, demote_threshold=0.5, min_episodes=5, start_level=2)
    env.success = False
    play(cur, 5)
    assert cur.level == 2  # 5 episodes played, decided at the next reset
    play(cur, 1)
    assert cur.level == 1 and env.difficulty == 1
    env.success = True
    play(cur, 4)
    assert cur.level == 1  # 3 successes fill the window (3), but a decision needs 5 episodes at the level
    play(cur, 1)
    assert cur.level == 2
    cur = perf(env, start_level=3)
    play(cur, 10)
    assert cur.level == 3  # the top level stays


def test_reward_metric_and_missing_metric_is_not_counted(caplog):
    env = ScriptedEnv()
    env.reward = 2.5
    cur = perf(env, metric="reward", promote_threshold=2.0)
    play(cur, 4)
    assert cur.level == 1
    cur = perf(env, metric="no_such_key")
    with caplog.at_level("WARNING", logger="relayrl.curriculum"):
        play(cur, 5)
    assert cur.episodes_at_level == 0 and caplog.text.count("no_such_key") == 1


def test_replay_frequency_is_seeded_and_replays_are_not_counted():
    def run(seed: int) -> tuple[PerformanceCurriculum, list[dict[str, Any]]]:
        env = ScriptedEnv()
        env.success = lambda difficulty: difficulty < 3  # only replays (lower levels) succeed
        cur = perf(env, levels=5, start_level=3, promote_threshold=0.5, replay_probability=0.3, seed=seed)
        return cur, play(cur, 3000)

    cur, stats = run(seed=5)
    replays = [s for s in stats if s["curriculum/replay"] == 1.0]
    assert 0.27 < len(replays) / len(stats) < 0.33
    levels = [s["curriculum/level"] for s in replays]
    assert set(levels) == {0, 1, 2} and all(abs(levels.count(k) / len(levels) - 1 / 3) < 0.05 for k in range(3))
    assert all(s["curriculum/level"] == 3 and not s["success"] for s in stats if s["curriculum/replay"] == 0.0)
    assert cur.level == 3 and set(cur.values) == {0.0}  # the successful replays never entered the window
    assert cur.episodes_at_level == len(stats) - len(replays)
    assert run(seed=5)[1] == stats and run(seed=6)[1] != stats


# ----- global performance -----


def _stats(episodes: int, success: float, reward: float = 0.0) -> dict[str, Any]:
    return {
        "episodes": episodes,
        "reward": {"mean": reward},
        "episode_extra_stats": {"success": {"mean": success, "min": 0.0, "max": 1.0, "count": 10}},
    }


def test_global_promotes_on_stats_and_waits_for_fresh_episodes():
    envs = [ScriptedEnv(), ScriptedEnv()]
    curs = [
        GlobalPerformanceCurriculum(
            e, "set_difficulty", 3, promote_threshold=0.8, demote_threshold=0.2, min_episodes=10
        )
        for e in envs
    ]

    def step(stats: dict[str, Any]) -> list[int | float]:
        for cur in curs:
            cur.set_training_info({"approx_total_training_steps": 0, "stats": stats})
            play(cur)
        return [cur.level for cur in curs]

    assert step({"episodes": 0, "episode_extra_stats": {}}) == [0, 0]
    assert step(_stats(5, 0.9)) == [0, 0]  # fewer than min_episodes since the start
    assert step(_stats(10, 0.9)) == [1, 1]
    assert step(_stats(10, 0.9)) == [1, 1]  # the same (stale) stats do not promote again
    assert step(_stats(19, 0.95)) == [1, 1]
    assert step(_stats(20, 0.95)) == [2, 2]
    assert step(_stats(40, 0.95)) == [2, 2]  # top level
    assert step(_stats(41, 0.1)) == [1, 1]  # demoted
    assert [e.difficulty for e in envs] == [1, 1]
    reward = GlobalPerformanceCurriculum(ScriptedEnv(), "set_difficulty", 3, metric="reward", promote_threshold=5)
    reward.set_training_info({"stats": _stats(0, 0.0)})
    play(reward)
    reward.set_training_info({"stats": _stats(100, 0.0, reward=6.0)})
    play(reward)
    assert reward.level == 1


def test_global_after_restore_waits_for_the_new_trainers_episodes():
    cur = GlobalPerformanceCurriculum(ScriptedEnv(), "set_difficulty", 4, min_episodes=10)
    cur.set_state({"level": 2})
    cur.set_training_info({"stats": _stats(3, 1.0)})  # a resumed trainer counts episodes from 0
    play(cur)
    assert cur.level == 2
    cur.set_training_info({"stats": _stats(12, 1.0)})
    play(cur)
    assert cur.level == 2
    cur.set_training_info({"stats": _stats(13, 1.0)})
    play(cur)
    assert cur.level == 3


# ----- state -----


def test_state_round_trip_is_picklable_and_continues_identically():
    a = perf(levels=20, window=5, replay_probability=0.5, seed=1)
    play(a, 40)
    state = pickle.loads(pickle.dumps(a.get_state()))
    assert state["level"] >= 1
    b = perf(levels=20, window=5, replay_probability=0.5, seed=99)
    b.set_state(state)
    assert b.get_state() == state
    assert play(a, 30) == play(b, 30)
    clamped = perf(levels=2)
    clamped.set_state({"level": 5, "values": [1.0]})
    assert clamped.level == 1 and not clamped.values  # the window of another level is dropped


def test_find_curriculum_and_worker_restore_for_list_and_vector_batches():
    class Outer(gym.Wrapper):
        pass

    cur = perf()
    assert find_curriculum(Outer(cur)) is cur and find_curriculum(ScriptedEnv()) is None
    assert isinstance(cur, Curriculum)
    batch = ListEnvBatch([Outer(perf()), ScriptedEnv(), perf()])
    assert [c is not None for c in batch_curricula(batch)] == [True, False, True]
    worker = WorkerCurricula(batch, first_index=6, interval=3600.0)
    assert worker.restore({6: {"level": 2}, 7: {"level": 3}, 8: {"level": 1}, 99: {"level": 3}}) == 2
    batch.reset()
    assert [e.unwrapped.difficulty for e in batch.envs()] == [2, None, 1]
    first = worker.maybe_collect()
    assert first is not None and {k: v["level"] for k, v in first.items()} == {6: 2, 8: 1}
    assert worker.maybe_collect() is None  # rate-limited
    vec = gym.vector.SyncVectorEnv([lambda: perf(), lambda: ScriptedEnv(), lambda: perf()])
    vbatch = VectorEnvBatch(vec)
    assert [c is not None for c in batch_curricula(vbatch)] == [True, False, True]
    vworker = WorkerCurricula(vbatch, first_index=0)
    assert vworker.restore({0: {"level": 3}, 2: {"level": 1}}) == 2
    vbatch.reset()
    assert [e.unwrapped.difficulty for e in vec.envs] == [3, None, 1]
    assert not WorkerCurricula(ListEnvBatch([ScriptedEnv()]), 0).enabled


# ----- end to end -----


def _cfg(tmp_path: Path, steps: int, serial: bool) -> Config:
    """This module's runs, into ``tmp_path/runs``: two workers, seed 2, rollouts of 32 steps, the goal
    curriculum env logging to ``tmp_path/records``."""
    return fast_config(
        tmp_path / "runs",
        "envs_for_tests:make_goal_curriculum_env",
        seed=2,
        train_for_env_steps=steps,
        sampling__backend=("serial" if serial else "local"),
        sampling__num_workers=2,
        sampling__rollout_length=32,
        environment__env_kwargs={"log_dir": str(tmp_path / "records")},
    )


def _first_levels(log_dir: Path) -> list[int]:
    records = [json.loads(p.read_text()) for p in log_dir.glob("*.json")]
    return sorted(CURRICULUM_DISTANCES.index(r["first_distance"]) for r in records)


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "serial", [pytest.param(False, marks=pytest.mark.multiprocess), True], ids=["2-workers", "serial"]
)
def test_resumed_run_continues_at_the_saved_levels(tmp_path, serial):
    first = relayrl.train(_cfg(tmp_path, 12_288, serial))
    assert first.stats["episode_extra_stats/curriculum/level/max"] >= 1
    assert _first_levels(tmp_path / "records") == [0] * 8  # a fresh run starts every env at level 0
    saved = checkpoints.load_latest(Experiment(tmp_path / "runs", "e"))
    assert saved is not None
    levels = {int(i): s["level"] for i, s in saved["curriculum_states"].items()}
    assert sorted(levels) == list(range(8)) and max(levels.values()) >= 1
    for p in (tmp_path / "records").glob("*.json"):
        p.unlink()
    second = relayrl.train(_cfg(tmp_path, 14_336, serial))
    assert second.env_steps > first.env_steps
    # every env's first episode after the resume is at its saved level (a run that restored nothing
    # would start all of them at 0, and the saved levels include a promotion)
    assert _first_levels(tmp_path / "records") == sorted(levels.values())
