"""``LeagueTable``: the ratings of a self-play run's players, kept by the trainer from episode reports.

The self-play pool (relayrl/self_play/pool.py) owns one: the learning policy is player ``policy_<k>``,
every snapshot ``snapshot_<k>_<version>`` (relayrl/league/ratings.py). Each finished episode of the
learner against a snapshot is one rated game (``game``), its result decided by ``game_score``:

- with the ``--self-play-win-key`` stat in the episode: won when it is >= 0.5; otherwise a draw when the
  episode's return is 0 and a loss when it is not (the built-in CoinDuel reports ``win`` 0 and return 0
  for a draw, ``win`` 0 and return -1 for a loss);
- without it: the sign of the return: won when > 0, a draw when 0, lost when < 0.

A snapshot's rating starts from the learner's when it is added (``Ratings.add_snapshot``). The
*active* players are the learners and the snapshots now in the pool (``retire`` takes out a snapshot that
left it). The report (``scalars``) gives ``league/<player>/mu``, ``/sigma`` and ``/ordinal``
(``mu - 3 sigma``) of the active players, and the first report after the learner has played warns once
when none of its episodes carried the win key (a misspelled key would silently fall back to the
return's sign). Ratings of retired snapshots stay in the table (frozen: nothing plays them) and in
``state_dict``, which also lists the active players (``active``, for readers such as ``relayrl league``;
a restored table's owner adds its players again).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, TypeVar

from relayrl.league.ratings import INSTALL_HINT, Ratings, openskill_available, policy_id
from relayrl.league.selection import rating_weights
from relayrl.worker.report import EpisodeRecord

log = logging.getLogger("relayrl.league")

K = TypeVar("K")


def game_score(episode: EpisodeRecord, win_key: str) -> float:
    """The learner's result in ``episode``: 1 won, 0.5 draw, 0 lost (see the module docstring)."""
    value = episode.extra.get(win_key)
    if value is not None and value >= 0.5:
        return 1.0
    if episode.reward == 0:
        return 0.5
    if value is not None:
        return 0.0
    return 1.0 if episode.reward > 0 else 0.0


def build_table(win_key: str) -> LeagueTable | None:
    """A new table, or None (with a warning) when ``openskill`` is not installed: ratings are then left
    out of the run (``--self-play-opponents rating`` is refused before the run starts)."""
    if openskill_available():
        return LeagueTable(win_key)
    log.warning("self-play runs without ratings (league/ values): openskill is not installed; %s", INSTALL_HINT)
    return None


class LeagueTable:
    """The ratings of one run's learners and snapshots (see the module docstring)."""

    def __init__(self, win_key: str, win_flag: str = "--self-play-win-key") -> None:
        """``win_flag``: the option that set ``win_key`` (named by the warning when no episode reports it)."""
        self.win_key, self.win_flag = win_key, win_flag
        self.ratings = Ratings()
        self.learner_games = 0
        """Games of the learners rated since the run (re)started."""
        self.win_key_seen = False
        self.warned_win_key = False
        self.keys_seen: set[str] = set()
        """The learners' episode stat keys (named by the win-key warning)."""
        self.active: set[str] = set()

    def add_learner(self, k: int) -> None:
        """Rate policy ``k`` (a changing player; kept when a restored table has it)."""
        if policy_id(k) not in self.ratings:
            self.ratings.add(policy_id(k), changing=True)
        self.active.add(policy_id(k))

    def add_snapshot(self, k: int, player: str) -> None:
        """Rate snapshot ``player`` of policy ``k`` from the policy's rating now (kept when rated already:
        a resumed run adds the saved snapshots again)."""
        if player not in self.ratings:
            self.ratings.add_snapshot(player, policy_id(k))
        self.active.add(player)

    def add_fixed(self, player: str, mu: float | None = None) -> None:
        """Rate ``player``, a fixed player (a scripted opponent), starting at ``mu`` (default: a new player's)
        with a new player's sigma; it becomes active (kept when already rated: a resumed run adds it again)."""
        if player not in self.ratings:
            self.ratings.add(player, mu=mu)
        self.active.add(player)

    def retire(self, player: str) -> None:
        """``player`` left the pool: no longer reported (its rating stays in the table)."""
        self.active.discard(player)

    def game(self, k: int, opponent: str, episode: EpisodeRecord) -> None:
        """Rate policy ``k``'s ``episode`` against ``opponent`` (an unrated opponent is skipped)."""
        if opponent not in self.ratings:
            return
        self.learner_games += 1
        if not self.win_key_seen:
            self.win_key_seen = self.win_key in episode.extra
            self.keys_seen.update(episode.extra)
        self.ratings.record(policy_id(k), opponent, game_score(episode, self.win_key))

    def match(self, a: str, b: str, score_a: float) -> None:
        """Rate one game between players ``a`` and ``b`` played outside the rollouts (an evaluation match);
        a player not in the table yet (a scripted opponent, ``bot:<spec>``) joins as a fixed, active player."""
        for player in (a, b):
            if player not in self.ratings:
                self.ratings.add(player)
            self.active.add(player)  # also after a resume, which leaves a restored table's players inactive
        self.ratings.record(a, b, score_a)

    def ratings_now(self) -> dict[str, dict[str, float]]:
        """The active players' ``{"mu", "sigma"}`` (what training info carries: ``info_schema.LEAGUE``)."""
        return {p: {"mu": self.ratings[p].mu, "sigma": self.ratings[p].sigma} for p in sorted(self.active)}

    def predictions(self, k: int, candidates: Mapping[K, str]) -> dict[K, float]:
        """Candidate -> the predicted probability that policy ``k`` beats that player."""
        return {key: self.ratings.predict_win(policy_id(k), player) for key, player in candidates.items()}

    def weights(self, k: int, candidates: Mapping[K, str], weighting: str) -> dict[K, float]:
        """Candidate -> sampling weight of that player as policy ``k``'s opponent (league/selection.py)."""
        return rating_weights(self.predictions(k, candidates), weighting)

    def scalars(self) -> dict[str, float]:
        """``league/<player>/mu``, ``/sigma``, ``/ordinal`` of the active players; warns once about the
        win key (see the module docstring)."""
        self._check_win_key()
        out: dict[str, float] = {}
        for player in sorted(self.active):
            r = self.ratings[player]
            out.update({f"league/{player}/mu": r.mu, f"league/{player}/sigma": r.sigma})
            out[f"league/{player}/ordinal"] = r.ordinal
        return out

    def _check_win_key(self) -> None:
        if self.warned_win_key or self.win_key_seen or not self.learner_games:
            return
        self.warned_win_key = True
        log.warning(
            "%s %r: no episode of the learning policy reports it (%d rated games); "
            "games are decided by the sign of the return (win > 0, draw 0, loss < 0). The episodes report the "
            "episode_extra_stats keys: %s.",
            self.win_flag,
            self.win_key,
            self.learner_games,
            ", ".join(sorted(self.keys_seen)) or "(none)",
        )

    def state_dict(self) -> dict[str, Any]:
        """The ratings (``Ratings.state_dict``) and ``active``: the active players, sorted."""
        return {**self.ratings.state_dict(), "active": sorted(self.active)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the ratings; no player is active until its owner adds it again."""
        self.ratings.load_state_dict(state)
        self.active.clear()
