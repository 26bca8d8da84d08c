"""Round-robin tournaments: every pair of players plays N games, then the ratings are fit to the games
(``relayrl league --tournament``, docs/league.md).

The pure part lives here: the schedule (``round_robin``: seats alternate within a pair), the ratings fit
(``fit_ratings``), the win-rate, draw-rate and predicted matrices (``TournamentResult``), the JSON and
the printed table. Turning player specs into players and playing the games is ``contestants.py``.

**How ratings are fit.** A fresh ``Ratings`` rates every game once, in a shuffled (seeded) order: the
players are fixed, so there is no drift, and the shuffle keeps the order of the schedule (all of one
pair's games, then the next pair's) out of the result. Openskill's update is online: a game rated early,
against an opponent whose mean was still far from its final value, is not revisited. ``passes`` > 1 rates
the games again (reshuffled), each pass starting from the previous pass's means with a new player's
sigma, so that every game is rated against opponents already near their fitted means; each pass counts
every game once (sigma and ``games`` are one pass's). On the CoinDuel calibration run (docs/league.md)
more passes did not predict held-out games better: lopsided pairs (one side wins every game) pull the
means further apart each pass, no longer held by the new-player prior. So one pass is the default.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections.abc import Sequence
from typing import Any

from relayrl.errors import ConfigError
from relayrl.league.ratings import Ratings

DEFAULT_PASSES = 1
"""Rating passes over the games (see the module docstring)."""


@dataclasses.dataclass(frozen=True)
class Game:
    """One game of the tournament: players ``a`` and ``b`` (indices into the player list, ``a < b``), the
    game's index within the pair, whether ``a`` had the first seat, and ``a``'s score (1 won, 0.5 draw,
    0 lost)."""

    a: int
    b: int
    index: int
    a_first: bool
    score_a: float


def check_tournament(players: Sequence[str], games: int) -> None:
    """ConfigError for fewer than 2 players, a player named twice, or fewer than 1 game per pair."""
    if len(players) < 2:
        given = ", ".join(players) or "none"
        raise ConfigError(f"a tournament needs at least 2 players (got {given}); list them with --players P1,P2,...")
    dupes = sorted({p for p in players if list(players).count(p) > 1})
    if dupes:
        raise ConfigError(f"--players names {', '.join(dupes)} twice; give each player once.")
    if games < 1:
        raise ConfigError(f"--games must be >= 1 (got {games}): the games each pair of players plays.")


def round_robin(num_players: int, games: int) -> list[tuple[int, int, int, bool]]:
    """Every pair ``a < b`` plays ``games`` games: ``(a, b, index, a_first)``, ``a`` in the first seat in
    the even-numbered games (an even ``games`` gives both players the first seat equally often)."""
    return [(a, b, i, i % 2 == 0) for a, b in itertools.combinations(range(num_players), 2) for i in range(games)]


def fit_ratings(players: Sequence[str], games: Sequence[Game], passes: int = DEFAULT_PASSES, seed: int = 0) -> Ratings:
    """Ratings of ``players`` fit to ``games`` in ``passes`` passes (see the module docstring); the
    players are fixed (no drift). ValueError for ``passes < 1``."""
    if passes < 1:
        raise ValueError(f"passes must be >= 1, got {passes}")
    rng = random.Random(seed)
    means: dict[str, float] = {}
    ratings = Ratings()
    for _ in range(passes):
        ratings = Ratings()
        for player in players:
            ratings.add(player, mu=means.get(player))
        order = list(games)
        rng.shuffle(order)
        for game in order:
            ratings.record(players[game.a], players[game.b], game.score_a)
        means = {player: ratings[player].mu for player in players}
    return ratings


def _pair_means(n: int, games: Sequence[Game], value: Any) -> list[list[float | None]]:
    """Matrix of the mean of ``value(game, row is a)`` over each pair's games (None: no games)."""
    sums = [[0.0] * n for _ in range(n)]
    counts = [[0] * n for _ in range(n)]
    for g in games:
        for row, col, is_a in ((g.a, g.b, True), (g.b, g.a, False)):
            sums[row][col] += value(g, is_a)
            counts[row][col] += 1
    return [[sums[r][c] / counts[r][c] if counts[r][c] else None for c in range(n)] for r in range(n)]


