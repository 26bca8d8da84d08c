"""Small envs for the tests, importable by spawned worker processes as ``envs_for_tests:<name>``."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import gymnasium as gym
import numpy as np


class CountingEnv(gym.Env):
    """Obs = [t / horizon]; reward 1 per step; truncated (time limit) after ``horizon`` steps; action ignored."""

    resets_in_process = 0

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        config = config or {}
        self.horizon = int(config.get("horizon", 5))
        self.fail_after = config.get("fail_after")  # raise in step after this many steps (per env)
        self.exit_after = config.get("exit_after")  # os._exit in step after this many steps
        self.raise_every = config.get("raise_every")  # raise in every raise_every-th step (per env)
        self.kill_after = config.get("kill_after")  # SIGKILL its own process after this many steps ...
        self.kill_once_file = config.get("kill_once_file")  # ... once per run (this file marks it done)
        self.nan_after = config.get("nan_after")  # observations become NaN after this many steps
        self.bad_shape = bool(config.get("bad_shape", False))  # observations of the wrong shape
        self.reset_fails_after = config.get("reset_fails_after")  # every reset after this many raises
        self.close_sleep = float(config.get("close_sleep", 0.0))  # close() of a stepped env takes this long
        self.observation_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.t = 0
        self.total = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        CountingEnv.resets_in_process += 1  # shared by all instances: a recreated env keeps failing
        if self.reset_fails_after is not None and CountingEnv.resets_in_process > self.reset_fails_after:
            raise RuntimeError("injected failure in CountingEnv.reset")
        return np.array([0.0], np.float32), {}

    def _claim_kill(self) -> bool:
        """True for exactly one process per run: creating the marker file is atomic (O_EXCL), so two
        workers that pass ``kill_after`` at the same moment cannot both die."""
        try:
            os.close(os.open(self.kill_once_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return False
        return True

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.t += 1
        self.total += 1
        if self.fail_after is not None and self.total > self.fail_after:
            raise RuntimeError("injected failure in CountingEnv.step")
        if self.raise_every is not None and self.total % self.raise_every == 0:
            raise RuntimeError("injected periodic failure in CountingEnv.step")
        if self.exit_after is not None and self.total > self.exit_after:
            os._exit(3)
        if self.kill_after is not None and self.total > self.kill_after and self._claim_kill():
            os.kill(os.getpid(), signal.SIGKILL)
        obs = np.array([self.t / self.horizon], np.float32)
        if self.nan_after is not None and self.total > self.nan_after:
            obs[0] = np.nan
        if self.bad_shape:
            obs = np.zeros(3, np.float32)
        return obs, 1.0, False, self.t >= self.horizon, {}

    def close(self) -> None:
        if self.total > 0:  # not the trainer's space probe, which never steps
            time.sleep(self.close_sleep)
        super().close()


class InfoFailingEnv(CountingEnv):
    """Implements set_training_info and raises in it after ``info_fails_after`` deliveries."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self.info_fails_after = int((config or {}).get("info_fails_after", 3))
        self.deliveries = 0

    def set_training_info(self, training_info: dict[str, Any]) -> None:
        self.deliveries += 1
        if self.deliveries > self.info_fails_after:
            raise ValueError("injected failure in set_training_info")


def make_info_failing_env(config: dict[str, Any] | None = None) -> gym.Env:
    return InfoFailingEnv(config)


def make_counting_env(config: dict[str, Any] | None = None) -> gym.Env:
    return CountingEnv(config)


# ----- training info / episode stats probes -----

import json  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

from relayrl import TrainingInfoInterface  # noqa: E402


class EpisodeEnv(gym.Env):
    """Episodes of ``horizon`` steps (terminated), reporting nested, boolean and bad extra stats."""

    def __init__(self, horizon: int = 8) -> None:
        self.horizon = horizon
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.t = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2, np.float32), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.t += 1
        done = self.t >= self.horizon
        info: dict[str, Any] = {}
        if done:
            info["episode_extra_stats"] = {
                "success": bool(action == 1),
                "nested": {"a": {"b": np.float32(0.5)}},
                "zero_d": np.array(2.0),
                "bad": "not a number",
            }
        return np.full(2, self.t / self.horizon, np.float32), float(action), done, False, info


