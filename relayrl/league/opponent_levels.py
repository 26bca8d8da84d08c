"""``OpponentLevelRatings``: a league of the learning policies and the scripted opponent levels they play
inside a single-agent env (``--rate-opponent-levels``; docs/league.md, "Scripted opponent levels").

A single-agent env that plays a scripted opponent, such as CoinDuel against its bots under an
``OpponentCurriculum``, reports the level of each episode's opponent in ``episode_extra_stats``
(``--opponent-level-key``, default ``opponent/level``). This extension rates every such finished episode
as a game of the policy that played it (``policy_<k>``) against that level (``bot:level_<n>``), decided
by ``--opponent-win-key`` as self-play's games are (``relayrl/league/table.py``: ``game_score``).

Levels are ordered weakest first, so a level enters the table at its first game one beta of the model
(25/6) per level above the rated levels below it (a new player's mean when none is rated), with a new
player's uncertainty: the same assumption ``OpponentCurriculum``'s rating
gate makes about a level nobody has played (``relayrl.curriculum.opponents.rated_level_mu``). Evaluation matches against fixed opponents (``--eval-opponents``) are rated too.

The ratings go to the envs as ``training_info["league"]`` (``{"ratings": {player: {"mu", "sigma"}},
"levels": {n: "bot:level_<n>"}}``, republished at most once a second when they changed), where
``OpponentCurriculum(gate="rating")`` promotes an env instance when its policy's rating passes the next
level's. They are reported under ``league/`` and saved in checkpoints (``opponent_ratings.league``,
read by ``relayrl league``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from relayrl import info_schema
from relayrl.curriculum.opponents import rated_level_mu
from relayrl.league.ratings import MU, level_id
from relayrl.league.table import LeagueTable
from relayrl.trainer.extensions import ExtensionBase, ExtensionContext, Match
from relayrl.worker.report import RolloutReport

log = logging.getLogger("relayrl.league")

PUBLISH_SECONDS = 1.0
"""The ratings go out in training info at most this often (when they changed)."""


def build(ctx: ExtensionContext) -> OpponentLevelRatings:
    """The opponent-level ratings of a run (``--rate-opponent-levels``)."""
    cfg = ctx.cfg.opponent_ratings
    return OpponentLevelRatings([p.id for p in ctx.policies.all()], cfg.level_key, cfg.win_key, ctx.publisher)


class OpponentLevelRatings(ExtensionBase):
    """The ratings of the learning policies and the opponent levels (see the module docstring)."""

    name = "opponent_ratings"

    def __init__(self, policy_ids: Sequence[int], level_key: str, win_key: str, publisher: Any = None) -> None:
        self.policy_ids = frozenset(policy_ids)
        self.level_key = level_key
        self.table = LeagueTable(win_key, win_flag="--opponent-win-key")
        self.levels: dict[int, str] = {}
        """Level index -> its player id, for every level rated so far."""
        self.publisher = publisher
        self.changed, self.published_at = True, 0.0
        self.level_key_seen = False
        self.episodes_without_level = 0
        for k in self.policy_ids:
            self.table.add_learner(k)

    # ----- extension hooks -----

    def start(self, saved: Mapping[str, Any] | None) -> None:
        """Restore saved ratings: the learners and the rated levels go on from them."""
        if not saved or not saved.get("league"):
            return
        self.table.load_state_dict(saved["league"])
        for k in self.policy_ids:
            self.table.add_learner(k)
        for level in saved.get("levels", ()):
            self.add_level(int(level))
        log.info("resumed the opponent-level ratings (%d levels rated)", len(self.levels))

    def on_rollout(self, report: RolloutReport) -> None:
        for ep in report.episodes:
            value = ep.extra.get(self.level_key)
            if value is None:
                self.episodes_without_level += 1
                continue
            if ep.policy_id not in self.policy_ids:
                continue
            self.level_key_seen = True
            self.table.game(ep.policy_id, self.add_level(int(value)), ep)
            self.changed = True

    def on_matches(self, matches: Sequence[Match]) -> None:
        """Rate evaluation matches against fixed opponents (a scripted opponent joins at its first game)."""
        for match in matches:
            self.table.match(match.a, match.b, match.score_a)
            self.changed = True

    def housekeeping(self, env_steps: int) -> Sequence[int]:
        if self.changed and time.monotonic() - self.published_at >= PUBLISH_SECONDS:
            self.publish()
        return ()

    def scalars(self) -> dict[str, float]:
        """``league/<player>/{mu,sigma,ordinal}`` of the policies and the rated levels; warns once when
        episodes finished but none reported the level key."""
        if not self.level_key_seen and self.episodes_without_level >= 100:
            log.warning(
                "--rate-opponent-levels: none of %d finished episodes reported episode_extra_stats[%r] "
                "(the opponent's level), so nothing is rated; wrap the env in OpponentCurriculum or set "
                "--opponent-level-key to the key the env reports.",
                self.episodes_without_level,
                self.level_key,
            )
            self.level_key_seen = True  # warned once
        return self.table.scalars()

    def state_dict(self) -> dict[str, Any]:
        return {"league": self.table.state_dict(), "levels": sorted(self.levels)}

    # ----- levels -----

    def add_level(self, level: int) -> str:
        """The player of ``level``; a new one starts at ``rated_level_mu`` (the gate's assumption)."""
        player = self.levels.get(level)
        if player is None:
            player = level_id(level)
            mus = {n: self.table.ratings[p].mu for n, p in self.levels.items() if p in self.table.ratings}
            prior = rated_level_mu(mus, level)
            self.table.add_fixed(player, MU if prior is None else prior)
            self.levels[level] = player
        return player

    def publish(self) -> None:
        """Put the ratings in training info (``info_schema.LEAGUE``)."""
        self.changed, self.published_at = False, time.monotonic()
        if self.publisher is not None:
            self.publisher.set_key(
                info_schema.LEAGUE, {"ratings": self.table.ratings_now(), "levels": dict(self.levels)}
            )
