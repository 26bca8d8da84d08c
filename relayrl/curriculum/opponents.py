"""``OpponentCurriculum``: a per-env-instance curriculum over opponent strength.

The seed's "per-instance performance curriculum ... to train our agents against bots", ready-made: each
env instance promotes its opponent one level when its own recent win rate reaches
``promote_threshold`` and demotes it when it falls below ``demote_threshold``. The levels are whatever
the env's setter takes: scripted bot levels (``CoinDuelVsBot.set_bot_level``), or any other opponent
setting (a snapshot age, a handicap ...). It is a ``PerformanceCurriculum`` (relayrl/curriculum) with
a win-rate metric, so its level is reported as ``episode_extra_stats/opponent/level``, and its state
(level, window, RNG) is saved in checkpoints and restored on resume like every curriculum's.

``gate="rating"`` promotes by skill ratings instead of this instance's win-rate window (docs/league.md,
"Scripted opponent levels"): with ``--rate-opponent-levels`` the trainer rates every episode of every
env instance as a game of the policy against the level it played and publishes the ratings in
``training_info["league"]``. At each reset, once this instance has played ``min_episodes`` episodes
(default 1) at its level, it moves one level up when its policy's rating (mu) has passed the next
level's; a level nobody has played yet counts as one rating-model beta (25/6) stronger per level than
the rated levels below it (``rated_level_mu``): the gap at which the stronger player wins about 76% of
its games, close to the win-rate gate's default 0.7. With ``demote_threshold`` set (the default) it moves one level down when the
policy's mu is below the current level's, so an instance settles at the highest level its policy is
rated above. A share of the episodes
(``probe_probability``, default 0.1) plays the level above the current one: the ratings only learn
about a level that is played, so without these probes a policy that has improved could never show
that it passes the next level. Probe episodes report their own level (so they are rated) and do not
count as episodes at the instance's level. Without ratings in training info the level stays, with a
warning after 100 episodes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym

from relayrl import info_schema
from relayrl.curriculum.base import LevelSetter, log
from relayrl.curriculum.performance import PerformanceCurriculum

GATES = ("win_rate", "rating")
NO_RATINGS_WARNING_EPISODES = 100
"""``gate="rating"`` warns once when this many episodes finished without ratings in training info."""


LEVEL_STEP = 25.0 / 6.0
"""How much stronger than the level below it a level nobody has played yet is assumed to be: one beta of the rating model (openskill's default 25/6, the skill gap at which the stronger of two
players wins about 76% of their games)."""


def rated_level_mu(level_mus: Mapping[int, float], level: int) -> float | None:
    """The rating mean of ``level``; for a level not rated yet (levels are ordered weakest first), the
    largest over the rated levels ``m`` below it of ``mu_m + (level - m) * LEVEL_STEP`` (one step per
    level above a rated one); None when no level up to ``level`` is rated."""
    if level in level_mus:
        return float(level_mus[level])
    below = [mu + (level - n) * LEVEL_STEP for n, mu in level_mus.items() if n < level]
    return max(below) if below else None


def rating_step(mu: float, level_mus: Mapping[int, float], level: int, max_level: int, demote: bool) -> int:
    """The level after a rating check: up when ``mu`` has passed the next level's (``rated_level_mu``),
    down (``demote``) when it is below this level's own rating, else ``level``: an instance settles at the
    highest level its policy is rated above."""
    if level < max_level:
        target = rated_level_mu(level_mus, level + 1)
        if target is not None and mu > target:
            return level + 1
    if demote and level > 0 and level in level_mus and mu < level_mus[level]:
        return level - 1
    return level


class OpponentCurriculum(PerformanceCurriculum):
    """Per env instance: opponent level up at a recent win rate >= ``promote_threshold``, down below
    ``demote_threshold``.

    Args:
        env: the env whose opponent it sets (any wrapper chain).
        set_opponent: ``set_opponent(env, value)`` or the name of a method of the unwrapped env
            (default ``"set_bot_level"``), called with the level's value right before a reset.
        levels: number of opponent levels (values ``0 .. n-1``) or the list of their values, weakest first.
        metric: the ``episode_extra_stats`` key that is 1 for a win (default ``"win"``).
        window, min_episodes, replay_probability, seed, start_level, eval_level: as
            ``PerformanceCurriculum`` (evaluation plays the strongest opponent by default).
        gate: ``"win_rate"`` (this instance's window) or ``"rating"`` (the league's ratings; see the module
            docstring; ``min_episodes`` then defaults to 1 and ``demote_threshold=None`` turns demotion off).
        probe_probability: ``gate="rating"``: the chance that an episode plays the level above the current
            one (see the module docstring).
    """

    def __init__(
        self,
        env: gym.Env,
        set_opponent: LevelSetter = "set_bot_level",
        levels: int | Sequence[Any] = 5,
        metric: str = "win",
        window: int = 20,
        promote_threshold: float = 0.7,
        demote_threshold: float | None = 0.2,
        min_episodes: int | None = None,
        replay_probability: float = 0.0,
        seed: int | None = None,
        start_level: int = 0,
        eval_level: int | None = None,
        gate: str = "win_rate",
        probe_probability: float = 0.1,
    ) -> None:
        if gate not in GATES:
            raise ValueError(f"gate must be one of {', '.join(GATES)}, got {gate!r}")
        if not 0.0 <= probe_probability <= 1.0:
            raise ValueError(f"probe_probability must be in [0, 1], got {probe_probability}")
        self.gate = gate
        self.probe_probability = float(probe_probability) if gate == "rating" else 0.0
        if gate == "rating" and min_episodes is None:
            min_episodes = 1
        self.episodes_without_ratings = 0
        super().__init__(
            env,
            set_opponent,
            levels,
            metric=metric,
            window=window,
            promote_threshold=promote_threshold,
            demote_threshold=demote_threshold,
            min_episodes=min_episodes,
            replay_probability=replay_probability,
            seed=seed,
            start_level=start_level,
            name="opponent",
            eval_level=eval_level,
        )

    def decide_level(self) -> int:
        if self.gate != "rating":
            return super().decide_level()
        league = self.training_info.get(info_schema.LEAGUE) or {}
        levels, ratings = league.get("levels") or {}, league.get("ratings") or {}
        me = ratings.get(f"policy_{self.training_info.get(info_schema.POLICY_ID, 0)}")
        if me is None or self.episodes_at_level < self.min_episodes:
            return int(self.level)
        level_mus = {int(n): ratings[p]["mu"] for n, p in levels.items() if p in ratings}
        return rating_step(me["mu"], level_mus, int(self.level), self.max_level, self.decision.demote is not None)

    def choose_level(self) -> int | float:
        level = super().choose_level()
        if self.replay or self.level >= self.max_level or self.probe_probability == 0:
            return level
        if self.rng.random() < self.probe_probability:
            self.replay = True  # a probe: rated by the league, not counted at this instance's level
            return int(self.level) + 1
        return level

    def episode_finished(self, episode_return: float, extra_stats: Any) -> None:
        if self.gate != "rating":
            return super().episode_finished(episode_return, extra_stats)
        if self.replay or self.episode_level != self.level:
            return
        self.episodes_at_level += 1  # the ratings, not a window, decide: every episode at the level counts
        if info_schema.LEAGUE not in self.training_info:
            self.episodes_without_ratings += 1
            if self.episodes_without_ratings == NO_RATINGS_WARNING_EPISODES:
                log.warning(
                    "OpponentCurriculum(gate='rating'): %d episodes finished without ratings in training info, "
                    "so the opponent level stays; train with --rate-opponent-levels (and pip install "
                    "'relayrl[league]'), or use gate='win_rate'.",
                    self.episodes_without_ratings,
                )
