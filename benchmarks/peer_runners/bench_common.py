"""Shared by the per-framework runners of ``benchmarks.compare`` (stdlib and gymnasium only).

Every runner is a standalone script run with its framework's own venv python. This module is
imported from the runner's folder (``sys.path[0]``), and spawned worker processes of the
frameworks find it the same way (multiprocessing passes ``sys.path`` to its children).

The one instrument common to all frameworks is ``EpisodeLog``: a gymnasium wrapper around each
single env that appends ``time, env, return, length, env's cumulative steps`` at every episode end
(and a progress row every ``TICK_STEPS`` steps) to a per-env file under ``$BENCH_EPISODE_DIR``. Time to a mean return and the steady-state frame
rate are computed from these files in the same way for every framework (``analyse``), so none of
them is measured by its own logging. It costs about one Python call per env step; the raw-env
benchmark measures that cost (``raw_env.py``, ``single+episode_log``).
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import sys
import threading
import time
import uuid
from typing import Any

import gymnasium as gym

EPISODE_DIR_VAR = "BENCH_EPISODE_DIR"
FLUSH_SECONDS = 0.2
TICK_STEPS = 32
"""An env also records its step count every this many steps, so frame rates need no episode end."""


class EpisodeLog(gym.Wrapper):
    """Record every finished episode (wall time, return, length, cumulative env steps) to a file."""

    def __init__(self, env: gym.Env, directory: str | None = None, success: bool = False) -> None:
        super().__init__(env)
        self._success = success
        """Record 1.0 / 0.0 (the episode's return was positive) instead of the return."""
        self._dir = directory or os.environ.get(EPISODE_DIR_VAR)
        self._path = os.path.join(self._dir, f"{os.getpid()}-{uuid.uuid4().hex[:8]}.tsv") if self._dir else None
        self._uid = uuid.uuid4().hex[:8]
        self._ret = 0.0
        self._len = 0
        self._steps = 0
        self._lines: list[str] = []
        self._last_flush = time.time()
        if self._path is not None:
            atexit.register(self._flush)

    def reset(self, **kwargs: Any) -> Any:
        self._ret = 0.0
        self._len = 0
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> Any:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._ret += float(reward)
        self._len += 1
        self._steps += 1
        done = terminated or truncated
        if done or not self._steps % TICK_STEPS:
            now = time.time()
            if done:
                score = float(self._ret > 0) if self._success else self._ret
                self._lines.append(f"{now:.6f}\t{self._uid}\t{score:.4f}\t{self._len}\t{self._steps}\n")
                self._ret = 0.0
                self._len = 0
            else:  # progress only (long episodes): the env's step count, no episode
                self._lines.append(f"{now:.6f}\t{self._uid}\tnan\t0\t{self._steps}\n")
            if now - self._last_flush >= FLUSH_SECONDS:
                self._flush()
        return obs, reward, terminated, truncated, info

    def _flush(self) -> None:
        self._last_flush = time.time()
        if self._path is None or not self._lines:
            return
        with open(self._path, "a") as f:
            f.writelines(self._lines)
        self._lines.clear()

    def close(self) -> None:
        self._flush()
        super().close()


def make_cartpole(config: Any = None, *args: Any, **kwargs: Any) -> gym.Env:
    """CartPole-v1 with the episode log (signature fits relayrl's and Sample Factory's factories)."""
    return EpisodeLog(gym.make("CartPole-v1"))


ATARI_ID = "ALE/Pong-v5"


class _AsArray(gym.ObservationWrapper):
    """gymnasium < 1.0: FrameStack returns LazyFrames; hand the framework a plain array."""

    def observation(self, observation: Any) -> Any:
        import numpy as np

        return np.asarray(observation)


def make_atari(config: Any = None, *args: Any, **kwargs: Any) -> gym.Env:
    """Pong through ale-py with the standard preprocessing, the same in every framework and gymnasium
    version: ALE v5 (sticky actions 0.25) at frameskip 1, then ``AtariPreprocessing`` (30 no-ops,
    frame skip 4, 84x84 grayscale) and 4 stacked frames: uint8 ``(4, 84, 84)``. One env step is 4
    emulator frames; all frameworks count env steps."""
    import ale_py

    if ATARI_ID not in gym.registry and hasattr(gym, "register_envs"):
        gym.register_envs(ale_py)
    if ATARI_ID not in gym.registry:  # gymnasium 0.29 does not load ale-py >= 0.10's ids by itself
        from ale_py.registration import register_v5_envs

        register_v5_envs()
    env = gym.make(ATARI_ID, frameskip=1)
    env = gym.wrappers.AtariPreprocessing(env, noop_max=30, frame_skip=4, screen_size=84, grayscale_obs=True)
    if hasattr(gym.wrappers, "FrameStackObservation"):
        env = gym.wrappers.FrameStackObservation(env, 4)
    else:
        env = _AsArray(gym.wrappers.FrameStack(env, 4))
    return EpisodeLog(env)


MINIGRID_ID = "MiniGrid-DoorKey-5x5-v0"  # the minigrid workload's env
MINIGRID_ID_VAR = "BENCH_MINIGRID_ID"
"""The MiniGrid id a runner builds (its workload's ``env``; set by ``load_params``, inherited by the
framework's worker processes); default ``MINIGRID_ID``."""
# Largest object, color and state indices in minigrid.core.constants (the same in minigrid 2.x and 3.x).
MINIGRID_CHANNEL_MAX = (10.0, 5.0, 2.0)


class _MiniGridImage(gym.ObservationWrapper):
    """MiniGrid's 7x7 egocentric view only (no direction, no mission), channels first, each channel
    divided by its largest index: float32 ``(3, 7, 7)`` in [0, 1]. The same array in every framework."""

    def __init__(self, env: gym.Env) -> None:
        import numpy as np

        super().__init__(env)
        h, w, c = env.observation_space["image"].shape
        self.observation_space = gym.spaces.Box(0.0, 1.0, (c, h, w), dtype=np.float32)
        self._scale = (1.0 / np.array(MINIGRID_CHANNEL_MAX, dtype=np.float32)).reshape(c, 1, 1)

    def observation(self, observation: Any) -> Any:
        import numpy as np

        return np.ascontiguousarray(observation["image"].transpose(2, 0, 1), dtype=np.float32) * self._scale


def make_minigrid(config: Any = None, *args: Any, **kwargs: Any) -> gym.Env:
    """MiniGrid DoorKey (sparse reward ``1 - 0.9 * steps / max_steps`` at the goal; ``max_steps`` is
    10 x size x size); the episode log records success (1/0), so the target is a success rate."""
    import minigrid  # noqa: F401  (registers the MiniGrid ids)

    return EpisodeLog(_MiniGridImage(gym.make(os.environ.get(MINIGRID_ID_VAR, MINIGRID_ID))), success=True)


def small_cnn_layers(channels: int = 3) -> list:
    """The MiniGrid workload's image encoder in every framework (relayrl's own choice for a 7x7
    image): three unpadded 3x3 convolutions 16/32/64 with ReLU, 7x7 -> 1x1, flattened: 64 features."""
    from torch import nn

    return [
        nn.Conv2d(channels, 16, 3),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3),
        nn.ReLU(),
        nn.Conv2d(32, 64, 3),
        nn.ReLU(),
        nn.Flatten(),
    ]