class Recorder(gym.Wrapper, TrainingInfoInterface):
    """Implements the interface; records every delivery and, per episode, the values seen by step()."""

    def __init__(self, env: gym.Env, log_dir: str) -> None:
        gym.Wrapper.__init__(self, env)
        TrainingInfoInterface.__init__(self)
        self.log_dir = log_dir
        self.name = uuid.uuid4().hex
        self.deliveries: list[dict[str, Any]] = []
        self.episodes: list[dict[str, Any]] = []

    def set_training_info(self, training_info: dict[str, Any]) -> None:
        super().set_training_info(training_info)
        self.deliveries.append(
            {k: v for k, v in training_info.items() if k != "stats"} | {"has_stats": "stats" in training_info}
        )

    def reset(self, **kwargs: Any) -> Any:
        self.episodes.append({"info_at_reset": dict(self.training_info) != {}, "seen": []})
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> Any:
        self.episodes[-1]["seen"].append(self.training_info.get("approx_total_training_steps"))
        return self.env.step(action)

    def close(self) -> None:
        Path(self.log_dir).mkdir(parents=True, exist_ok=True)
        record = {"deliveries": self.deliveries, "episodes": self.episodes}
        Path(self.log_dir, f"{self.name}.json").write_text(json.dumps(record, default=float))
        super().close()


def make_recorded_env(config: dict[str, Any]) -> gym.Env:
    """Outer(Recorder(Inner(EpisodeEnv))): the interface sits on the middle of three wrappers."""
    inner = gym.wrappers.RecordEpisodeStatistics(EpisodeEnv(int(config.get("horizon", 8))))
    return gym.wrappers.PassiveEnvChecker(Recorder(inner, config["log_dir"]))


def make_mixed_vector_env(config: dict[str, Any], num_envs: int) -> gym.vector.VectorEnv:
    """A SyncVectorEnv whose even sub-envs implement the interface and odd ones do not."""
    horizon = int(config.get("horizon", 8))

    def make(j: int) -> Any:
        if j % 2 == 0:
            return lambda: Recorder(EpisodeEnv(horizon), config["log_dir"])
        return lambda: EpisodeEnv(horizon)

    return gym.vector.SyncVectorEnv([make(j) for j in range(num_envs)])


def extra_training_info(view: Any) -> dict[str, Any]:
    return {"my_key": 42, "seen_version": view.policy_version}


def success_rate_metric(stats: dict[str, Any]) -> dict[str, float]:
    success = stats["episode_extra_stats"].get("success")
    return {"failure_rate": 1.0 - success["mean"]} if success else {}


def load_records(log_dir: str) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(Path(log_dir).glob("*.json"))]


# ----- curriculum probes -----

from relayrl.curriculum import GoalDistanceEnv, PerformanceCurriculum  # noqa: E402

CURRICULUM_DISTANCES = [1, 2, 3, 4, 6, 8]


class FirstEpisodeRecorder(gym.Wrapper):
    """Writes the goal distance of this env instance's first episode to ``log_dir/<uuid>.json``."""

    def __init__(self, env: gym.Env, log_dir: str) -> None:
        super().__init__(env)
        self.log_dir = log_dir
        self.recorded = False

    def reset(self, **kwargs: Any) -> Any:
        out = self.env.reset(**kwargs)
        if not self.recorded:
            self.recorded = True
            Path(self.log_dir).mkdir(parents=True, exist_ok=True)
            record = {"first_distance": self.env.unwrapped.distance}
            Path(self.log_dir, f"{uuid.uuid4().hex}.json").write_text(json.dumps(record))
        return out


def make_goal_curriculum_env(config: dict[str, Any]) -> gym.Env:
    """PerformanceCurriculum(FirstEpisodeRecorder(GoalDistanceEnv)) over CURRICULUM_DISTANCES."""
    env = FirstEpisodeRecorder(GoalDistanceEnv(), config["log_dir"])
    return PerformanceCurriculum(env, "set_distance", CURRICULUM_DISTANCES, window=4, promote_threshold=0.75)
