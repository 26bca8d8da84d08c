"""The physical limit: env steps/s with random actions, no learning, no inference.

    python benchmarks/peer_runners/raw_env.py '{"seconds": 3}'                          # CartPole-v1
    python benchmarks/peer_runners/raw_env.py '{"seconds": 3, "env_kind": "atari"}'     # Pong, preprocessed

For each case, runs ``procs`` processes at once (1, and one per core) for ``seconds`` each and sums
their step rates. Cases: single ``gym.make`` envs (reset on episode end), the same with the
benchmark's ``EpisodeLog`` wrapper (its cost), and Gymnasium's numpy vector entry point with 16
and 256 envs per process (Atari, MiniGrid: single preprocessed envs only). Actions are drawn in advance, so the loop times the env alone. Prints
one JSON line.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time

import bench_common as bc
import gymnasium as gym
import numpy as np


def _single(seconds: float, wrapped: bool, out: mp.Queue, kind: str = "cartpole") -> None:
    if kind in ("atari", "minigrid"):
        env = bc.ENV_FACTORIES[kind]()  # with its EpisodeLog (no directory: nothing written), as in training
    else:
        env = gym.make("CartPole-v1")
        if wrapped:
            env = bc.EpisodeLog(env, directory=None)
    env.reset(seed=os.getpid())
    n = int(env.action_space.n)
    actions = np.random.default_rng(os.getpid()).integers(0, n, size=256 if kind == "atari" else 4096).tolist()
    steps = 0
    t0 = time.perf_counter()
    end = t0 + seconds
    while True:
        for a in actions:
            _, _, term, trunc, _ = env.step(a)
            if term or trunc:
                env.reset()
        steps += len(actions)
        if time.perf_counter() >= end:
            break
    out.put(steps / (time.perf_counter() - t0))


def _vector(seconds: float, num_envs: int, out: mp.Queue) -> None:
    env = gym.make_vec("CartPole-v1", num_envs=num_envs, vectorization_mode="vector_entry_point")
    env.reset(seed=os.getpid())
    rng = np.random.default_rng(os.getpid())
    actions = [rng.integers(0, 2, size=num_envs) for _ in range(256)]
    steps = 0
    t0 = time.perf_counter()
    end = t0 + seconds
    while True:
        for a in actions:
            env.step(a)
        steps += 256 * num_envs
        if time.perf_counter() >= end:
            break
    out.put(steps / (time.perf_counter() - t0))


def measure(target, args: tuple, procs: int, kwargs: dict | None = None) -> float:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    ps = [ctx.Process(target=target, args=(*args, q), kwargs=kwargs or {}) for _ in range(procs)]
    for proc in ps:
        proc.start()
    rates = [q.get() for _ in ps]
    for proc in ps:
        proc.join()
    return float(sum(rates))


def main() -> None:
    p = bc.load_params()
    seconds = float(p.get("seconds", 3.0))
    cores = os.cpu_count() or 1
    kind = p.get("env_kind", "cartpole")
    if kind in ("atari", "minigrid"):
        cases = {"single": (_single, (seconds, True), {"kind": kind})}
        env_id = bc.ATARI_ID if kind == "atari" else os.environ[bc.MINIGRID_ID_VAR]
    else:
        cases = {
            "single": (_single, (seconds, False), {}),
            "single+episode_log": (_single, (seconds, True), {}),
            "vector16": (_vector, (seconds, 16), {}),
            "vector256": (_vector, (seconds, 256), {}),
        }
        env_id = "CartPole-v1"
    result: dict = {"framework": "raw-env", "env": env_id, "cores": cores, "gymnasium": gym.__version__}
    for name, (target, args, kwargs) in cases.items():
        result[f"{name}_1proc"] = measure(target, args, 1, kwargs)
        result[f"{name}_{cores}proc"] = measure(target, args, cores, kwargs)
    bc.emit(result)


if __name__ == "__main__":
    main()
