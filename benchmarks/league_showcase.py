"""League showcase on CoinDuel: opponent selection by rating against the other rules, and a league of 3.

    python -m benchmarks.league_showcase --seeds 1 2 3 --out-dir league_showcase
    python -m benchmarks.league_showcase --arms league3 --seeds 1

Arms (``relayrl.envs.coin_duel:make_duel --self-play``, never trained against a bot; same
hyperparameters, entropy bonus 0.01, 2 workers x 16 envs, the same env-step budget per selection arm):

- ``uniform``, ``hardest``: ``--self-play-opponents uniform`` / ``hardest`` (the pool's win rates);
- ``rating-hard``, ``rating-even``: ``--self-play-opponents rating --self-play-rating-weight hard`` /
  ``even`` (weights from the rating-predicted win probability, docs/league.md);
- ``league3``: ``--self-play --num-policies 3`` (three learners, each also playing the others) with
  ``--league-budget`` env steps, rating-hard selection.

The scores come from evaluation during training (docs/evaluation.md): every ``--eval-every`` env steps,
and once more at the end, each policy plays ``--eval-games`` greedy games against every scripted bot
(``--eval-opponents relayrl.envs.coin_duel:bot_0,...,bot_4``), whose games are also rated in the league.
The table shows the last evaluation (the final weights): the selection arms' win rate against the
strongest bot (``bot_4``), and each of league3's learners' win rate against the middle one (``bot_2``).
Prints the table and writes ``results.json`` into ``--out-dir``; a finished run leaves ``showcase.json``
in its folder and is reused.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

import relayrl
from relayrl.config import replace
from relayrl.envs.coin_duel import BOT_GREEDINESS
from relayrl.experiment import Experiment

SELECTION = {
    "uniform": {"self_play__opponents": "uniform"},
    "hardest": {"self_play__opponents": "hardest"},
    "rating-hard": {"self_play__opponents": "rating", "self_play__rating_weight": "hard"},
    "rating-even": {"self_play__opponents": "rating", "self_play__rating_weight": "even"},
}
ARMS = (*SELECTION, "league3")
BOTS = tuple(f"bot_{level}" for level in range(len(BOT_GREEDINESS)))
OPPONENTS = ",".join(f"relayrl.envs.coin_duel:{bot}" for bot in BOTS)
LEAGUE_SIZE = 3


def last_evaluation(cfg: relayrl.Config, policies: int) -> dict[str, Any]:
    """The run's last evaluation row: env steps and each policy's win rate against every bot."""
    path = Experiment.of(cfg).root / "progress.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    row = [r for r in rows if "eval/env_steps" in r][-1]
    prefix = ["eval/"] if policies == 1 else [f"eval/policy_{k}/" for k in range(policies)]
    return {
        "evaluated_at": int(row["eval/env_steps"]),
        "win": [[row[f"{p}vs/{bot}/win_rate"] for bot in BOTS] for p in prefix],
        "league": {key.split("/")[1]: value for key, value in rows[-1].items() if key.endswith("/ordinal")},
    }


def train_one(arm: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    name = f"league_{arm}_seed{seed}"
    saved = Path(args.out_dir, name, "showcase.json")
    policies = LEAGUE_SIZE if arm == "league3" else 1
    budget = args.league_budget if arm == "league3" else args.budget
    if saved.is_file():
        row = json.loads(saved.read_text())
        if row.get("budget") == budget and row.get("eval_games") == args.eval_games:
            print(f"{name}: reusing {saved}")
            return row
    cfg = relayrl.Config(
        env="relayrl.envs.coin_duel:make_duel",
        experiment=name,
        train_dir=args.out_dir,
        train_for_env_steps=budget,
        seed=seed,
        sampling=relayrl.SamplingConfig(num_workers=2, num_envs_per_worker=16),
        algorithm=relayrl.AlgorithmConfig(ent_coef=0.01),
        logging=relayrl.LoggingConfig(progress_bar=False, report_interval=10.0),
        checkpointing=relayrl.CheckpointConfig(resume=False),
    )
    selection = SELECTION.get(arm, SELECTION["rating-hard"])
    cfg = replace(
        cfg,
        self_play__enabled=True,
        multi_agent__num_policies=policies,
        evaluation__every_env_steps=args.eval_every,
        evaluation__episodes=args.eval_games,
        evaluation__opponents=OPPONENTS,
        evaluation__best_metric="eval/vs/bot_4/win_rate",
        # training fills both cores of a small machine: at the default idle priority the evaluator
        # would hardly ever get the CPU during these short runs
        evaluation__niceness=args.eval_niceness,
        **selection,
    )
    summary = relayrl.train(cfg)
    last = last_evaluation(cfg, policies)
    row = {"arm": arm, "seed": seed, "budget": budget, "eval_games": args.eval_games, **last}
    row.update(env_steps=summary.env_steps, wall_seconds=summary.wall_seconds, fps=summary.fps)
    saved.write_text(json.dumps(row))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    parser.add_argument("--budget", type=int, default=150_000, help="env steps of each selection arm")
    parser.add_argument("--league-budget", type=int, default=600_000, help="env steps of the league3 arm")
    parser.add_argument("--eval-every", type=int, default=50_000, help="env steps between evaluations")
    parser.add_argument("--eval-games", type=int, default=100, help="games against each bot per evaluation")
    parser.add_argument("--eval-niceness", type=int, default=0, help="--eval-niceness of the runs")
    parser.add_argument("--out-dir", default="league_showcase")
    args = parser.parse_args()
    Path(args.out_dir).mkdir(parents=True, exist_ok=True)
    rows = [train_one(arm, seed, args) for arm in args.arms for seed in args.seeds]
    print("arm          seed  env steps  evaluated at  win rate vs bot 0..4 (final weights, greedy), per policy")
    for row in rows:
        wins = " | ".join(" / ".join(f"{w:.2f}" for w in policy) for policy in row["win"])
        print(f"{row['arm']:<12} {row['seed']:>4}  {row['env_steps']:>9}  {row['evaluated_at']:>12}  {wins}")
    print("\narm          mean win rate vs bot_4 over seeds (selection arms) / vs bot_2 per learner (league3)")
    for arm in args.arms:
        arm_rows = [r for r in rows if r["arm"] == arm]
        if arm == "league3":
            for k in range(LEAGUE_SIZE):
                rates = [r["win"][k][2] for r in arm_rows]
                print(
                    f"{arm:<12} policy {k}: {statistics.mean(rates):.3f} (per seed {', '.join(f'{x:.2f}' for x in rates)})"
                )
        else:
            rates = [r["win"][0][4] for r in arm_rows]
            print(f"{arm:<12} {statistics.mean(rates):.3f} (per seed {', '.join(f'{x:.2f}' for x in rates)})")
    Path(args.out_dir, "results.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
