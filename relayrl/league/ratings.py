"""Skill ratings with uncertainty for every player of a league (Weng-Lin Bayesian ratings, ``openskill``).

A player is a string id:

- ``policy_<k>``: learning policy ``k`` (its skill changes as it trains);
- ``snapshot_<k>_<v>``: a frozen copy of policy ``k``'s weights at policy version ``v`` (``snapshot_id``);
- ``bot:<name>``: a scripted opponent (e.g. ``bot:relayrl.envs.coin_duel:bot_4``);
- ``bot:level_<n>``: level ``n`` of the scripted opponents inside a single-agent env (``level_id``).

Each player's skill is a normal distribution N(mu, sigma^2); the conservative estimate (the *ordinal*)
is ``mu - 3 sigma``: the player is at least that good with ~99.7% confidence. New players start at
openskill's defaults (mu 25, sigma 25/3).

The model is openskill's ``PlackettLuce``: the library's default and most tested model; it rates
teams and games of more than two players (a later league plays free-for-alls and team games with
the same ratings), and for a two-player game it is the logistic (Bradley-Terry) update of the
Weng-Lin paper. ``BradleyTerryFull`` would give nearly the same two-player updates, more slowly for
many players.

Players whose skill changes (learning policies: ``add(..., changing=True)``) have their sigma widened
by ``DRIFT`` (openskill's default ``tau``, 25/300) before each of their games, so their rating keeps
following them instead of settling; frozen players (snapshots, bots) keep what they learned. (The
library's own ``tau`` widens every player of a game, so the model is built with ``tau=0``.)

A snapshot starts from its parent's rating when it is taken (``add_snapshot``): the same mu and a
wider sigma, ``sqrt(sigma_parent^2 + widen^2)`` (``SNAPSHOT_WIDEN`` by default): the parent's rating
was fit to games of its recent past weights, so the snapshot's skill is known less well than that.

``openskill`` is imported only when a game is rated or predicted (``pip install 'relayrl[league]'``):
a saved table can be read and printed without it.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
from collections.abc import Mapping
from typing import Any

from relayrl.errors import ConfigError

MU = 25.0
"""A new player's mean skill (openskill's default)."""
SIGMA = MU / 3
"""A new player's uncertainty (openskill's default)."""
DRIFT = MU / 300
"""Added (in quadrature) to a changing player's sigma before each of its games (openskill's default tau)."""
SNAPSHOT_WIDEN = 2.0
"""Added (in quadrature) to the parent's sigma when a snapshot is taken."""
Z = 3.0
"""The conservative estimate is ``mu - Z * sigma``."""
INSTALL_HINT = "pip install 'relayrl[league]'"


def openskill_available() -> bool:
    """Whether the ``openskill`` package can be imported (without importing it)."""
    return importlib.util.find_spec("openskill") is not None


def _plackett_luce() -> Any:
    try:
        from openskill.models import PlackettLuce
    except ImportError as exc:
        raise ConfigError(f"league ratings need the openskill package: {INSTALL_HINT}.") from exc
    return PlackettLuce(mu=MU, sigma=SIGMA, tau=0.0)


def policy_id(k: int) -> str:
    """The player id of learning policy ``k``."""
    return f"policy_{k}"


def snapshot_id(k: int, version: int) -> str:
    """The player id of policy ``k``'s frozen weights at policy version ``version``."""
    return f"snapshot_{k}_{version}"


def bot_id(name: str) -> str:
    """The player id of a scripted opponent named ``name``."""
    return f"bot:{name}"


def level_id(level: int) -> str:
    """The player id of scripted opponent level ``level`` (played inside a single-agent env)."""
    return bot_id(f"level_{level}")


@dataclasses.dataclass
class Rating:
    """One player's rating: mean skill, its uncertainty, games rated, and whether its skill changes."""

    mu: float
    sigma: float
    games: int = 0
    changing: bool = False

    @property
    def ordinal(self) -> float:
        """The conservative estimate ``mu - 3 sigma``."""
        return self.mu - Z * self.sigma


@dataclasses.dataclass(frozen=True)
class Row:
    """One line of the league table."""

    player: str
    mu: float
    sigma: float
    ordinal: float
    games: int


