"""Generalization to unseen levels: uniform level sampling vs Prioritized Level Replay vs learning progress.

    python -m benchmarks.curriculum_generalization --seeds 1 2 3

Every arm trains ``examples.procgen_maze:make_env`` on the same 200 level seeds (0..199) for the same
env-step budget and hyperparameters; only the task curriculum differs: ``uniform`` (a uniformly drawn
training level per episode: domain randomization), ``plr`` (``--task-curriculum plr``) and
``learning_progress`` (``--task-curriculum learning-progress``, global mode). During training the
latest weights are evaluated every ``budget / 8`` env steps on 100 unseen levels (seeds 100_000 ..
100_099; greedy actions; the curve); at the end ``relayrl enjoy`` plays the final checkpoint on the
same 100 unseen levels (greedy) and that success rate is the arm's result. Writes
``<out-dir>/results.json`` and ``<out-dir>/generalization.png`` (unseen-level success against env
steps, mean over seeds with min-max shaded). A finished run leaves ``result.json`` in its experiment
folder and is reused by a rerun with the same budget.

The PLR arm uses a flatter ranking than the paper (``--plr-temperature 1.0``) and scores a level by
the positive value loss summed over the episode (``--plr-score
examples.procgen_maze:total_positive_value_loss``): with the paper's values (``--plr-temperature
0.1 --plr-score positive_value_loss``) PLR stayed below uniform here (docs/curriculum.md lists every
variant measured). A run is named, and labelled in the results and the plot, with the PLR options
that differ from the paper's (e.g. ``maze_plr_t1_total_positive_value_loss_seed1``).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import relayrl
from relayrl.cli.enjoy import EnjoyConfig, enjoy
from relayrl.config import replace

ARMS = {"uniform": "none", "plr": "plr", "learning_progress": "learning-progress"}
EVAL_KEY = "eval/episode_extra_stats/success"


def label(arm: str, args: argparse.Namespace) -> str:
    """The arm's name with the PLR options that differ from the paper's defaults."""
    if arm != "plr":
        return arm
    suffix = f"_t{args.plr_temperature:g}" if args.plr_temperature != 0.1 else ""
    suffix += f"_rho{args.plr_staleness:g}" if args.plr_staleness != 0.1 else ""
    suffix += f"_p{args.plr_replay_prob:g}" if args.plr_replay_prob != -1 else ""
    suffix += f"_{args.plr_score.rsplit(':', 1)[-1]}" if args.plr_score != "positive_value_loss" else ""
    return arm + suffix


def train_one(arm: str, seed: int, args: argparse.Namespace) -> dict:
    name = f"maze_{label(arm, args)}_seed{seed}"
    saved = Path(args.out_dir, name, "result.json")
    if saved.is_file():
        row = json.loads(saved.read_text())
        if row.get("budget") == args.budget:
            print(f"{name}: reusing {saved} (delete it to train again)")
            return row
    cfg = relayrl.Config(
        env="examples.procgen_maze:make_env",
        train_dir=args.out_dir,
        experiment=name,
        seed=seed,
        train_for_env_steps=args.budget,
    )
    cfg = replace(
        cfg,
        environment__env_kwargs={"curriculum": arm, "train_levels": 200},
        sampling__num_workers=2,
        task_curriculum__kind=ARMS[arm],
        task_curriculum__plr_temperature=args.plr_temperature,
        task_curriculum__plr_staleness=args.plr_staleness,
        task_curriculum__plr_replay_prob=args.plr_replay_prob,
        task_curriculum__plr_score=args.plr_score,
        evaluation__every_env_steps=args.budget // 8,
        evaluation__episodes=100,
        evaluation__eval_env_kwargs={"eval": True},
        logging__report_interval=5.0,
        logging__progress_bar=False,
    )
    summary = relayrl.train(cfg)
    result = enjoy(
        EnjoyConfig(
            experiment=name,
            train_dir=args.out_dir,
            checkpoint="latest",
            num_episodes=100,
            deterministic=True,
            env_kwargs={"eval": True},
        )
    )
    row = {
        "arm": arm,
        "label": label(arm, args),
        "seed": seed,
        "budget": args.budget,
        "env_steps": summary.env_steps,
        "train_seconds": summary.train_seconds,
        "train_success": summary.stats.get("episode_extra_stats/success/mean"),
        "unseen_success": result.extra_stats.get("success"),
        "curve": curve(Path(args.out_dir, name, "progress.jsonl")),
    }
    saved.write_text(json.dumps(row, indent=2))
    return row


def curve(progress: Path) -> list[tuple[int, float]]:
    """``(env steps, unseen-level success)`` of every evaluation during training."""
    out = []
    for line in progress.read_text().splitlines():
        row = json.loads(line)
        value = row.get(EVAL_KEY + "/mean", row.get(EVAL_KEY))
        if value is not None:
            out.append((int(row.get("eval/env_steps", row.get("env_steps", 0))), float(value)))
    return out


def draw(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(6, 4))
    for arm in dict.fromkeys(r.get("label", r["arm"]) for r in rows):
        curves = [r["curve"] for r in rows if r.get("label", r["arm"]) == arm and r["curve"]]
        if not curves:
            continue
        n = min(len(c) for c in curves)
        steps = np.array([c[i][0] for i in range(n) for c in curves[:1]])
        values = np.array([[c[i][1] for i in range(n)] for c in curves])
        ax.plot(steps, values.mean(0), label=f"{arm} ({len(curves)} seeds)")
        ax.fill_between(steps, values.min(0), values.max(0), alpha=0.2)
    ax.set_xlabel("env steps")
    ax.set_ylabel("success on 100 unseen levels (greedy)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=int, default=300_000, help="env steps per run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS))
    parser.add_argument("--plr-temperature", type=float, default=1.0, help="PLR's rank temperature (the paper: 0.1)")
    parser.add_argument("--plr-staleness", type=float, default=0.1, help="PLR's staleness coefficient (the paper: 0.1)")
    parser.add_argument(
        "--plr-replay-prob", type=float, default=-1.0, help="PLR's replay probability; -1: the share of levels seen"
    )
    parser.add_argument(
        "--plr-score",
        default="examples.procgen_maze:total_positive_value_loss",
        help="positive_value_loss (the paper's), gae or module:fn",
    )
    parser.add_argument("--out-dir", type=str, default="generalization")
    args = parser.parse_args()
    rows = [train_one(arm, seed, args) for seed in args.seeds for arm in args.arms]
    print(f"{'arm':>18} {'seed':>4} {'steps':>9} {'train success':>13} {'unseen success':>14} {'seconds':>7}")
    for r in rows:
        print(
            f"{r.get('label', r['arm']):>18} {r['seed']:>4} {r['env_steps']:>9,} {r['train_success'] or 0:>13.2f} "
            f"{r['unseen_success'] or 0:>14.2f} {r['train_seconds']:>7.0f}"
        )
    for arm in dict.fromkeys(label(arm, args) for arm in args.arms):
        values = [r["unseen_success"] or 0.0 for r in rows if r.get("label", r["arm"]) == arm]
        print(f"{arm:>18}: mean unseen success {statistics.mean(values):.3f} over {len(values)} seeds {values}")
    Path(args.out_dir).mkdir(parents=True, exist_ok=True)
    Path(args.out_dir, "results.json").write_text(json.dumps(rows, indent=2))
    draw(rows, Path(args.out_dir, "generalization.png"))
    print("plot:", Path(args.out_dir, "generalization.png"))


if __name__ == "__main__":
    main()
