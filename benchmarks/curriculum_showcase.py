"""Curriculum showcase: MiniGrid DoorKey with and without each curriculum, same env-step budget.

    python -m benchmarks.curriculum_showcase --budget 1000000 --seeds 1 2 3 --out-dir showcase

For every curriculum in --curricula (``none`` = flat training on the largest size) and every seed,
trains ``examples.minigrid_doorkey:make_env`` for --budget env steps (same hyperparameters for all
arms; entropy bonus 0.01 for exploration), then evaluates the final policy with ``relayrl enjoy``
on the largest size without a curriculum (--eval-episodes episodes, sampled actions), and draws
all runs with ``relayrl plot`` (seeds grouped: mean and min-max). During training, every
--eval-every env steps, evaluation during training (docs/evaluation.md) plays --eval-during episodes on
the largest size (``--eval-env-kwargs '{"eval": true}'``, sampled actions, at the trainer's CPU
priority so that its results keep coming while training fills the cores): the plot shows that
evaluated success (``eval/success``) next to the training success. Prints a table and writes
``results.json`` and ``doorkey.png`` into --out-dir. Each finished run also writes
``<out-dir>/<experiment>/showcase.json``; a rerun with the same budget and sizes reuses it, so an
interrupted showcase continues where it stopped. Needs ``pip install minigrid``.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import relayrl
from relayrl.cli.enjoy import EnjoyConfig, enjoy
from relayrl.cli.plot import PlotConfig, plot
from relayrl.config import replace
from relayrl.experiment import Experiment

KINDS = ("none", "progress", "performance", "global")


def eval_curve(cfg: relayrl.Config) -> list[tuple[int, float]]:
    """(env steps evaluated, success on the largest size) of every evaluation during training."""
    path = Experiment.of(cfg).root / "progress.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    key = "eval/episode_extra_stats/success/mean"
    return [(int(r["eval/env_steps"]), float(r[key])) for r in rows if key in r]


def train_one(kind: str, seed: int, args: argparse.Namespace) -> dict:
    name = f"doorkey_{kind}_seed{seed}"
    saved = Path(args.out_dir, name, "showcase.json")
    if saved.is_file():
        row = json.loads(saved.read_text())
        if (
            row.get("budget") == args.budget
            and row.get("sizes") == args.sizes
            and row.get("eval_every") == args.eval_every
        ):
            print(f"{name}: reusing {saved} (delete it to train again)")
            return row
    env_kwargs = {"curriculum": kind, "sizes": args.sizes, "progress_step": args.budget // (2 * len(args.sizes))}
    cfg = relayrl.Config(
        env="examples.minigrid_doorkey:make_env",
        train_dir=args.out_dir,
        experiment=name,
        seed=seed,
        train_for_env_steps=args.budget,
    )
    cfg = replace(
        cfg,
        environment__env_kwargs=env_kwargs,
        algorithm__ent_coef=0.01,
        logging__report_interval=5.0,
        logging__progress_bar=False,
        evaluation__every_env_steps=args.eval_every,
        evaluation__episodes=args.eval_during,
        evaluation__eval_env_kwargs={"eval": True},
        evaluation__deterministic=False,
        evaluation__niceness=0,
        evaluation__best_metric="eval/episode_extra_stats/success",
    )
    summary = relayrl.train(cfg)
    result = enjoy(
        EnjoyConfig(
            experiment=name,
            train_dir=args.out_dir,
            checkpoint="latest",
            num_episodes=args.eval_episodes,
            deterministic=False,
            env_kwargs={"eval": True},
        )
    )
    row = {
        "curriculum": kind,
        "seed": seed,
        "env_steps": summary.env_steps,
        "train_seconds": summary.train_seconds,
        "train_success": summary.stats.get("episode_extra_stats/success/mean"),
        "train_size": summary.stats.get("episode_extra_stats/size/mean"),
        "train_success_largest": summary.stats.get("episode_extra_stats/success_largest/mean"),
        "eval_success_largest": result.extra_stats.get("success"),
        "eval_return_largest": result.mean_return,
        "budget": args.budget,
        "sizes": args.sizes,
        "eval_every": args.eval_every,
        "eval_during": eval_curve(cfg),
    }
    saved.write_text(json.dumps(row, indent=2))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=int, default=1_000_000, help="env steps per run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--curricula", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--sizes", type=int, nargs="+", default=[5, 6, 8, 16])
    parser.add_argument("--eval-episodes", type=int, default=100)
    parser.add_argument("--eval-every", type=int, default=50_000, help="env steps between evaluations in training")
    parser.add_argument("--eval-during", type=int, default=20, help="episodes per evaluation during training")
    parser.add_argument("--out-dir", type=str, default="showcase")
    args = parser.parse_args()
    rows = [train_one(kind, seed, args) for seed in args.seeds for kind in args.curricula]
    names = tuple(f"doorkey_{r['curriculum']}_seed{r['seed']}" for r in rows)
    metrics = ("return", "success", "eval/success", "size") + (
        ("curriculum/level",) if set(args.curricula) - {"none"} else ()
    )
    out = str(Path(args.out_dir) / "doorkey.png")
    png = plot(PlotConfig(experiment=names, train_dir=args.out_dir, out=out, metrics=metrics))
    print(
        f"{'curriculum':>12} {'seed':>4} {'steps':>10} {'train success':>13} {'at size':>7} {'eval success @max':>17} "
        "eval during training (last)"
    )
    for r in rows:
        print(
            f"{r['curriculum']:>12} {r['seed']:>4} {r['env_steps']:>10,} {r['train_success'] or 0:>13.2f} "
            f"{r['train_size'] or 0:>7.1f} {r['eval_success_largest'] or 0:>17.2f} "
            + (f"{r['eval_during'][-1][1]:.2f} at {r['eval_during'][-1][0]:,}" if r["eval_during"] else "none")
        )
    for kind in args.curricula:
        values = [r["eval_success_largest"] or 0.0 for r in rows if r["curriculum"] == kind]
        print(
            f"{kind:>12}: median eval success on size {args.sizes[-1]}: {statistics.median(values):.2f} "
            f"(min {min(values):.2f}, max {max(values):.2f}, {len(values)} seeds)"
        )
    print("plot:", ", ".join(str(p) for p in png))
    Path(args.out_dir, "results.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
