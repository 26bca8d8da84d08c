"""Shared by the per-framework runners of ``benchmarks.compare`` (stdlib and gymnasium only).

Every runner is a standalone script run with its framework's own venv python. This module is
imported from the runner's folder (``sys.path[0]``), and spawned worker processes of the
frameworks find it the same way (multiprocessing passes ``sys.path`` to its children).

The one instrument common to all frameworks is ``EpisodeLog``: a gymnasium wrapper around each
single env that appends ``time, env, return, length, env's cumulative steps`` at every episode end
to a per-env file under ``$BENCH_EPISODE_DIR``. Time to a mean return and the steady-state frame
rate are computed from these files in the same way for every framework (``analyse``), so none of
them is measured by its own logging. It costs about one Python call per env step; the raw-env
benchmark measures that cost (``raw_env.py``, ``single+episode_log``).
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import time
import uuid
from typing import Any

import gymnasium as gym

EPISODE_DIR_VAR = "BENCH_EPISODE_DIR"
FLUSH_SECONDS = 0.2


class EpisodeLog(gym.Wrapper):
    """Record every finished episode (wall time, return, length, cumulative env steps) to a file."""

    def __init__(self, env: gym.Env, directory: str | None = None) -> None:
        super().__init__(env)
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
        if terminated or truncated:
            now = time.time()
            self._lines.append(f"{now:.6f}\t{self._uid}\t{self._ret:.4f}\t{self._len}\t{self._steps}\n")
            self._ret = 0.0
            self._len = 0
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


def read_episodes(directory: str) -> list[tuple[float, str, float, int, int]]:
    """All recorded episodes, sorted by time: ``(time, env uid, return, length, env cumulative steps)``."""
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


def analyse(
    directory: str, t0: float, frames_total: int, target: float, window: int = 100, steady=(0.2, 0.9)
) -> dict[str, Any]:
    """Time and frames to a mean return of ``target`` over the last ``window`` finished episodes
    (all envs merged in time order), and the frame rate between ``steady[0]`` and ``steady[1]`` of
    ``frames_total`` (start-up and shutdown excluded).

    Frames at a moment are the sum over envs of each env's cumulative steps at its latest finished
    episode (steps of episodes still running are not counted; at most one episode per env).
    """
    rows = read_episodes(directory)
    out: dict[str, Any] = {"episodes": len(rows)}
    if not rows:
        return out
    last: dict[str, int] = {}
    total = 0
    recent: list[float] = []
    running = 0.0
    hit = None
    marks: list[tuple[float, int] | None] = [None, None]
    for t, uid, ret, _length, cum in rows:
        total += cum - last.get(uid, 0)
        last[uid] = cum
        recent.append(ret)
        running += ret
        if len(recent) > window:
            running -= recent.pop(0)
        if hit is None and len(recent) == window and running / window >= target:
            hit = (t, total)
        for i, frac in enumerate(steady):
            if marks[i] is None and total >= frac * frames_total:
                marks[i] = (t, total)
    out["final_mean_return"] = running / len(recent)
    out["solved"] = hit is not None
    out["seconds_to_target"] = round(hit[0] - t0, 3) if hit else None
    out["frames_to_target"] = hit[1] if hit else None
    a, b = marks
    if a is not None and b is not None and b[0] > a[0]:
        out["steady_fps"] = (b[1] - a[1]) / (b[0] - a[0])
    return out


def load_params() -> dict[str, Any]:
    """The workload parameters: the JSON given as the runner's first argument."""
    if len(sys.argv) < 2:
        raise SystemExit(f"usage: {sys.argv[0]} '<params json>'")
    return json.loads(sys.argv[1])


def emit(result: dict[str, Any]) -> None:
    """Print the one result line that ``benchmarks.compare`` reads (the last JSON line on stdout)."""
    sys.stdout.flush()
    print(json.dumps(result), flush=True)
