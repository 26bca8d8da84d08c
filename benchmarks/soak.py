"""Soak test: a long run with an env that raises now and then and a worker killed periodically.

    python -m benchmarks.soak --minutes 20

CartPole-v1 (default settings, 2 workers) where every env step raises with probability 1e-4 (1 in
10,000; the env is restarted, --env-error-policy restart), and one worker process is SIGKILLed
every 2 minutes (restarted with fresh envs). Pass: the run finishes on its own, the mean return
improves, and the summed RSS of the trainer and all its workers grows by less than 10% between
minute 5 and the end. Prints a table; --out writes the samples as JSON.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import relayrl
from relayrl.config import replace


class Flaky(gym.Wrapper):
    """Raises in ``step`` with probability ``p``."""

    def __init__(self, env: gym.Env, p: float) -> None:
        super().__init__(env)
        self.p = p
        self.rng = np.random.default_rng()

    def step(self, action: Any) -> Any:
        if self.rng.random() < self.p:
            raise RuntimeError("injected soak failure")
        return self.env.step(action)


def make_flaky_cartpole(config: dict[str, Any]) -> gym.Env:
    return Flaky(gym.make("CartPole-v1"), float(config.get("p", 1e-4)))


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def total_rss() -> int:
    return rss_bytes(os.getpid()) + sum(rss_bytes(p.pid) for p in mp.active_children() if p.pid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--kill-every", type=float, default=120.0, help="seconds between worker kills")
    parser.add_argument("--error-probability", type=float, default=1e-4)
    parser.add_argument("--out", type=str, default=None)
    args = parser.parse_args()

    samples: list[tuple[float, int]] = []
    kills: list[tuple[float, int]] = []
    stop = threading.Event()
    t_start = time.monotonic()

    def watch() -> None:
        next_kill = args.kill_every
        while not stop.wait(5.0):
            t = time.monotonic() - t_start
            samples.append((t, total_rss()))
            workers = [p for p in mp.active_children() if p.name.startswith("relayrl-worker")]
            if t >= next_kill and workers:
                victim = workers[len(kills) % len(workers)]
                os.kill(victim.pid, signal.SIGKILL)
                kills.append((t, victim.pid))
                next_kill += args.kill_every

    with tempfile.TemporaryDirectory() as train_dir:
        cfg = relayrl.Config(
            env="benchmarks.soak:make_flaky_cartpole",
            train_dir=train_dir,
            experiment="soak",
            seed=1,
            train_for_env_steps=10**12,
            train_for_seconds=args.minutes * 60,
        )
        cfg = replace(
            cfg,
            environment__env_kwargs={"p": args.error_probability},
            sampling__num_workers=2,
            faults__max_worker_restarts=int(args.minutes * 60 / args.kill_every) + 5,
            logging__report_interval=30.0,
            logging__progress_bar=False,
        )
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        summary = relayrl.train(cfg)
        stop.set()
        rows = [json.loads(line) for line in (Path(summary.experiment_dir) / "progress.jsonl").read_text().splitlines()]

    def rss_at(minute: float) -> int:
        near = [rss for t, rss in samples if abs(t - minute * 60) <= 30]
        return max(near) if near else 0

    first = next((r for r in rows if "reward_mean" in r), {})
    last = rows[-1] if rows else {}
    rss5, rss_end = rss_at(5.0), rss_at(args.minutes)
    growth = rss_end / rss5 - 1 if rss5 else float("nan")
    print(
        f"finished: {summary.env_steps:,} env steps in {summary.wall_seconds / 60:.1f} min "
        f"({summary.fps:,.0f} fps), interrupted={summary.interrupted}"
    )
    print(
        f"env errors handled: {summary.env_errors}; worker kills: {len(kills)}; worker restarts: "
        f"{summary.worker_restarts}"
    )
    print(
        f"mean return: first report {first.get('reward_mean', float('nan')):.1f} -> last {last.get('reward_mean', float('nan')):.1f}"
    )
    print(
        f"summed RSS (trainer + workers): minute 5 {rss5 / 2**20:.0f} MiB, end {rss_end / 2**20:.0f} MiB, "
        f"growth {growth:+.1%}; peak {max(r for _, r in samples) / 2**20:.0f} MiB"
    )
    if args.out:
        Path(args.out).write_text(
            json.dumps(
                {
                    "env_steps": summary.env_steps,
                    "wall_seconds": summary.wall_seconds,
                    "env_errors": summary.env_errors,
                    "worker_restarts": summary.worker_restarts,
                    "kills": kills,
                    "rss_samples": samples,
                    "reward_first": first.get("reward_mean"),
                    "reward_last": last.get("reward_mean"),
                    "rss_growth": growth,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
