"""League calibration on CoinDuel: do the ratings predict who wins?

    python -m benchmarks.league_calibration --out-dir league_calibration

1. Trains a short self-play run (``relayrl.envs.coin_duel:make_duel --self-play``, --budget env steps),
   writing a checkpoint every --save-every seconds and keeping all of them, so that the experiment
   holds checkpoints of many ages (a finished run is reused).
2. Holds out a round-robin tournament (relayrl/league/tournament.py) among --checkpoints checkpoints of
   evenly spread ages and the scripted bots ``bot_0`` .. ``bot_4``: --games games per pair, seats
   alternating, sampled actions.
3. Splits every pair's games into two halves (games 0-1, 4-5, ... and games 2-3, 6-7, ...: each half
   has both seat orders equally often): fits the ratings on one half (``fit_ratings``, for each of
   --passes) and compares, for every pair, the win probability ``Ratings.predict_win`` gives with the
   win rate observed in the other half (draws as half a win), then the other way round. Reports the
   mean absolute error over those points, the same for the logistic read-out of the same ratings (the
   likelihood openskill's update fits), the noise floor (one half's observed win rates as the
   prediction of the other's), the share of draws and openskill's ``predict_draw``, and saves the
   calibration plot (predicted vs observed, one dot per pair and half; both read-outs).

Writes ``results.json`` and ``league_calibration.png`` into --out-dir (``--plot`` copies the plot
elsewhere, e.g. docs/img/league_calibration.png).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import shutil
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import relayrl  # noqa: E402
from relayrl.envs.coin_duel import BOT_GREEDINESS  # noqa: E402
from relayrl.experiment import Experiment  # noqa: E402
from relayrl.league.contestants import default_players, play_tournament  # noqa: E402
from relayrl.league.tournament import Game, TournamentResult, fit_ratings, win_matrix  # noqa: E402

EXPERIMENT = "coinduel_league_calibration"
BOTS = [f"relayrl.envs.coin_duel:bot_{level}" for level in range(len(BOT_GREEDINESS))]


def train(args: argparse.Namespace) -> None:
    """The self-play run; skipped when the experiment already reached the budget."""
    experiment = Experiment(args.out_dir, EXPERIMENT)
    done = experiment.checkpoints()
    if done and int(done[-1].stem.rsplit("_", 1)[1]) >= args.budget:
        print(f"{EXPERIMENT}: reusing {len(done)} checkpoints in {experiment.checkpoint_dir}")
        return
    cfg = relayrl.Config(
        env="relayrl.envs.coin_duel:make_duel",
        experiment=EXPERIMENT,
        train_dir=args.out_dir,
        train_for_env_steps=args.budget,
        seed=args.seed,
        sampling=relayrl.SamplingConfig(num_workers=2, num_envs_per_worker=16),
        algorithm=relayrl.AlgorithmConfig(ent_coef=0.01),
        logging=relayrl.LoggingConfig(progress_bar=False, report_interval=10.0),
        # every checkpoint kept: the tournament picks ages spread over the whole run
        checkpointing=relayrl.CheckpointConfig(resume=False, save_every_seconds=args.save_every, keep_checkpoints=1000),
        self_play=relayrl.SelfPlayConfig(enabled=True),
    )
    t0 = time.monotonic()
    summary = relayrl.train(cfg)
    print(f"trained {summary.env_steps:,} env steps in {time.monotonic() - t0:.0f} s ({summary.fps:.0f} env steps/s)")


def halves(games: list[Game]) -> tuple[list[Game], list[Game]]:
    """Games 0-1, 4-5, ... of every pair and games 2-3, 6-7, ...: both seat orders in each half."""
    first = [g for g in games if (g.index // 2) % 2 == 0]
    return first, [g for g in games if (g.index // 2) % 2 == 1]


def calibration(result: TournamentResult, passes: int, seed: int) -> list[dict[str, Any]]:
    """One point per pair and direction: ratings fit on one half, predicted vs observed on the other."""
    names, n = result.players, len(result.players)
    points = []
    for fit_on, held_out in (halves(result.games), halves(result.games)[::-1]):
        ratings = fit_ratings(names, fit_on, passes, seed)
        observed = win_matrix(n, held_out)
        draws = [[0.0] * n for _ in range(n)]
        for g in held_out:
            draws[g.a][g.b] += float(g.score_a == 0.5) / (len(held_out) / (n * (n - 1) / 2))
        model = ratings.model
        for a in range(n):
            for b in range(a + 1, n):
                ra, rb = ratings[names[a]], ratings[names[b]]
                teams = [[model.rating(ra.mu, ra.sigma)], [model.rating(rb.mu, rb.sigma)]]
                scale = math.sqrt(2 * model.beta**2 + ra.sigma**2 + rb.sigma**2)
                points.append(
                    {
                        "a": names[a],
                        "b": names[b],
                        "predicted": ratings.predict_win(names[a], names[b]),
                        # the win probability of the likelihood the Plackett-Luce update itself fits (for a
                        # two-player game: logistic in the mean difference over the same scale)
                        "logistic": 1.0 / (1.0 + math.exp(-(ra.mu - rb.mu) / scale)),
                        "observed": observed[a][b],
                        "draw_rate": draws[a][b],
                        "predicted_draw": float(model.predict_draw(teams)),
                    }
                )
    return points


def _pairs(m1: list[list[float | None]], m2: list[list[float | None]]) -> list[tuple[float, float]]:
    n = len(m1)
    return [(float(m1[a][b] or 0.0), float(m2[a][b] or 0.0)) for a in range(n) for b in range(a + 1, n)]


def mae_of(points: list[dict[str, Any]], key: str, truth: str) -> float:
    """Mean absolute error of ``key`` against ``truth`` over the points."""
    return sum(abs(p[key] - p[truth]) for p in points) / len(points)


def kind(name: str) -> str:
    return "bot" if name.startswith("relayrl.envs") else "checkpoint"


def mae(points: list[dict[str, Any]], key: str) -> float:
    """Mean absolute error of the ``key`` predictions against the observed win rates."""
    return mae_of(points, key, "observed")


def plot(points: list[dict[str, Any]], path: Path) -> None:
    """Predicted vs observed, one dot per pair and half: ``predict_win`` (left) and the logistic (right)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 5), sharey=True)
    styles = {
        ("bot", "bot"): ("tab:gray", "bot vs bot"),
        ("checkpoint", "bot"): ("tab:blue", "checkpoint vs bot"),
        ("checkpoint", "checkpoint"): ("tab:red", "checkpoint vs checkpoint"),
    }
    titles = {"predicted": "Ratings.predict_win (openskill, probit)", "logistic": "logistic (the update's likelihood)"}
    for ax, (key, title) in zip(axes, titles.items(), strict=True):
        for pair, (color, label) in styles.items():
            chosen = [p for p in points if tuple(sorted((kind(p["a"]), kind(p["b"])), reverse=True)) == pair]
            ax.scatter([p[key] for p in chosen], [p["observed"] for p in chosen], s=18, color=color, label=label)
        ax.plot([0, 1], [0, 1], color="black", lw=0.8, label="perfect calibration")
        ax.set_xlabel("predicted win probability (ratings fit on the other half)")
        ax.set_title(f"{title}: MAE {mae(points, key):.3f}", fontsize=10)
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
    axes[0].set_ylabel("observed win rate (draws count half)")
    axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle("CoinDuel league calibration: 10 players, 200 games per pair")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", default="league_calibration")
    parser.add_argument("--budget", type=int, default=300_000, help="env steps of the self-play run")
    parser.add_argument("--save-every", type=float, default=3.0, help="seconds between checkpoints")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--checkpoints", type=int, default=5, help="checkpoints in the tournament")
    parser.add_argument("--games", type=int, default=200, help="games per pair")
    parser.add_argument("--passes", type=int, nargs="+", default=[1, 2, 3], help="rating passes compared")
    parser.add_argument("--plot", default=None, help="also copy the plot here (docs/img/league_calibration.png)")
    parser.add_argument("--train-only", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train(args)
    if args.train_only:
        return
    experiment = Experiment(args.out_dir, EXPERIMENT)
    # the spread of the periodic checkpoints the tournament command picks by default (without best.pt,
    # usually one of them again), thinned to --checkpoints
    spread = [p for p in default_players(experiment, 1) if p != "checkpoint:best"]
    picks = sorted({round(i * (len(spread) - 1) / (args.checkpoints - 1)) for i in range(args.checkpoints)})
    players = [spread[i] for i in picks] + BOTS
    t0 = time.monotonic()
    result = play_tournament(experiment, experiment.read_config(), players, args.games, seed=args.seed)
    seconds = time.monotonic() - t0
    print(f"tournament: {len(players)} players, {len(result.games)} games in {seconds:.0f} s")
    rows = []
    for passes in args.passes:
        points = calibration(result, passes, args.seed)
        worst = max(abs(p["predicted"] - p["observed"]) for p in points)
        row = {"passes": passes, "mae": mae(points, "predicted"), "max_error": worst}
        rows.append({**row, "mae_logistic": mae(points, "logistic"), "points": points})
        print(
            f"passes {passes}: predict_win MAE {row['mae']:.4f} (max error {worst:.3f}), logistic MAE "
            f"{rows[-1]['mae_logistic']:.4f}, over {len(points)} points (pairs x 2 halves)"
        )
    first, second = halves(result.games)
    n = len(players)
    observed = _pairs(win_matrix(n, first), win_matrix(n, second))
    noise = sum(abs(x - y) for x, y in observed) / len(observed)
    print(f"noise floor (one half's observed win rates as the prediction of the other's): MAE {noise:.4f}")
    chosen = next((r for r in rows if r["passes"] == result.passes), rows[0])
    points = chosen["points"]
    draws = sum(p["draw_rate"] for p in points) / len(points)
    predicted_draws = sum(p["predicted_draw"] for p in points) / len(points)
    print(
        f"draws: {draws:.3f} of the games on average (up to {max(p['draw_rate'] for p in points):.3f} in one pair's "
        "half); "
        f"openskill predict_draw: {predicted_draws:.3f} on average, MAE {mae_of(points, 'predicted_draw', 'draw_rate'):.3f}"
    )
    (out / "results.json").write_text(
        json.dumps(
            {"tournament": result.to_json(), "seconds": seconds, "noise_floor": noise, "calibration": rows}, indent=1
        )
    )
    png = out / "league_calibration.png"
    plot(points, png)
    if args.plot:
        Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(png, args.plot)
    print(f"wrote {out / 'results.json'} and {png}")


if __name__ == "__main__":
    main()
