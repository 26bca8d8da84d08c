"""Multi-agent showcase on CoinDuel: opponent-difficulty curriculum, flat training and self-play.

    python -m benchmarks.multiagent_showcase --seeds 1 2 3 --out-dir ma_showcase

Arms (same hyperparameters, entropy bonus 0.01, 2 workers x 16 envs):

- ``curriculum``: ``examples.coin_duel_bots:make_env``, each env instance's bot level driven by its own
  win rate (``OpponentCurriculum``), --budget env steps;
- ``curriculum-rating``: the same, each instance's bot level moved by the league's ratings instead
  (``OpponentCurriculum(gate="rating")`` with ``--rate-opponent-levels``, docs/league.md), --budget env steps;
- ``flat``: the same env always against the strongest bot, --budget env steps;
- ``selfplay``: ``relayrl.envs.coin_duel:make_duel --self-play`` (never plays a bot), --selfplay-budget.

The win rates come from evaluation during training (docs/evaluation.md): every --eval-every env steps
the latest weights play --eval-games games (greedy actions) against each bot, as
``--eval-opponents relayrl.envs.coin_duel:bot_0,...,bot_4`` (the bot arms evaluate in the same game with
both players as agents: ``--eval-env-kwargs '{"duel": true}'``). The curves and the table read
``eval/vs/bot_<level>/win_rate`` from each run's progress.jsonl; the table shows the last evaluation of
the run; ``level`` is the mean opponent level of the training episodes at each report (the bot arms).
The evaluator runs at the trainer's CPU priority (``--eval-niceness 0``), so that its results
keep coming while training fills the cores. Prints the table, writes ``results.json`` and ``win_rate.png`` into --out-dir. A finished run
leaves ``showcase.json`` in its folder and is reused.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import relayrl
from relayrl.config import replace
from relayrl.envs.coin_duel import BOT_GREEDINESS
from relayrl.experiment import Experiment

ARMS = ("curriculum", "curriculum-rating", "flat", "selfplay")
BOTS = tuple(f"bot_{level}" for level in range(len(BOT_GREEDINESS)))
OPPONENTS = ",".join(f"relayrl.envs.coin_duel:{bot}" for bot in BOTS)


def evaluations(cfg: relayrl.Config) -> list[dict[str, Any]]:
    """The run's evaluations from progress.jsonl: env steps evaluated and the win rate against every bot."""
    path = Experiment.of(cfg).root / "progress.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [
        {"env_steps": int(r["eval/env_steps"]), "win": [r[f"eval/vs/{bot}/win_rate"] for bot in BOTS]}
        for r in rows
        if "eval/env_steps" in r
    ]


def levels(cfg: relayrl.Config) -> list[tuple[int, float]]:
    """(env steps, mean opponent level of the training episodes) at each report of a bot arm."""
    path = Experiment.of(cfg).root / "progress.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    key = "episode_extra_stats/opponent/level/mean"
    return [(int(r["env_steps"]), float(r[key])) for r in rows if key in r]