def win_matrix(n: int, games: Sequence[Game]) -> list[list[float | None]]:
    """``m[r][c]``: player ``r``'s win rate against ``c``, a draw counted as half a win (so
    ``m[r][c] + m[c][r] == 1``); None on the diagonal and for pairs without games."""
    return _pair_means(n, games, lambda g, is_a: g.score_a if is_a else 1.0 - g.score_a)


def draw_matrix(n: int, games: Sequence[Game]) -> list[list[float | None]]:
    """``m[r][c]``: the share of drawn games between ``r`` and ``c`` (symmetric)."""
    return _pair_means(n, games, lambda g, is_a: float(g.score_a == 0.5))


def overall_win_rates(n: int, games: Sequence[Game]) -> list[float | None]:
    """Each player's win rate over all its games (draws as half)."""
    sums, counts = [0.0] * n, [0] * n
    for g in games:
        sums[g.a] += g.score_a
        sums[g.b] += 1.0 - g.score_a
        counts[g.a] += 1
        counts[g.b] += 1
    return [sums[i] / counts[i] if counts[i] else None for i in range(n)]


def predicted_matrix(players: Sequence[str], ratings: Ratings) -> list[list[float | None]]:
    """``m[r][c]``: ``ratings.predict_win(r, c)`` (None on the diagonal)."""
    return [[None if a == b else ratings.predict_win(a, b) for b in players] for a in players]


@dataclasses.dataclass
class TournamentResult:
    """A played tournament: its players (in the given order), games, settings and fitted ratings."""

    players: list[str]
    games: list[Game]
    games_per_pair: int
    deterministic: bool
    seed: int
    passes: int
    ratings: Ratings

    @property
    def matrix(self) -> list[list[float | None]]:
        return win_matrix(len(self.players), self.games)

    def to_json(self) -> dict[str, Any]:
        """Plain data: settings, players, ``win_rate`` / ``draw_rate`` / ``predicted_win`` matrices (row
        player against column player), ``ratings`` (player -> mu, sigma, ordinal, games, win_rate) and
        ``games`` (``[a, b, index, a_first, score_a]`` each)."""
        n = len(self.players)
        overall = overall_win_rates(n, self.games)
        ratings = {
            p: {"mu": r.mu, "sigma": r.sigma, "ordinal": r.ordinal, "games": r.games, "win_rate": overall[i]}
            for i, p in enumerate(self.players)
            for r in [self.ratings[p]]
        }
        return {
            "players": self.players,
            "games_per_pair": self.games_per_pair,
            "deterministic": self.deterministic,
            "seed": self.seed,
            "passes": self.passes,
            "win_rate": self.matrix,
            "draw_rate": draw_matrix(n, self.games),
            "predicted_win": predicted_matrix(self.players, self.ratings),
            "ratings": ratings,
            "games": [[g.a, g.b, g.index, g.a_first, g.score_a] for g in self.games],
        }


def format_tournament(result: TournamentResult) -> str:
    """The ratings table (best conservative estimate first) and the win-rate matrix as text."""
    n = len(result.players)
    overall = overall_win_rates(n, result.games)
    index = {p: i for i, p in enumerate(result.players)}
    width = max(len("player"), *(len(p) for p in result.players))
    actions = "greedy" if result.deterministic else "sampled"
    passes = "1 pass" if result.passes == 1 else f"{result.passes} passes"
    lines = [
        f"tournament: {n} players, {result.games_per_pair} games per pair ({len(result.games)} games, {actions} "
        f"actions, seed {result.seed}); ratings fit in {passes}, best conservative estimate first",
        f"{'#':>3}  {'player':<{width}}  {'mu':>7}  {'sigma':>6}  {'mu-3sigma':>9}  {'games':>6}  {'win rate':>8}",
    ]
    for row in result.ratings.table():
        i = index[row.player]
        rate = overall[i]
        shown = f"{rate:>8.3f}" if rate is not None else f"{'-':>8}"
        lines.append(
            f"{i + 1:>3}  {row.player:<{width}}  {row.mu:>7.2f}  {row.sigma:>6.2f}  {row.ordinal:>9.2f}  "
            f"{row.games:>6}  {shown}"
        )
    lines += ["", "win rate of the row player against the column player (draws count half):"]
    lines.append(f"{'':>3}  {'':<{width}}" + "".join(f"{c + 1:>7}" for c in range(n)))
    for r, row_values in enumerate(result.matrix):
        cells = "".join(f"{'-':>7}" if v is None else f"{v:>7.2f}" for v in row_values)
        lines.append(f"{r + 1:>3}  {result.players[r]:<{width}}{cells}")
    return "\n".join(lines)