class Ratings:
    """The ratings of a set of players (see the module docstring): add players, record two-player
    games, predict who wins, and save or restore the whole table."""

    def __init__(self) -> None:
        self.players: dict[str, Rating] = {}
        self._model: Any = None

    @property
    def model(self) -> Any:
        """The openskill ``PlackettLuce`` model (imported on first use; ConfigError when missing)."""
        if self._model is None:
            self._model = _plackett_luce()
        return self._model

    def __contains__(self, player: object) -> bool:
        return player in self.players

    def __getitem__(self, player: str) -> Rating:
        return self._get(player)

    def add(self, player: str, mu: float | None = None, sigma: float | None = None, changing: bool = False) -> None:
        """A new player at ``mu`` / ``sigma`` (default: a new player's ``MU`` / ``SIGMA``); ``changing``
        for a player whose skill changes (a learner: see ``DRIFT``). ValueError when it exists."""
        if player in self.players:
            raise ValueError(f"player {player!r} is already rated")
        sigma = SIGMA if sigma is None else float(sigma)
        if not sigma > 0:
            raise ValueError(f"sigma must be > 0 (got {sigma} for {player!r})")
        self.players[player] = Rating(MU if mu is None else float(mu), sigma, changing=changing)

    def add_snapshot(self, child: str, parent: str, sigma_widen: float = SNAPSHOT_WIDEN) -> None:
        """A frozen copy of ``parent`` taken now: its mu, its sigma widened to
        ``sqrt(sigma^2 + sigma_widen^2)``; the child never drifts (see the module docstring)."""
        rating = self._get(parent)
        self.add(child, rating.mu, math.sqrt(rating.sigma**2 + sigma_widen**2), changing=False)

    def record(self, a: str, b: str, score_a: float) -> None:
        """Rate one game of ``a`` against ``b``: ``score_a`` 1 (a won), 0 (b won) or 0.5 (a draw: equal
        ranks, which openskill pulls the two means together for)."""
        if score_a not in (0.0, 0.5, 1.0):
            raise ValueError(f"score_a must be 1 (win), 0 (loss) or 0.5 (draw), got {score_a}")
        if a == b:
            raise ValueError(f"a game needs two players, got {a!r} twice")
        ra, rb = self._get(a), self._get(b)
        model = self.model
        for r in (ra, rb):
            if r.changing:
                r.sigma = math.sqrt(r.sigma**2 + DRIFT**2)
        ranks = {1.0: [0, 1], 0.0: [1, 0], 0.5: [0, 0]}[score_a]
        [[na], [nb]] = model.rate([[model.rating(ra.mu, ra.sigma)], [model.rating(rb.mu, rb.sigma)]], ranks=ranks)
        ra.mu, ra.sigma, ra.games = float(na.mu), float(na.sigma), ra.games + 1
        rb.mu, rb.sigma, rb.games = float(nb.mu), float(nb.sigma), rb.games + 1

    def predict_win(self, a: str, b: str) -> float:
        """The probability that ``a`` beats ``b`` (openskill's ``predict_win``:
        ``Phi((mu_a - mu_b) / sqrt(2 beta^2 + sigma_a^2 + sigma_b^2))``)."""
        ra, rb = self._get(a), self._get(b)
        model = self.model
        p, _ = model.predict_win([[model.rating(ra.mu, ra.sigma)], [model.rating(rb.mu, rb.sigma)]])
        return float(p)

    def table(self) -> list[Row]:
        """Every player, best conservative estimate first."""
        rows = [Row(name, r.mu, r.sigma, r.ordinal, r.games) for name, r in self.players.items()]
        return sorted(rows, key=lambda row: (-row.ordinal, row.player))

    def state_dict(self) -> dict[str, Any]:
        """Plain data: ``{"model": "PlackettLuce", "players": {id: {mu, sigma, games, changing}}}``."""
        return {"model": "PlackettLuce", "players": {name: dataclasses.asdict(r) for name, r in self.players.items()}}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Replace every rating with the saved ones."""
        self.players = {
            str(name): Rating(float(r["mu"]), float(r["sigma"]), int(r.get("games", 0)), bool(r.get("changing", False)))
            for name, r in state.get("players", {}).items()
        }

    def _get(self, player: str) -> Rating:
        try:
            return self.players[player]
        except KeyError:
            raise KeyError(f"player {player!r} is not rated; add it first") from None
