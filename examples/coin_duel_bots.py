"""CoinDuel against scripted bots, with or without the per-instance opponent curriculum.

    relayrl train --env examples.coin_duel_bots:make_env --experiment duel_curriculum
    relayrl train --env examples.coin_duel_bots:make_env --env-kwargs '{"curriculum": false}' --experiment duel_flat

``{"curriculum": true}`` (default): each env instance starts against the weakest bot and moves up a
level when it wins 70% of its last 20 games at that level (down below 20%); ``false``: always the
strongest bot. ``{"bot_level": k}`` without a curriculum plays bot ``k`` (for evaluation).
``{"gate": "rating"}`` moves the level by skill ratings instead (train with ``--rate-opponent-levels``;
docs/league.md, "Scripted opponent levels"): up once the policy's rating passes the next bot's.
``{"duel": true}`` is the same game with both players as agents (``CoinDuel``: the same observation
for player 0), so that evaluation during training can play the policy against every bot::

    relayrl train --env examples.coin_duel_bots:make_env --eval-every-env-steps 20000 \
        --eval-env-kwargs '{"duel": true}' --eval-opponents relayrl.envs.coin_duel:bot_0,relayrl.envs.coin_duel:bot_4
"""

from __future__ import annotations

import gymnasium as gym

from relayrl.curriculum.opponents import OpponentCurriculum
from relayrl.curriculum.snapshots import SnapshotAgeCurriculum
from relayrl.envs.coin_duel import BOT_GREEDINESS, CoinDuel, CoinDuelVsBot


def make_env(config: dict | None = None) -> gym.Env | CoinDuel:
    config = dict(config or {})
    if config.pop("duel", False):
        config.pop("curriculum", None)
        config.pop("gate", None)
        return CoinDuel(config)
    curriculum = bool(config.pop("curriculum", "bot_level" not in config))
    gate = str(config.pop("gate", "win_rate"))
    env = CoinDuelVsBot(config)
    if not curriculum:
        return env
    return OpponentCurriculum(env, "set_bot_level", len(BOT_GREEDINESS), window=20, promote_threshold=0.7, gate=gate)


def make_selfplay_curriculum(config: dict | None = None) -> SnapshotAgeCurriculum:
    """Both players as agents, for ``--self-play``; each env instance plays the snapshot of its own
    level (0: the oldest in the pool) and moves to newer snapshots as it wins (``levels``: default 5,
    keep it <= ``--self-play-pool-size``)::

        relayrl train --env examples.coin_duel_bots:make_selfplay_curriculum --self-play
    """
    config = dict(config or {})
    levels = int(config.pop("levels", 5))
    return SnapshotAgeCurriculum(CoinDuel(config), levels, window=20, promote_threshold=0.7)
