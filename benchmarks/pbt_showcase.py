"""PBT showcase: fixed reward-shaping weights against a PBT population, same total env steps.

    python -m benchmarks.pbt_showcase --budget 600000 --seeds 1 2 3 --out-dir pbt_showcase

Env: ``examples.shaping_corridor:make_env`` (a decoy exit worth 0.5 next to the start, the goal worth
1 at the far end; the shaping ``closeness`` pays ``w * position / (length - 1)`` per step, so a large
``w`` makes loitering before the goal pay more than reaching it). For every seed it trains:

- one single-policy run per weight in --weights, each for --budget env steps;
- one PBT run, ``--num-policies 4 --pbt --pbt-objective true_objective`` starting from
  --pbt-start-weight, for --budget env steps in all (the four policies together).

Each run's final policy is evaluated on the true objective with ``relayrl enjoy`` (deterministic
actions, --eval-episodes episodes); for PBT the evaluated policy is the one with the highest
windowed ``true_objective`` in the last training report (what PBT ranks by), not the best at
evaluation. Writes ``results.json``, ``results.md`` (the table) and ``pbt_showcase.png`` into
--out-dir (and the plot to --plot when given). A finished run's ``showcase.json`` is reused by a
rerun with the same budget, so an interrupted showcase continues where it stopped.
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
from typing import Any

from relayrl.cli.enjoy import EnjoyConfig, enjoy

ENV = "examples.shaping_corridor:make_env"
POLICIES = 4
COMMON = ["--num-workers", "2", "--ent-coef", "0.01", "--stats-window", "50", "--report-interval", "5"]
COMMON += ["--no-progress-bar", "--no-tensorboard"]
PBT = [
    "--num-policies", str(POLICIES), "--pbt", "--pbt-objective", "true_objective",
    "--pbt-start-env-steps", "10000", "--pbt-period-env-steps", "5000",
    "--pbt-perturb-factor", "2", "--pbt-mutation-rate", "0.5", "--pbt-replace-fraction", "0.5",
    "--pbt-bounds", '{"lr": [1e-4, 1e-3], "ent_coef": [0.0025, 0.02], "clip_coef": [0.1, 0.3], "vf_coef": [0.25, 1.0]}',
]  # fmt: skip
OBJ = "episode_extra_stats/true_objective/mean"


def arm_name(arm: str) -> str:
    return "PBT (4 policies)" if arm == "pbt" else f"fixed w={arm}"


def command(arm: str, seed: int, args: argparse.Namespace) -> list[str]:
    weight = args.pbt_start_weight if arm == "pbt" else float(arm)
    cmd = ["relayrl", "train", "--env", ENV, "--experiment", f"corridor_{arm}_seed{seed}", "--train-dir", args.out_dir]
    cmd += ["--train-for-env-steps", str(args.budget), "--seed", str(seed)]
    cmd += ["--reward-shaping", json.dumps({"closeness": weight}), *COMMON]
    return cmd + (PBT if arm == "pbt" else [])


def progress(out_dir: str, name: str) -> list[dict[str, Any]]:
    with open(Path(out_dir, name, "progress.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def best_policy(row: dict[str, Any]) -> int:
    """The policy with the highest windowed true objective in a report (what PBT ranks by)."""
    return max(range(POLICIES), key=lambda k: row.get(f"policy_{k}/{OBJ}", float("-inf")))


def train_one(arm: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    name = f"corridor_{arm}_seed{seed}"
    saved = Path(args.out_dir, name, "showcase.json")
    if saved.is_file():
        row = json.loads(saved.read_text())
        if row.get("budget") == args.budget:
            print(f"{name}: reusing {saved} (delete it to train again)")
            return row
    cmd = command(arm, seed, args)
    print(" ".join(cmd[:2] + [f"'{c}'" if c.startswith("{") else c for c in cmd[2:]]), flush=True)
    exe = [str(Path(sys.executable).parent / "relayrl"), *cmd[1:]]
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    subprocess.run(["nice", "-n", "5", *exe], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    rows = progress(args.out_dir, name)
    last = rows[-1]
    policy = best_policy(last) if arm == "pbt" else 0
    train_obj = last.get(f"policy_{policy}/{OBJ}") if arm == "pbt" else last.get(OBJ)
    result = enjoy(
        EnjoyConfig(
            experiment=name,
            train_dir=args.out_dir,
            checkpoint="latest",
            num_episodes=args.eval_episodes,
            deterministic=True,
            policy=policy,
        )
    )
    row = {
        "arm": arm,
        "seed": seed,
        "budget": args.budget,
        "env_steps": last["env_steps"],
        "seconds": seconds,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "policy": policy,
        "train_true_objective": train_obj,
        "eval_true_objective": result.extra_stats.get("true_objective"),
        "eval_goal": result.extra_stats.get("goal"),
        "command": cmd,
    }
    saved.write_text(json.dumps(row, indent=2))
    print(f"  -> {arm_name(arm)} seed {seed}: eval true objective {row['eval_true_objective']:.2f} ({seconds:.0f} s)")
    return row


def table(rows: list[dict[str, Any]], arms: list[str], seeds: list[int]) -> str:
    head = "| run | " + " | ".join(f"seed {s}" for s in seeds) + " | median | train window (median) |"
    lines = [head, "|---" * (len(seeds) + 3) + "|"]
    for arm in arms:
        mine = {r["seed"]: r for r in rows if r["arm"] == arm}
        evals = [mine[s]["eval_true_objective"] or 0.0 for s in seeds]
        trains = [mine[s]["train_true_objective"] or 0.0 for s in seeds]
        cells = " | ".join(f"{v:.2f}" for v in evals)
        lines.append(
            f"| {arm_name(arm)} | {cells} | {statistics.median(evals):.2f} | {statistics.median(trains):.2f} |"
        )
    return "\n".join(lines)


def draw(rows: list[dict[str, Any]], arms: list[str], seeds: list[int], out_dir: str, paths: list[Path]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 4.8))
    colors = plt.get_cmap("tab10")
    for i, arm in enumerate(arms):
        for j, seed in enumerate(seeds):
            data = progress(out_dir, f"corridor_{arm}_seed{seed}")
            xs = [r["env_steps"] for r in data]
            if arm == "pbt":
                ys = [max(r.get(f"policy_{k}/{OBJ}", 0.0) for k in range(POLICIES)) for r in data]
            else:
                ys = [r.get(OBJ, 0.0) for r in data]
            style = {"color": colors(i), "lw": 2.2 if arm == "pbt" else 1.2, "alpha": 0.85}
            ax.plot(xs, ys, label=arm_name(arm) if j == 0 else None, **style)
            if arm == "pbt":
                for k in range(POLICIES):
                    ws = [r.get(f"pbt/policy_{k}/reward_shaping/closeness") for r in data]
                    bx.step(xs, ws, where="post", color=colors(j), alpha=0.7, label=f"seed {seed}" if k == 0 else None)
    ax.set(xlabel="total env steps", ylabel="true objective (windowed mean)", ylim=(-0.05, 1.05))
    ax.set_title("true objective: fixed shaping weights vs PBT (best policy); 3 seeds each")
    ax.legend(fontsize=8)
    bx.set(xlabel="total env steps", ylabel="closeness weight w", yscale="log")
    bx.set_title("PBT: shaping weight of each of the 4 policies")
    bx.legend(fontsize=8)
    fig.tight_layout()
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=90)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=int, default=600_000, help="total env steps per run (PBT: all policies)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--weights", type=str, nargs="+", default=["0.0", "0.01", "0.02", "0.03", "0.1"])
    parser.add_argument("--pbt-start-weight", type=float, default=0.03)
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--out-dir", type=str, default="pbt_showcase")
    parser.add_argument("--plot", type=str, default=None, help="also write the plot here (docs/img/...)")
    args = parser.parse_args()
    arms = [*args.weights, "pbt"]
    rows = [train_one(arm, seed, args) for seed in args.seeds for arm in arms]
    md = table(rows, arms, args.seeds)
    print(md)
    Path(args.out_dir, "results.md").write_text(md + "\n")
    Path(args.out_dir, "results.json").write_text(json.dumps(rows, indent=2))
    paths = [Path(args.out_dir, "pbt_showcase.png")] + ([Path(args.plot)] if args.plot else [])
    draw(rows, arms, args.seeds, args.out_dir, paths)
    print("plot:", ", ".join(str(p) for p in paths))


if __name__ == "__main__":
    main()
