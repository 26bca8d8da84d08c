"""``OpponentCurriculum``: a per-env-instance curriculum over opponent strength.

The seed's "per-instance performance curriculum ... to train our agents against bots", ready-made: each
env instance promotes its opponent one level when its own recent win rate reaches
``promote_threshold`` and demotes it when it falls below ``demote_threshold``. The levels are whatever
the env's setter takes: scripted bot levels (``CoinDuelVsBot.set_bot_level``), or any other opponent
setting (a snapshot age, a handicap ...). It is a ``PerformanceCurriculum`` (relayrl/curriculum) with
a win-rate metric, so its level is reported as ``episode_extra_stats/opponent/level``, and its state
(level, window, RNG) is saved in checkpoints and restored on resume like every curriculum's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym

from relayrl.curriculum.base import LevelSetter
from relayrl.curriculum.performance import PerformanceCurriculum


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
    ) -> None:
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
