"""CartPole-v1 at default settings: does every seed reach a mean return of 475 (last 100 episodes)
within 500k env steps, and how fast?

    python -m benchmarks.cartpole_solve --seeds 1 2 3 --num-workers 2

Prints one row per seed (env steps and wall seconds to 475, final mean return, training fps) and
the medians. Runs are sequential; nothing else should load the machine meanwhile.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import relayrl
from relayrl.config import replace

TARGET = 475.0


def first_reaching(progress: Path, target: float, window: int) -> dict | None:
    """The first progress row whose windowed mean return reaches ``target`` over a full window."""
    with open(progress) as f:
        for line in f:
            row = json.loads(line)
            if row.get("episodes", 0) >= window and row.get("reward_mean", float("-inf")) >= target:
                return row
    return None


def run_seed(seed: int, args: argparse.Namespace, train_dir: str) -> dict:
    cfg = relayrl.Config(
        env="CartPole-v1",
        train_dir=train_dir,
        experiment=f"cartpole_seed{seed}",
        seed=seed,
        train_for_env_steps=args.steps,
    )
    changes = {"logging__report_interval": 1.0, "logging__progress_bar": False}
    if args.num_workers:
        changes["sampling__num_workers"] = args.num_workers
    if args.mode:
        changes["sampling__mode"] = args.mode
    cfg = replace(cfg, **changes)
    t0 = time.monotonic()
    summary = relayrl.train(cfg)
    wall = time.monotonic() - t0
    hit = first_reaching(Path(summary.experiment_dir) / "progress.jsonl", TARGET, cfg.logging.stats_window)
    return {
        "seed": seed,
        "solved": hit is not None,
        "steps_to_475": hit["env_steps"] if hit else None,
        "seconds_to_475": hit["train_seconds"] if hit else None,
        "final_reward_mean": summary.stats.get("reward_mean"),
        "fps": summary.fps,
        "wall_seconds": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--steps", type=int, default=500_000)
    parser.add_argument("--num-workers", type=int, default=None, help="default: relayrl's default")
    parser.add_argument("--mode", choices=["async", "sync"], default=None, help="default: relayrl's default")
    parser.add_argument("--out", type=str, default=None, help="write the rows as JSON here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as train_dir:
        rows = [run_seed(seed, args, train_dir) for seed in args.seeds]
    print(f"{'seed':>4} {'solved':>6} {'steps_to_475':>12} {'s_to_475':>8} {'final':>7} {'fps':>8}")
    for r in rows:
        steps = f"{r['steps_to_475']:,}" if r["solved"] else "-"
        secs = f"{r['seconds_to_475']:.1f}" if r["solved"] else "-"
        print(
            f"{r['seed']:>4} {str(r['solved']):>6} {steps:>12} {secs:>8} {r['final_reward_mean']:>7.1f} {r['fps']:>8,.0f}"
        )
    solved = [r for r in rows if r["solved"]]
    print(f"solved {len(solved)}/{len(rows)} seeds within {args.steps:,} env steps")
    if solved:
        print(
            f"median steps to 475: {statistics.median(r['steps_to_475'] for r in solved):,.0f}; "
            f"median seconds to 475: {statistics.median(r['seconds_to_475'] for r in solved):.1f}; "
            f"median fps: {statistics.median(r['fps'] for r in rows):,.0f}"
        )
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
