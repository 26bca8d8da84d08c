"""Training-info freshness with two policies, or self-play, on the two-player CoinDuel (multi-agent env).

    python -m benchmarks.multiagent_freshness --runs 3 --steps 300000
    python -m benchmarks.multiagent_freshness --backend ray --runs 1 --steps 100000
    python -m benchmarks.multiagent_freshness --backend ray --self-play --runs 1 --steps 100000

Each run trains ``benchmarks.training_info_envs:make_duel_with_interface`` (CoinDuel, both players
learning, ``--num-policies 2``, random mapping; or with ``--self-play``, one learning player against
the pool's snapshots) with 2 workers x 16 envs. Every env logs the time of each of its steps and of
each delivery with its ``approx_total_training_steps``; freshness against the true total is computed
as in ``benchmarks.training_info`` (deliveries from 1 s after the first step on). It also counts the
deliveries whose ``agents`` entry named a controller (a policy or a snapshot) for both players.
Prints per-run and median p90 staleness (bar: p90 < 0.1 s with local workers, < 0.25 s on Ray).

The same for each policy's own step count, ``training_info["policies"][k]["env_steps"]`` (agent steps
policy k took): every env also logs, per step, how many of its players each policy controlled (as its
training info said), so the true count of policy k at time t is the number of its agent steps taken
by then, over all envs; a delivery's staleness is measured against that (both policies' deliveries
pooled; two-policy runs only).

``--backend ray``: the runs are ``relayrl train --backend ray`` from the command line, on a Ray
cluster this script starts on this machine (``benchmarks/local_cluster.py``: a head without CPUs,
where the trainer runs, and ``--ray-nodes`` worker nodes of ``--ray-cpus-per-node`` CPUs, each with
its own object store).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

import relayrl
from benchmarks.local_cluster import local_cluster, train_cli
from benchmarks.training_info import _stats, freshness, staleness

ENV = "benchmarks.training_info_envs:make_duel_with_interface"
NUM_POLICIES = 2


def policy_freshness(log_dir: Path) -> dict[str, Any]:
    """Staleness of each policy's delivered ``env_steps`` against its true agent-step count."""
    logs = []
    for path in sorted((log_dir / "policies").glob("*.npz")):
        with np.load(path) as f:
            logs.append((f["steps"], f["counts"], f["deliveries"]))
    stale_steps, stale_seconds = [], []
    for k in range(NUM_POLICIES):
        # one timestamp per agent step of policy k: a step time repeated by its count of k's agents
        steps = np.sort(np.concatenate([np.repeat(t, c[:, k]) for t, c, _ in logs]))
        deliveries = np.concatenate([d[:, [0, 1 + k]] for _, _, d in logs])
        s, sec, _ = staleness(steps, deliveries)
        stale_steps.append(s)
        stale_seconds.append(sec)
    pooled_steps, pooled_seconds = np.concatenate(stale_steps), np.concatenate(stale_seconds)
    return {"deliveries": int(pooled_steps.size), "steps": _stats(pooled_steps), "seconds": _stats(pooled_seconds)}


def _line(name: str, fresh: dict[str, Any]) -> str:
    s, n = fresh["seconds"], fresh["steps"]
    return (
        f"{name}: {fresh['deliveries']} deliveries, staleness median {s['median'] * 1e3:.1f} ms / "
        f"{n['median']:.0f} steps, p90 {s['p90'] * 1e3:.1f} ms / {n['p90']:.0f} steps, max {s['max'] * 1e3:.1f} ms"
    )


def run_once(run: int, args: argparse.Namespace, train_dir: str, log_dir: Path, address: str) -> float:
    """One training run; its frames/s."""
    if args.backend == "ray":
        flags = ["--env", ENV, "--env-kwargs", json.dumps({"log_dir": str(log_dir)}), "--train-dir", train_dir]
        flags += ["--experiment", f"run{run}", "--seed", str(run + 1), "--train-for-env-steps", str(args.steps)]
        flags += ["--num-workers", "2", "--num-envs-per-worker", "16", "--no-progress-bar", "--no-tensorboard"]
        flags += ["--self-play"] if args.self_play else ["--num-policies", str(NUM_POLICIES)]
        return float(train_cli(address, flags)["fps"])
    cfg = relayrl.Config(
        env=ENV,
        train_dir=train_dir,
        experiment=f"run{run}",
        seed=run + 1,
        train_for_env_steps=args.steps,
        environment=relayrl.EnvConfig(env_kwargs={"log_dir": str(log_dir)}),
        sampling=relayrl.SamplingConfig(num_workers=2, num_envs_per_worker=16),
        logging=relayrl.LoggingConfig(progress_bar=False, tensorboard=False),
        multi_agent=relayrl.MultiAgentConfig(num_policies=1 if args.self_play else NUM_POLICIES),
        self_play=relayrl.SelfPlayConfig(enabled=args.self_play),
    )
    return relayrl.train(cfg).fps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=300_000)
    parser.add_argument("--self-play", action="store_true", help="one learning player against snapshots")
    parser.add_argument("--backend", choices=["local", "ray"], default="local", help="where the workers run")
    parser.add_argument("--ray-nodes", type=int, default=2, help="--backend ray: worker nodes of the local cluster")
    parser.add_argument("--ray-cpus-per-node", type=float, default=1.0, help="--backend ray: CPUs of each node")
    args = parser.parse_args()
    p90s, p90_steps, policy_p90s, policy_p90_steps = [], [], [], []
    with tempfile.TemporaryDirectory() as train_dir, contextlib.ExitStack() as stack:
        address = ""
        if args.backend == "ray":
            address = stack.enter_context(local_cluster(args.ray_nodes, args.ray_cpus_per_node))
        for run in range(args.runs):
            log_dir = Path(train_dir, f"log{run}")
            log_dir.mkdir()
            fps = run_once(run, args, train_dir, log_dir, address)
            fresh = freshness(log_dir)
            named = [tuple(map(int, p.read_text().split())) for p in log_dir.glob("agents_*.txt")]
            with_agents, total = sum(n for n, _ in named), sum(t for _, t in named)
            p90s.append(fresh["seconds"]["p90"])
            p90_steps.append(fresh["steps"]["p90"])
            lines = [
                f"run {run + 1}: {fps:,.0f} frames/s; deliveries naming both players' controllers: "
                f"{with_agents}/{total}",
                f"  {_line('approx_total_training_steps', fresh)}",
            ]
            if not args.self_play:
                per_policy = policy_freshness(log_dir)
                policy_p90s.append(per_policy["seconds"]["p90"])
                policy_p90_steps.append(per_policy["steps"]["p90"])
                lines.append(f"  {_line('policies[k][env_steps]', per_policy)}")
            print("\n".join(lines), flush=True)
    print(f"median p90 staleness: {statistics.median(p90s) * 1e3:.1f} ms, {statistics.median(p90_steps):.0f} steps")
    if policy_p90s:
        print(
            f"median p90 staleness of a policy's env_steps: {statistics.median(policy_p90s) * 1e3:.1f} ms, "
            f"{statistics.median(policy_p90_steps):.0f} agent steps"
        )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
