"""Population-based training: how fast a mutated env-side parameter reaches the envs of its policy,
and how many frames are still collected under the old value after the mutation.

    python -m benchmarks.pbt_delivery --steps 100000
    python -m benchmarks.pbt_delivery --backend ray --steps 100000   # Ray actors on a local cluster

Workload: CartPole-v1, 2 worker processes x 8 envs, ``--num-policies 2`` (random mapping: each episode
an env is drawn a policy), ``--pbt`` with a declared env parameter ``difficulty`` in [0, 1]. The envs
report their policy id as ``told_policy`` and the run ranks by it, so policy 0 copies policy 1 and
mutates (rate 1) every ``--period`` of its own env steps: many mutations in a short run.

Each env logs, with ``time.time()`` (the clock of the lineage's ``time``), every delivery and every step
with the policy id and the ``difficulty`` it had been told. Per mutation of policy 0 at time ``t_m`` to
value ``v`` (the final checkpoint's lineage), measured against those logs, as in
benchmarks/training_info.py:

* delay to first arrival: the first delivery of ``(policy 0, v)`` to any env, minus ``t_m``;
* delay to all: over the envs under policy 0 at ``t_m`` (that stay under it until they get ``v``), the
  last of their first deliveries of ``v``, minus ``t_m`` (every env of the policy has it);
* stale frames: steps taken under policy 0 after ``t_m`` (and before the next mutation) with a value
  other than ``v``.

It also reports the staleness of ``approx_total_training_steps`` at delivery, as
benchmarks/training_info.py measures it.

``--backend ray``: the run is ``relayrl train --backend ray`` from the command line, on a Ray cluster
this script starts on this machine (``benchmarks/local_cluster.py``: a head without CPUs, where the
trainer runs, and ``--ray-nodes`` worker nodes of 1 CPU, each with its own object store): the envs of
each policy run on other nodes than the trainer.

Sample Factory pushes training info on a 5 s timer and envs apply reward shaping at their next episode
end, so its delay is up to 5 s plus an episode.
"""

from __future__ import annotations

import argparse
import glob
import itertools
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from benchmarks.training_info import freshness
from relayrl.config import cli_flag
from relayrl.envs.info_interface import TrainingInfoInterface

_ids = itertools.count()


class Logged(gym.Wrapper, TrainingInfoInterface):
    """CartPole that logs ``(time, policy id, difficulty)`` of every delivery and every step."""

    def __init__(self, env: gym.Env, log_dir: str | None) -> None:
        gym.Wrapper.__init__(self, env)
        TrainingInfoInterface.__init__(self)
        self.log_dir = log_dir
        self.now = (-1.0, -1.0)
        self.steps: list[tuple[float, float, float]] = []
        self.deliveries: list[tuple[float, float, float]] = []
        self.totals: list[tuple[float, float]] = []
        """``(time, approx_total_training_steps)`` of every delivery (freshness, as in training_info.py)."""

    def set_training_info(self, training_info: dict[str, Any]) -> None:
        self.training_info = training_info
        self.now = (float(training_info["policy_id"]), float(training_info["env_params"]["difficulty"]))
        self.deliveries.append((time.time(), *self.now))
        self.totals.append((self.deliveries[-1][0], float(training_info["approx_total_training_steps"])))

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.steps.append((time.time(), *self.now))
        if terminated or truncated:
            info["episode_extra_stats"] = {"told_policy": self.now[0]}
        return obs, reward, terminated, truncated, info

    def close(self) -> None:
        if self.log_dir is not None and self.steps:
            path = os.path.join(self.log_dir, f"env_{os.getpid()}_{next(_ids)}.npz")
            np.savez(path, steps=np.asarray(self.steps).reshape(-1, 3), deliveries=np.asarray(self.deliveries))
            fresh = os.path.join(self.log_dir, "fresh", os.path.basename(path))
            steps = np.asarray(self.steps).reshape(-1, 3)[:, 0]
            np.savez(fresh, steps=steps, deliveries=np.asarray(self.totals).reshape(-1, 2))
            self.steps = []
        super().close()


def make_env(env_kwargs: dict[str, Any]) -> gym.Env:
    return Logged(gym.make("CartPole-v1"), env_kwargs.get("log_dir"))


def measure(lineage: list[dict[str, Any]], logs: list[dict[str, np.ndarray]]) -> list[dict[str, float]]:
    """One row per mutation of policy 0's ``difficulty`` that changed its value (see the module docstring)."""
    events = [e for e in lineage if e["policy"] == 0 and e["copied_from"] is not None]
    value_before = 0.5
    out = []
    for i, event in enumerate(events):
        new = next((mu["new"] for mu in event["mutations"] if mu["name"] == "env_params/difficulty"), None)
        t_m = event["time"]
        t_next = events[i + 1]["time"] if i + 1 < len(events) else float("inf")
        if new is None or new == value_before:
            continue
        arrivals, stale = [], 0
        for log in logs:
            d, s = log["deliveries"], log["steps"]
            under = s[(s[:, 0] >= t_m) & (s[:, 0] < t_next) & (s[:, 1] == 0)]
            stale += int((~np.isclose(under[:, 2], new)).sum())
            before, after = d[d[:, 0] < t_m], d[(d[:, 0] >= t_m) & (d[:, 0] < t_next)]
            if not len(before) or before[-1, 1] != 0 or not len(after):
                continue  # not under policy 0 when it mutated
            for t, policy, value in after:
                if policy != 0:
                    break  # its episode ended and it went to the other policy first
                if np.isclose(value, new):
                    arrivals.append(float(t) - t_m)
                    break
        if arrivals:
            out.append({"first": min(arrivals), "all": max(arrivals), "stale_frames": float(stale)})
        value_before = new
    return out


