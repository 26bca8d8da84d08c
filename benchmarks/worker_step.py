"""A rollout worker's cost per env step, alone in this process (no learner, no other process).

    python -m benchmarks.worker_step                       # this checkout
    python -m benchmarks.worker_step --against /tmp/base   # interleaved with the relayrl package in DIR

One ``RolloutWorker`` (CartPole-v1 through ``gym.make``, 16 envs, the default rollout length and
model) fills one trajectory slot again and again; each repeat times ``--rollouts`` rollouts and
reports microseconds per env step, beside the same envs stepped in a plain loop with a fixed action
(the env's own cost, wrappers included). The difference is what relayrl adds per env step: inference,
the slot writes, episode accounting, checks. ``--against DIR`` runs both checkouts in alternating
subprocesses (``DIR`` holds a ``relayrl`` package, e.g. ``git archive COMMIT relayrl | tar -x -C
DIR``) and prints each one's median and the median of the per-round ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def measure(rollouts: int, repeats: int) -> dict[str, float]:
    import gymnasium as gym
    import torch

    import relayrl
    from benchmarks.training_info_worker import standalone_worker
    from relayrl.config import replace
    from relayrl.shared.progress import SharedBlob

    torch.set_num_threads(1)
    cfg = replace(relayrl.Config(env="CartPole-v1", seed=0), sampling__num_workers=1)
    n, t_len = cfg.sampling.num_envs_per_worker, cfg.sampling.rollout_length
    worker = standalone_worker(cfg, SharedBlob(capacity=1 << 16))
    envs = [gym.make("CartPole-v1") for _ in range(n)]
    for i, env in enumerate(envs):
        env.reset(seed=i)

    def plain() -> None:
        for env in envs:
            _, _, term, trunc, _ = env.step(1)
            if term or trunc:
                env.reset()

    worker_us, env_us = [], []
    try:
        for _ in range(5):
            worker.collect(0)
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(rollouts):
                worker.collect(0)
            worker_us.append((time.perf_counter() - t0) / (rollouts * n * t_len) * 1e6)
            t0 = time.perf_counter()
            for _ in range(rollouts * t_len):
                plain()
            env_us.append((time.perf_counter() - t0) / (rollouts * n * t_len) * 1e6)
    finally:
        worker.close()
    worker_med, env_med = statistics.median(worker_us), statistics.median(env_us)
    return {"worker_us": worker_med, "env_us": env_med, "overhead_us": worker_med - env_med}


def _run(pythonpath: str, args: argparse.Namespace) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": pythonpath}
    cmd = [sys.executable, "-m", "benchmarks.worker_step", "--json", "--rollouts", str(args.rollouts), "--repeats", "3"]
    out = subprocess.run(
        cmd, env=env, cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rollouts", type=int, default=100, help="rollouts per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--against", metavar="DIR", help="interleaved rounds against the relayrl package in DIR")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of --against")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.json:
        print(json.dumps(measure(args.rollouts, args.repeats)))
        return
    if not args.against:
        r = measure(args.rollouts, args.repeats)
        print(
            f"worker {r['worker_us']:.2f} us per env step, the envs alone {r['env_us']:.2f}: relayrl adds {r['overhead_us']:.2f}"
        )
        return
    here = str(Path(__file__).resolve().parents[1])
    root = os.pathsep.join([str(Path(args.against).resolve()), here])
    new, base = [], []
    for _ in range(args.rounds):
        new.append(_run(here, args))
        base.append(_run(root, args))
    for name, arm in (("new", new), ("base", base)):
        w, o = statistics.median(r["worker_us"] for r in arm), statistics.median(r["overhead_us"] for r in arm)
        print(f"{name:5s} worker {w:.2f} us per env step, relayrl's part {o:.2f}")
    ratios = [b["worker_us"] / n["worker_us"] for n, b in zip(new, base, strict=True)]
    print(
        f"base/new worker time per env step: {statistics.median(ratios):.3f} (rounds {', '.join(f'{r:.3f}' for r in ratios)})"
    )


if __name__ == "__main__":
    main()