ENV_FACTORIES = {"cartpole": make_cartpole, "atari": make_atari, "minigrid": make_minigrid}


def make_env(kind: str) -> gym.Env:
    return ENV_FACTORIES[kind]()


def read_episodes(directory: str) -> list[tuple[float, str, float, int, int]]:
    """All records, sorted by time: ``(time, env uid, return, length, env cumulative steps)``; progress
    rows have length 0 and return NaN."""
    rows = []
    for name in os.listdir(directory):
        if not name.endswith(".tsv"):
            continue
        with open(os.path.join(directory, name)) as f:
            for line in f:
                parts = line.split("\t")
                if len(parts) == 5:
                    rows.append((float(parts[0]), parts[1], float(parts[2]), int(parts[3]), int(parts[4])))
    rows.sort()
    return rows


def analyse(directory: str, t0: float, target: float | None, window: int = 100, steady=(0.2, 0.9)) -> dict[str, Any]:
    """Time and frames to a mean return of ``target`` over the last ``window`` finished episodes
    (all envs merged in time order), and the frame rate while the logged frames go from
    ``steady[0]`` to ``steady[1]`` of their final count (a least-squares slope; start-up and shutdown
    excluded).

    Frames at a moment are the sum over envs of each env's cumulative steps at its latest record
    (an episode end or a progress row every ``TICK_STEPS`` steps), so at most ``TICK_STEPS`` per env
    are not yet counted.
    """
    rows = read_episodes(directory)
    out: dict[str, Any] = {"episodes": 0}
    if not rows:
        return out
    episodes = 0
    finals: dict[str, int] = {}
    for _t, uid, _ret, _length, cum in rows:
        finals[uid] = cum
    frames_total = sum(finals.values())
    last: dict[str, int] = {}
    total = 0
    recent: list[float] = []
    running = 0.0
    hit = None
    points: list[tuple[float, int]] = []
    for t, uid, ret, length, cum in rows:
        total += cum - last.get(uid, 0)
        last[uid] = cum
        if steady[0] * frames_total <= total <= steady[1] * frames_total:
            points.append((t, total))
        if length == 0:  # a progress row, not an episode
            continue
        episodes += 1
        recent.append(ret)
        running += ret
        if len(recent) > window:
            running -= recent.pop(0)
        if target is not None and hit is None and len(recent) == window and running / window >= target:
            hit = (t, total)
    out["episodes"] = episodes
    out["final_mean_return"] = running / len(recent) if recent else None
    out["solved"] = hit is not None if target is not None else None
    out["seconds_to_target"] = round(hit[0] - t0, 3) if hit else None
    out["frames_to_target"] = hit[1] if hit else None
    out["steady_fps"] = _slope(points)
    return out