def train_one(arm: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    name = f"coinduel_{arm}_seed{seed}"
    saved = Path(args.out_dir, name, "showcase.json")
    budget = args.selfplay_budget if arm == "selfplay" else args.budget
    if saved.is_file():
        row = json.loads(saved.read_text())
        if row.get("budget") == budget and row.get("eval_games") == args.eval_games and "curve" in row:
            print(f"{name}: reusing {saved}")
            return row
    env = "relayrl.envs.coin_duel:make_duel" if arm == "selfplay" else "examples.coin_duel_bots:make_env"
    env_kwargs = {"flat": {"curriculum": False}, "curriculum-rating": {"gate": "rating"}}.get(arm, {})
    cfg = relayrl.Config(
        env=env,
        experiment=name,
        train_dir=args.out_dir,
        train_for_env_steps=budget,
        seed=seed,
        environment=relayrl.EnvConfig(env_kwargs=env_kwargs),
        sampling=relayrl.SamplingConfig(num_workers=2, num_envs_per_worker=16),
        algorithm=relayrl.AlgorithmConfig(ent_coef=0.01),
        logging=relayrl.LoggingConfig(progress_bar=False, report_interval=10.0),
        checkpointing=relayrl.CheckpointConfig(resume=False),
        self_play=relayrl.SelfPlayConfig(enabled=arm == "selfplay"),
    )
    cfg = replace(
        cfg,
        evaluation__every_env_steps=args.eval_every,
        evaluation__episodes=args.eval_games,
        evaluation__opponents=OPPONENTS,
        # the bot arms train against a bot inside the env; evaluation plays the same game with both
        # players as agents, so that every listed bot can take the other seat
        evaluation__eval_env_kwargs={} if arm == "selfplay" else {"duel": True},
        evaluation__best_metric="eval/vs/bot_4/win_rate",
        # training fills both cores of a small machine: at the default idle priority the evaluator
        # would hardly ever get the CPU during these short runs
        evaluation__niceness=args.eval_niceness,
        opponent_ratings__enabled=arm == "curriculum-rating",
    )
    summary = relayrl.train(cfg)
    curve = evaluations(cfg)
    row = {
        "arm": arm,
        "seed": seed,
        "budget": budget,
        "eval_games": args.eval_games,
        "env_steps": summary.env_steps,
        "wall_seconds": summary.wall_seconds,
        "fps": summary.fps,
        "final_env_steps": curve[-1]["env_steps"] if curve else None,
        "final_win": curve[-1]["win"] if curve else [float("nan")] * len(BOTS),
        "curve": curve,
        "level": levels(cfg),
    }
    saved.write_text(json.dumps(row))
    return row


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import EngFormatter

    levels = len(BOT_GREEDINESS)
    arms = [arm for arm in ARMS if any(r["arm"] == arm for r in rows)]
    fig, axes = plt.subplots(1, len(arms), figsize=(5 * len(arms), 4), sharey=True, squeeze=False)
    axes = axes[0]
    colors = plt.get_cmap("viridis")
    for ax, arm in zip(axes, arms, strict=True):
        for row in (r for r in rows if r["arm"] == arm):
            steps = [p["env_steps"] for p in row["curve"]]
            for level in range(levels):
                label = f"bot {level} (greedy {BOT_GREEDINESS[level]:.2f})" if row["seed"] == rows[0]["seed"] else None
                ax.plot(
                    steps,
                    [p["win"][level] for p in row["curve"]],
                    color=colors(level / (levels - 1)),
                    alpha=0.7,
                    marker="o",
                    markersize=3,
                    label=label,
                )
        ax.set_title(arm)
        ax.set_xlabel("env steps (of the evaluated weights)")
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))
        ax.axhline(0.8, color="grey", linestyle=":", linewidth=1)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("win rate (evaluation during training)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    parser.add_argument("--budget", type=int, default=200_000, help="env steps of the bot arms")
    parser.add_argument("--selfplay-budget", type=int, default=300_000, help="env steps of the self-play arm")
    parser.add_argument("--eval-every", type=int, default=10_000, help="env steps between evaluations")
    parser.add_argument("--eval-games", type=int, default=50, help="games against each bot per evaluation")
    parser.add_argument("--eval-niceness", type=int, default=0, help="--eval-niceness of the runs")
    parser.add_argument("--out-dir", default="ma_showcase")
    args = parser.parse_args()
    Path(args.out_dir).mkdir(parents=True, exist_ok=True)
    rows = [train_one(arm, seed, args) for arm in args.arms for seed in args.seeds]
    print(
        "arm                seed  env steps  evaluated at  win rate vs bot 0..4 (last evaluation, greedy actions)"
        "  mean level >= 3.5 at"
    )
    for row in rows:
        wins = " / ".join(f"{w:.2f}" for w in row["final_win"])
        top = next((steps for steps, level in row.get("level", ()) if level >= 3.5), None)
        print(
            f"{row['arm']:<18} {row['seed']:>4}  {row['env_steps']:>9}  {row['final_env_steps']!s:>12}  {wins}"
            f"  {top if top is not None else '-'}"
        )
    Path(args.out_dir, "results.json").write_text(json.dumps(rows, indent=1))
    plot(rows, Path(args.out_dir, "win_rate.png"))


if __name__ == "__main__":
    main()
