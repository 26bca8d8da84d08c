"""``OpponentRatingsConfig``: ratings of the learning policies against the scripted opponent levels they
play inside a single-agent env (docs/league.md, "Scripted opponent levels")."""

from __future__ import annotations

import dataclasses
import importlib.util
from typing import TYPE_CHECKING, Annotated

from relayrl.config.groups import flag
from relayrl.errors import require

if TYPE_CHECKING:
    from relayrl.config import Config


@dataclasses.dataclass(frozen=True)
class OpponentRatingsConfig:
    """A league of the learning policies and the env's scripted opponent levels (docs/league.md)."""

    enabled: Annotated[bool, flag("rate-opponent-levels")] = False
    """Rate every learning policy against the scripted opponent levels it plays: each finished episode
    that reports its opponent's level (``--opponent-level-key``, e.g. ``OpponentCurriculum``'s
    ``opponent/level``) is a game of ``policy_<k>`` against ``bot:level_<n>``. The ratings are reported
    under ``league/``, saved in checkpoints and published in training info (``league``), where
    ``OpponentCurriculum(gate="rating")`` reads them. Needs ``pip install 'relayrl[league]'``."""

    level_key: Annotated[str, flag("opponent-level-key")] = "opponent/level"
    """The ``episode_extra_stats`` key (flattened path) that holds the index of the episode's opponent level."""

    win_key: Annotated[str, flag("opponent-win-key")] = "win"
    """The ``episode_extra_stats`` key (1 = win) that decides a rated episode; without it the sign of the
    return decides (win > 0, draw 0, loss < 0)."""

    def validate(self, cfg: Config) -> None:
        require(bool(self.level_key), "--opponent-level-key is empty: name the episode stat of the opponent's level.")
        require(bool(self.win_key), "--opponent-win-key is empty: name the episode stat that is 1 for a win.")
        if not self.enabled:
            return
        require(
            not cfg.self_play.enabled,
            "--rate-opponent-levels rates scripted opponents inside single-agent envs; with --self-play the "
            "league already rates every player (docs/league.md): drop --rate-opponent-levels.",
        )
        require(
            importlib.util.find_spec("openskill") is not None,
            "--rate-opponent-levels needs the openskill package: pip install 'relayrl[league]'.",
        )
