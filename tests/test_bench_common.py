"""The shared instruments of ``benchmarks.compare``'s runners (benchmarks/peer_runners/bench_common.py)."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks" / "peer_runners"))
import bench_common as bc  # noqa: E402


def _row(t: float, uid: str, score: float, length: int, steps: int) -> str:
    return f"{t:.6f}\t{uid}\t{score:.4f}\t{length}\t{steps}\n"


def test_target_watch_stops_on_window_mean(tmp_path):
    hits = []
    watch = bc.TargetWatch(str(tmp_path), target=0.9, window=4, on_hit=lambda: hits.append(1), interval=60)
    a, b = tmp_path / "a.tsv", tmp_path / "b.tsv"
    a.write_text(_row(1, "a", 1, 10, 10) + _row(2, "a", float("nan"), 0, 42))  # progress rows are no episodes
    b.write_text(_row(1.5, "b", 0, 10, 10))
    assert [s for _, s in watch._poll()] == [1.0, 0.0]
    assert watch._poll() == []  # only what is new is read
    with open(a, "a") as f:
        f.write(_row(3, "a", 1, 10, 20) + "4.0\ta\t1.0")  # the unfinished line waits for the next poll
    assert [s for _, s in watch._poll()] == [1.0]
    with open(a, "a") as f:
        f.write("000\t10\t30\n")
    assert [s for _, s in watch._poll()] == [1.0]

    # the thread: mean of the last 4 episodes reaches 0.9 only once the 0 leaves the window
    watch = bc.TargetWatch(str(tmp_path), target=0.9, window=4, on_hit=lambda: hits.append(1), interval=0.01)
    watch.start()
    assert not watch.hit.wait(0.3) and not hits  # scores 1 0 1 1: mean 0.75
    with open(b, "a") as f:
        f.write(_row(5, "b", 1, 10, 20))
    assert not watch.hit.wait(0.3)  # 0 1 1 1
    with open(b, "a") as f:
        f.write(_row(6, "b", 1, 10, 30))
    assert watch.hit.wait(5) and hits == [1]
    watch.join(1)
    assert not watch.is_alive()


def test_watch_target_needs_the_request(tmp_path, monkeypatch):
    monkeypatch.setenv(bc.EPISODE_DIR_VAR, str(tmp_path))
    assert bc.watch_target({"target": 0.9, "window": 10}, lambda: None) is None
    assert bc.watch_target({"stop_at_target": True, "target": None, "window": 10}, lambda: None) is None
    watch = bc.watch_target({"stop_at_target": True, "target": 0.9, "window": 10}, lambda: None)
    assert isinstance(watch, bc.TargetWatch) and isinstance(watch, threading.Thread)
    watch.hit.set()


def test_minigrid_env_logs_success(tmp_path, monkeypatch):
    pytest.importorskip("minigrid")
    monkeypatch.setenv(bc.EPISODE_DIR_VAR, str(tmp_path))
    env = bc.make_minigrid()
    obs, _ = env.reset(seed=0)
    assert env.observation_space.shape == (3, 7, 7) and obs.dtype == np.float32
    assert obs.shape == (3, 7, 7) and 0.0 <= obs.min() and obs.max() <= 1.0 and obs.max() > 0
    done = False
    while not done:  # 250 steps (DoorKey-5x5) without reaching the goal: a failure, scored 0
        _, reward, terminated, truncated, _ = env.step(6)  # "done" never moves the agent
        done = terminated or truncated
    env.close()
    rows = bc.read_episodes(str(tmp_path))
    episodes = [r for r in rows if r[3] > 0]
    assert len(episodes) == 1 and episodes[0][2] == 0.0 and episodes[0][3] == 250


def test_episode_log_success_scores_positive_returns(tmp_path):
    import gymnasium as gym

    class OneStep(gym.Env):
        observation_space = gym.spaces.Discrete(1)
        action_space = gym.spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):
            return 0, {}

        def step(self, action):
            return 0, 0.25 * action, True, False, {}

    env = bc.EpisodeLog(OneStep(), directory=str(tmp_path), success=True)
    for action in (1, 0, 1):
        env.reset()
        env.step(action)
    env.close()
    assert [r[2] for r in bc.read_episodes(str(tmp_path))] == [1.0, 0.0, 1.0]
