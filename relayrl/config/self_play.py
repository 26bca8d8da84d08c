"""``SelfPlayConfig``: a policy plays frozen snapshots of itself (docs/multi-agent.md, "Self-play")."""

from __future__ import annotations

import dataclasses
import importlib.util
from typing import TYPE_CHECKING, Annotated, Literal

from relayrl.config.groups import flag
from relayrl.errors import require

if TYPE_CHECKING:
    from relayrl.config import Config


OPPONENT_MODES = ("uniform", "hardest", "latest", "rating")
RATING_WEIGHTS = ("hard", "even")


@dataclasses.dataclass(frozen=True)
class SelfPlayConfig:
    """Self-play against a pool of the learning policies' snapshots (docs/multi-agent.md, docs/league.md)."""

    enabled: Annotated[bool, flag("self-play")] = False
    """Self-play for a multi-agent env: each episode one agent (drawn at random) is a learning policy
    and the others are its opponent: a frozen snapshot from the pool (not learned from) or, with
    ``--num-policies N`` > 1 (a league of N learners), another learning policy."""

    every: Annotated[int, flag("self-play-every")] = 10
    """Add a snapshot of each learning policy to the pool every this many of its versions."""

    pool_size: Annotated[int, flag("self-play-pool-size")] = 5
    """Snapshots kept in the pool per learning policy (its oldest is replaced when they are full)."""

    opponents: Annotated[Literal["uniform", "hardest", "latest", "rating"], flag("self-play-opponents")] = "uniform"
    """How an episode's opponent is drawn for its learner, among the pool's snapshots and the other
    learning policies: ``uniform``; ``hardest`` (weighted toward the opponents the learner has beaten
    least: weight ``1.05 - win rate`` over its last 100 games against each); ``latest`` (the newest
    snapshot of each learning policy, and the other learning policies); or ``rating`` (weighted by the rating-predicted
    chance p that the learner wins, see --self-play-rating-weight; needs ``pip install 'relayrl[league]'``;
    docs/league.md)."""

    rating_weight: Annotated[Literal["hard", "even"], flag("self-play-rating-weight")] = "hard"
    """With ``--self-play-opponents rating``: a snapshot's weight from the predicted chance p that the
    learner beats it: ``hard`` (1 - p)^2, toward the snapshots it is predicted to lose to, or ``even``
    p (1 - p), toward the evenly matched ones."""

    win_key: Annotated[str, flag("self-play-win-key")] = "win"
    """The ``episode_extra_stats`` key (1 = win) of the learning agent's episode that counts as a win
    against its opponent; episodes without it count as a win when their return is > 0."""

    def validate(self, cfg: Config) -> None:
        require(self.every >= 1, f"--self-play-every must be >= 1 policy version (got {self.every}).")
        require(self.pool_size >= 1, f"--self-play-pool-size must be >= 1 (got {self.pool_size}).")
        require(
            self.opponents in OPPONENT_MODES,
            f"--self-play-opponents {self.opponents!r} is not one of {', '.join(OPPONENT_MODES)}.",
        )
        require(
            self.rating_weight in RATING_WEIGHTS,
            f"--self-play-rating-weight {self.rating_weight!r} is not one of {', '.join(RATING_WEIGHTS)}.",
        )
        require(
            self.rating_weight == "hard" or self.opponents == "rating",
            f"--self-play-rating-weight {self.rating_weight} applies only to --self-play-opponents rating "
            f"(got {self.opponents}); add --self-play-opponents rating or drop the flag.",
        )
        if self.enabled:
            require(
                not cfg.pbt.enabled,
                "--pbt and --self-play cannot be combined: self-play's learners play each other as a league, PBT's "
                "population copies weights between its members; drop one of them.",
            )
            require(
                self.opponents != "rating" or importlib.util.find_spec("openskill") is not None,
                "--self-play-opponents rating needs the openskill package: pip install 'relayrl[league]' "
                "(or choose uniform, hardest or latest).",
            )
