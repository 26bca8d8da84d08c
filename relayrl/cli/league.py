"""``relayrl league``: print the league table of an experiment trained with ``--self-play`` or
``--rate-opponent-levels``, or, with
``--tournament``, play a round robin among chosen players and print their fitted ratings and win-rate
matrix (relayrl/league/tournament.py and contestants.py; docs/league.md).

``league_table(LeagueConfig(experiment=...))`` reads the checkpoint (the latest by default) and returns
its ratings (the ``league`` entry of the self-play pool or of the opponent-level ratings, relayrl/league/), best conservative estimate
(``mu - 3 sigma``) first; ``format_table`` makes the printed text. Reading needs no openskill. An
experiment, checkpoint or rating that is missing is a ``ConfigError`` naming the fix (exit 2).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from relayrl.cli.parsing import parse
from relayrl.cli.policy_choice import read_checkpoint_file
from relayrl.config import ConfigError
from relayrl.experiment import Experiment
from relayrl.league.contestants import play_tournament
from relayrl.league.ratings import Ratings, Row
from relayrl.league.tournament import DEFAULT_PASSES, format_tournament
from relayrl.utils.logs import setup_logging


@dataclasses.dataclass(frozen=True)
class LeagueConfig:
    """Print the league table (every player's rating) of an experiment trained with --self-play or
    --rate-opponent-levels, or with --tournament play a round robin among its checkpoints and scripted
    opponents and print theirs."""

    experiment: str
    """Experiment name: the folder under train_dir that training wrote."""

    train_dir: str = "train_dir"
    """Root folder for experiments."""

    checkpoint: str = "latest"
    """Which checkpoint's ratings: ``latest``, ``best`` or a path to a ``.pt`` file."""

    tournament: bool = False
    """Play a round robin among --players instead, then print their ratings and win-rate matrix."""

    games: int = 100
    """--tournament: games each pair of players plays (seats alternate; an even number balances them)."""

    players: str = ""
    """--tournament: a comma list of players: checkpoint:<latest|best|env steps|file>, policy:<k>[@<which>],
    package.module:function (a scripted opponent). Default: a spread of the experiment's checkpoints and best."""

    deterministic: bool = False
    """--tournament: the policies act greedily (default: they sample their actions, as in training)."""

    seed: int = 0
    """--tournament: seeds the games (each pair's games are reproducible on their own)."""

    passes: int = DEFAULT_PASSES
    """--tournament: rating passes over the games (docs/league.md#tournament)."""

    out: str | None = None
    """--tournament: also write the matrices, the ratings and the predicted win probabilities to this JSON file."""


@dataclasses.dataclass(frozen=True)
class LeagueTableView:
    """The table of one checkpoint: its rows (best first), the players in play, where it came from."""

    rows: list[Row]
    active: frozenset[str]
    """The learners and the snapshots in the pool when the checkpoint was written."""
    checkpoint: str
    env_steps: int


LEAGUE_OWNERS = ("self_play", "opponent_ratings")
"""The checkpoint entries (extension names) that may hold a league's ratings, under ``league``."""


def _saved_league(data: Mapping[str, Any], owner: str) -> Any:
    saved = (data.get(owner) or {}).get("league")
    return saved if saved and saved.get("players") else None


def league_table(cfg: LeagueConfig) -> LeagueTableView:
    """The ratings saved in the experiment's checkpoint; ConfigError when it has none."""
    experiment = Experiment.existing(cfg.train_dir, cfg.experiment)
    data = read_checkpoint_file(experiment, cfg.checkpoint)
    path = str(data.get("path", cfg.checkpoint))
    saved: Any = next((s for s in (_saved_league(data, owner) for owner in LEAGUE_OWNERS) if s), None)
    if not saved:
        raise ConfigError(
            f"checkpoint {path} of experiment {cfg.experiment} holds no league ratings; they are kept by runs "
            "trained with --self-play or --rate-opponent-levels (and openskill installed: pip install "
            "'relayrl[league]')."
        )
    ratings = Ratings()
    ratings.load_state_dict(saved)
    return LeagueTableView(ratings.table(), frozenset(saved.get("active", ())), path, int(data.get("env_steps", 0)))


def _status(row: Row, view: LeagueTableView) -> str:
    if row.player.startswith("policy_"):
        return "learner"
    if row.player.startswith("bot:"):
        return "scripted"  # an opponent level, or rated through evaluation matches
    return "in pool" if row.player in view.active else "retired"


def format_table(view: LeagueTableView) -> str:
    """The table as text: one line per player, best conservative estimate first."""
    width = max(len("player"), *(len(row.player) for row in view.rows))
    lines = [
        f"league table of {view.checkpoint} ({view.env_steps:,} env steps), best conservative estimate first",
        f"{'rank':>4}  {'player':<{width}}  {'mu':>7}  {'sigma':>6}  {'mu-3sigma':>9}  {'games':>7}  status",
    ]
    for rank, row in enumerate(view.rows, 1):
        lines.append(
            f"{rank:>4}  {row.player:<{width}}  {row.mu:>7.2f}  {row.sigma:>6.2f}  {row.ordinal:>9.2f}  "
            f"{row.games:>7}  {_status(row, view)}"
        )
    return "\n".join(lines)


def tournament(cfg: LeagueConfig) -> str:
    """Play ``cfg``'s tournament; its printed text (and the ``--out`` JSON written)."""
    if cfg.passes < 1:
        raise ConfigError(f"--passes must be >= 1 (got {cfg.passes}).")
    experiment = Experiment.existing(cfg.train_dir, cfg.experiment)
    specs = [s.strip() for s in cfg.players.split(",") if s.strip()]
    result = play_tournament(
        experiment, experiment.read_config(), specs or None, cfg.games, cfg.deterministic, cfg.seed, cfg.passes
    )
    if cfg.out:
        Path(cfg.out).parent.mkdir(parents=True, exist_ok=True)
        Path(cfg.out).write_text(json.dumps(result.to_json(), indent=1))
    return format_tournament(result)


def run(argv: Sequence[str]) -> int:
    """``relayrl league`` flags -> the table (or the tournament's results) on stdout."""
    cfg = parse(LeagueConfig, argv, "league")
    setup_logging("main")
    print(tournament(cfg) if cfg.tournament else format_table(league_table(cfg)))
    return 0