def _slope(points: list[tuple[float, int]]) -> float | None:
    """Least-squares frames per second through ``(time, frames)`` points (robust to envs that record
    in bursts, e.g. all envs of a worker at the same step)."""
    if len(points) < 10:
        return None
    n = len(points)
    mt = sum(t for t, _ in points) / n
    mf = sum(f for _, f in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    if var <= 0:
        return None
    return sum((t - mt) * (f - mf) for t, f in points) / var


class TargetWatch(threading.Thread):
    """Stops a run once the target is reached, so a time-to-target workload needs no fixed budget.

    Polls the episode files every ``interval`` seconds, reading only what is new, keeps the last
    ``window`` episode scores (in time order within each poll) and calls ``on_hit()`` once, from
    this thread, when their mean reaches ``target``. The exact time to the target is computed
    afterwards by ``analyse`` from the same files; this only decides when to stop.
    """

    def __init__(self, directory: str, target: float, window: int, on_hit, interval: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.directory, self.target, self.window, self.on_hit, self.interval = (
            directory,
            target,
            window,
            on_hit,
            interval,
        )
        self.hit = threading.Event()
        self._offsets: dict[str, int] = {}
        self._recent: collections.deque[float] = collections.deque(maxlen=window)

    def _poll(self) -> list[tuple[float, float]]:
        new = []
        for name in os.listdir(self.directory):
            if not name.endswith(".tsv"):
                continue
            path = os.path.join(self.directory, name)
            with open(path) as f:
                f.seek(self._offsets.get(path, 0))
                data = f.read()
            end = data.rfind("\n") + 1  # a line still being written waits for the next poll
            self._offsets[path] = self._offsets.get(path, 0) + len(data[:end].encode())
            for line in data[:end].splitlines():
                parts = line.split("\t")
                if len(parts) == 5 and parts[3] != "0":
                    new.append((float(parts[0]), float(parts[2])))
        new.sort()
        return new

    def run(self) -> None:
        while not self.hit.wait(self.interval):
            for _t, score in self._poll():
                self._recent.append(score)
            if len(self._recent) == self.window and sum(self._recent) / self.window >= self.target:
                self.hit.set()
                self.on_hit()


def watch_target(p: dict[str, Any], on_hit) -> TargetWatch | None:
    """Start a ``TargetWatch`` when the workload asks to stop at its target (``stop_at_target``)."""
    if not p.get("stop_at_target") or p.get("target") is None or not os.environ.get(EPISODE_DIR_VAR):
        return None
    watch = TargetWatch(os.environ[EPISODE_DIR_VAR], p["target"], p["window"], on_hit)
    watch.start()
    return watch


def load_params() -> dict[str, Any]:
    """The workload parameters: the JSON given as the runner's first argument."""
    if len(sys.argv) < 2:
        raise SystemExit(f"usage: {sys.argv[0]} '<params json>'")
    params = json.loads(sys.argv[1])
    if params.get("env_kind") == "minigrid":
        os.environ[MINIGRID_ID_VAR] = params["env"]
    return params


def emit(result: dict[str, Any]) -> None:
    """Print the one result line that ``benchmarks.compare`` reads (the last JSON line on stdout)."""
    sys.stdout.flush()
    print(json.dumps(result), flush=True)