SETTINGS = {
    "train_for_env_steps": None,  # from --steps
    "sampling__num_workers": 2,
    "sampling__num_envs_per_worker": 8,
    "logging__tensorboard": False,
    "logging__progress_bar": False,
    "training_info__interval": None,  # from --interval
    "training_info__reward_shaping": {"w": 1.0},
    "multi_agent__num_policies": 2,
    "pbt__enabled": True,
    "pbt__objective": "told_policy",
    "pbt__start_env_steps": 0,
    "pbt__period_env_steps": None,  # from --period
    "pbt__mutation_rate": 1.0,
    "pbt__replace_threshold_rel": 0.0,
    "pbt__replace_threshold_abs": 0.5,
    "pbt__env_params": {"difficulty": [0.0, 1.0]},
}
"""The run's settings (``Config`` fields), the same with either backend."""


def as_flags(settings: dict[str, Any]) -> list[str]:
    """``SETTINGS`` as ``relayrl train`` flags (each field's own flag)."""
    flags = []
    for field, value in settings.items():
        name = cli_flag(field)
        if isinstance(value, bool):
            flags.append(name if value else "--no-" + name[2:])
        else:
            flags += [name, json.dumps(value) if isinstance(value, dict) else str(value)]
    return flags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--period", type=int, default=2048, help="--pbt-period-env-steps")
    parser.add_argument("--interval", type=float, default=0.05, help="--training-info-interval")
    parser.add_argument("--backend", choices=["local", "ray"], default="local", help="where the workers run")
    parser.add_argument("--ray-nodes", type=int, default=2, help="--backend ray: worker nodes of the local cluster")
    args = parser.parse_args()

    import relayrl
    from relayrl.config import replace
    from relayrl.trainer.checkpointer import read_checkpoint

    settings = dict(SETTINGS)
    settings.update(
        train_for_env_steps=args.steps,
        training_info__interval=args.interval,
        pbt__period_env_steps=args.period,
    )
    with tempfile.TemporaryDirectory() as tmp:
        log_dir = os.path.join(tmp, "logs")
        os.makedirs(os.path.join(log_dir, "fresh"))
        env, kwargs = "benchmarks.pbt_delivery:make_env", {"log_dir": log_dir}
        t0 = time.monotonic()
        if args.backend == "ray":
            from benchmarks.local_cluster import local_cluster, train_cli

            with local_cluster(args.ray_nodes, 1.0) as address:
                t0 = time.monotonic()
                flags = ["--env", env, "--env-kwargs", json.dumps(kwargs), "--train-dir", tmp, "--experiment", "pbt"]
                done = train_cli(address, [*flags, "--seed", "1", *as_flags(settings)])
            steps, fps, checkpoint = int(done["env steps"]), float(done["fps"]), done["checkpoint"]
        else:
            cfg = replace(relayrl.Config(env=env, train_dir=tmp, experiment="pbt", seed=1), **settings)
            cfg = replace(cfg, environment__env_kwargs=kwargs)
            summary = relayrl.train(cfg)
            steps, fps, checkpoint = summary.env_steps, summary.fps, str(summary.checkpoint)
        wall = time.monotonic() - t0
        lineage = read_checkpoint(Path(checkpoint))["pbt"]["lineage"]
        logs = [dict(np.load(p)) for p in sorted(glob.glob(os.path.join(log_dir, "*.npz")))]
        fresh = freshness(Path(log_dir, "fresh"))
    rows = measure(lineage, logs)
    if not rows:
        raise SystemExit("no mutation of policy 0 reached the envs; run longer (--steps) or lower --period")
    first = sorted(r["first"] for r in rows)
    everyone = sorted(r["all"] for r in rows)
    stale = [r["stale_frames"] for r in rows]
    p90 = lambda xs: xs[min(len(xs) - 1, int(0.9 * len(xs)))]  # noqa: E731
    print(f"{steps} env steps in {wall:.1f} s ({fps:.0f} fps), {len(rows)} mutations measured")
    print(f"delay to first env (s):   median {statistics.median(first):.4f}  p90 {p90(first):.4f}  max {first[-1]:.4f}")
    print(
        f"delay to all its envs (s): median {statistics.median(everyone):.4f}  p90 {p90(everyone):.4f}  "
        f"max {everyone[-1]:.4f}"
    )
    print(f"stale frames per mutation: median {statistics.median(stale):.0f}  max {max(stale):.0f}")
    print(
        f"approx_total_training_steps staleness at delivery ({fresh['deliveries']} deliveries): median "
        f"{fresh['seconds']['median'] * 1e3:.1f} ms, p90 {fresh['seconds']['p90'] * 1e3:.1f} ms, max "
        f"{fresh['seconds']['max'] * 1e3:.1f} ms; p90 {fresh['steps']['p90']:.0f} steps"
    )
    print("Sample Factory 2.1.1: pushed every 5 s, applied at the next episode end (up to 5 s + one episode)")


if __name__ == "__main__":
    main()
