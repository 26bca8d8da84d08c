"""Multi-agent showcase on CoinDuel: opponent-difficulty curriculum, flat training and self-play.

    python -m benchmarks.multiagent_showcase --seeds 1 2 3 --out-dir ma_showcase

Arms (same hyperparameters, entropy bonus 0.01, 2 workers x 16 envs):

- ``curriculum``: ``examples.coin_duel_bots:make_env``, each env instance's bot level driven by its own
  win rate (``OpponentCurriculum``), --budget env steps;
- ``flat``: the same env always against the strongest bot, --budget env steps;
- ``selfplay``: ``relayrl.envs.coin_duel:make_duel --self-play`` (never plays a bot), --selfplay-budget.

Every run keeps a checkpoint every --save-every seconds; each is evaluated in this process against every
bot level (--curve-games games per level, greedy actions) for the win-rate-over-env-steps plot, and the
final one against every level with --eval-games games. Prints a table, writes ``results.json`` and
``win_rate.png`` into --out-dir. A finished run leaves ``showcase.json`` in its folder and is reused.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import relayrl
from relayrl.envs.coin_duel import BOT_GREEDINESS, CoinDuelVsBot
from relayrl.evaluation import evaluate, policy_from_checkpoint
from relayrl.experiment import Experiment
from relayrl.trainer.checkpointer import read_checkpoint

ARMS = ("curriculum", "flat", "selfplay")


def win_rates(cfg: relayrl.Config, data: dict[str, Any], games: int, seed: int) -> list[float]:
    """Win rate of the checkpoint's policy 0 against every bot level."""
    out = []
    for level in range(len(BOT_GREEDINESS)):
        env = CoinDuelVsBot({"bot_level": level})
        model = policy_from_checkpoint(cfg, env, data)
        result = evaluate(env, model, games, seed=seed + 1000 * level, deterministic=True)
        out.append(result.extra_stats.get("win", 0.0))
    return out


def train_one(arm: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    name = f"coinduel_{arm}_seed{seed}"
    saved = Path(args.out_dir, name, "showcase.json")
    budget = args.selfplay_budget if arm == "selfplay" else args.budget
    if saved.is_file():
        row = json.loads(saved.read_text())
        if row.get("budget") == budget:
            print(f"{name}: reusing {saved}")
            return row
    env = "relayrl.envs.coin_duel:make_duel" if arm == "selfplay" else "examples.coin_duel_bots:make_env"
    cfg = relayrl.Config(
        env=env,
        experiment=name,
        train_dir=args.out_dir,
        train_for_env_steps=budget,
        seed=seed,
        environment=relayrl.EnvConfig(env_kwargs={"curriculum": False} if arm == "flat" else {}),
        sampling=relayrl.SamplingConfig(num_workers=2, num_envs_per_worker=16),
        algorithm=relayrl.AlgorithmConfig(ent_coef=0.01),
        logging=relayrl.LoggingConfig(progress_bar=False, report_interval=10.0),
        checkpointing=relayrl.CheckpointConfig(save_every_seconds=args.save_every, keep_checkpoints=1000, resume=False),
        self_play=relayrl.SelfPlayConfig(enabled=arm == "selfplay"),
    )
    summary = relayrl.train(cfg)
    experiment = Experiment.of(cfg)
    curve = []
    for path in experiment.checkpoints():
        data = read_checkpoint(path)
        curve.append({"env_steps": int(data["env_steps"]), "win": win_rates(cfg, data, args.curve_games, seed)})
    final = read_checkpoint(experiment.checkpoints()[-1])
    row = {
        "arm": arm,
        "seed": seed,
        "budget": budget,
        "env_steps": summary.env_steps,
        "wall_seconds": summary.wall_seconds,
        "fps": summary.fps,
        "final_win": win_rates(cfg, final, args.eval_games, seed + 7),
        "curve": curve,
    }
    saved.write_text(json.dumps(row))
    return row


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = len(BOT_GREEDINESS)
    fig, axes = plt.subplots(1, len(ARMS), figsize=(5 * len(ARMS), 4), sharey=True)
    colors = plt.get_cmap("viridis")
    for ax, arm in zip(axes, ARMS, strict=True):
        for row in (r for r in rows if r["arm"] == arm):
            steps = [p["env_steps"] for p in row["curve"]]
            for level in range(levels):
                label = f"bot {level} (greedy {BOT_GREEDINESS[level]:.2f})" if row["seed"] == rows[0]["seed"] else None
                ax.plot(
                    steps,
                    [p["win"][level] for p in row["curve"]],
                    color=colors(level / (levels - 1)),
                    alpha=0.7,
                    label=label,
                )
        ax.set_title(arm)
        ax.set_xlabel("env steps")
        ax.axhline(0.8, color="grey", linestyle=":", linewidth=1)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("win rate (evaluation)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    parser.add_argument("--budget", type=int, default=200_000, help="env steps of the bot arms")
    parser.add_argument("--selfplay-budget", type=int, default=300_000, help="env steps of the self-play arm")
    parser.add_argument("--save-every", type=float, default=4.0, help="seconds between checkpoints (curve points)")
    parser.add_argument("--curve-games", type=int, default=50)
    parser.add_argument("--eval-games", type=int, default=200)
    parser.add_argument("--out-dir", default="ma_showcase")
    args = parser.parse_args()
    Path(args.out_dir).mkdir(parents=True, exist_ok=True)
    rows = [train_one(arm, seed, args) for arm in args.arms for seed in args.seeds]
    print("arm        seed  env steps  win rate vs bot 0..4 (final checkpoint, greedy actions)")
    for row in rows:
        wins = " / ".join(f"{w:.2f}" for w in row["final_win"])
        print(f"{row['arm']:<10} {row['seed']:>4}  {row['env_steps']:>9}  {wins}")
    Path(args.out_dir, "results.json").write_text(json.dumps(rows, indent=1))
    plot(rows, Path(args.out_dir, "win_rate.png"))


if __name__ == "__main__":
    main()
