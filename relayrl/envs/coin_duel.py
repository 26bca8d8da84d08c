"""CoinDuel: a small, fast two-player game (pure Python + numpy), with scripted bots of increasing strength.

Two players on a ``size x size`` grid race for one coin; whoever steps onto it scores and a new coin
appears elsewhere (both at once: nobody scores). The first to ``coins_to_win`` coins wins (+1, the
other -1); after ``max_steps`` the game is a draw (0, truncated). Rewards are only the outcome, so a
player learns nothing until it wins some games. Actions: 0 stay, 1 up, 2 down, 3 left, 4 right.
Each player observes (scaled to [0, 1]): its own, the opponent's and the coin's position, both
scores, and the coin's offset from it (10 floats, the same layout for both players).

- ``CoinDuel``: both players as agents, the multi-agent (PettingZoo parallel) contract.
- ``CoinDuelVsBot``: a ``gymnasium.Env`` in which the agent plays ``player_0`` against a scripted bot
  (``set_bot_level(level)``, e.g. from ``OpponentCurriculum``). Bot level ``l`` moves greedily toward
  the coin with probability ``BOT_GREEDINESS[l]`` and at random otherwise.

Every player's last step reports ``episode_extra_stats``: ``win``, ``draw`` (and ``bot_level`` against a bot).
Both forms render ``rgb_array`` frames (``render_mode="rgb_array"``: player_0 red, player_1 blue, the
coin yellow), so ``relayrl enjoy --video`` records them.
"""

from __future__ import annotations

import random
from typing import Any

import gymnasium as gym
import numpy as np

BOT_GREEDINESS = (0.0, 0.2, 0.4, 0.6, 0.75)
"""Per bot level: the chance that the bot steps toward the coin (else it moves at random)."""
AGENTS = ("player_0", "player_1")
MOVES = ((0, 0), (0, -1), (0, 1), (-1, 0), (1, 0))
OBS_SIZE = 10
CELL = 24
"""Pixels per grid cell in rendered frames."""
COLORS = {"floor": (235, 235, 235), "coin": (240, 190, 30), "player_0": (210, 50, 50), "player_1": (50, 90, 210)}


def greedy_action(me: tuple[int, int], coin: tuple[int, int]) -> int:
    """A move that brings ``me`` one step closer to ``coin`` along its longer axis (0: already there)."""
    dx, dy = coin[0] - me[0], coin[1] - me[1]
    if dx == 0 and dy == 0:
        return 0
    if abs(dx) >= abs(dy):
        return 4 if dx > 0 else 3
    return 2 if dy > 0 else 1


def bot_action(level: int, me: tuple[int, int], coin: tuple[int, int], rng: random.Random) -> int:
    """Scripted bot of ``level`` (0: random; higher: greedier, see ``BOT_GREEDINESS``)."""
    if rng.random() < BOT_GREEDINESS[level]:
        return greedy_action(me, coin)
    return rng.randrange(5)


class CoinDuelCore:
    """The game state and rules, shared by both env forms."""

    def __init__(self, size: int = 7, coins_to_win: int = 3, max_steps: int = 100) -> None:
        if size < 3:
            raise ValueError(f"size must be >= 3, got {size}")
        self.size, self.coins_to_win, self.max_steps = size, coins_to_win, max_steps
        self.rng = random.Random()
        self.pos = [(0, 0), (size - 1, size - 1)]
        self.coin = (size // 2, size // 2)
        self.score = [0, 0]
        self.steps = 0

    def seed(self, seed: int | None) -> None:
        if seed is not None:
            self.rng.seed(seed)

    def _new_coin(self) -> None:
        while True:
            coin = (self.rng.randrange(self.size), self.rng.randrange(self.size))
            if coin not in self.pos:
                self.coin = coin
                return

    def reset(self) -> None:
        s = self.size
        corners = [(0, 0), (s - 1, s - 1)] if self.rng.random() < 0.5 else [(s - 1, 0), (0, s - 1)]
        self.pos = corners
        self.score = [0, 0]
        self.steps = 0
        self._new_coin()

    def obs(self, player: int) -> np.ndarray:
        (x, y), (ox, oy), (cx, cy) = self.pos[player], self.pos[1 - player], self.coin
        k, d = self.coins_to_win, self.size - 1
        return np.array(
            [x / d, y / d, ox / d, oy / d, cx / d, cy / d, self.score[player] / k, self.score[1 - player] / k,
             (cx - x) / (2 * d) + 0.5, (cy - y) / (2 * d) + 0.5],
            dtype=np.float32,
        )  # fmt: skip

    def step(self, a0: int, a1: int) -> tuple[int | None, bool]:
        """Move both players; returns ``(winner or None, game over)`` (over with no winner: a draw)."""
        d = self.size - 1
        for p, a in ((0, a0), (1, a1)):
            dx, dy = MOVES[int(a)]
            x, y = self.pos[p]
            self.pos[p] = (min(max(x + dx, 0), d), min(max(y + dy, 0), d))
        self.steps += 1
        on = [self.pos[p] == self.coin for p in (0, 1)]
        if on[0] != on[1]:
            self.score[0 if on[0] else 1] += 1
        if on[0] or on[1]:
            self._new_coin()
        for p in (0, 1):
            if self.score[p] >= self.coins_to_win:
                return p, True
        return None, self.steps >= self.max_steps

    def frame(self) -> np.ndarray:
        """The grid as an RGB image, ``(size * CELL, size * CELL, 3)`` uint8; a player on the coin's
        cell covers its centre."""
        img = np.zeros((self.size * CELL, self.size * CELL, 3), dtype=np.uint8)
        img[:] = COLORS["floor"]
        img[::CELL] = img[:, ::CELL] = 200  # grid lines

        def fill(cell: tuple[int, int], color: tuple[int, int, int], margin: int) -> None:
            x, y = cell
            img[y * CELL + margin : (y + 1) * CELL - margin, x * CELL + margin : (x + 1) * CELL - margin] = color

        fill(self.coin, COLORS["coin"], 4)
        for p, agent in enumerate(AGENTS):
            fill(self.pos[p], COLORS[agent], 7)
        return img


def _outcome(winner: int | None, player: int) -> tuple[float, dict[str, float]]:
    if winner is None:
        return 0.0, {"win": 0.0, "draw": 1.0}
    won = winner == player
    return (1.0 if won else -1.0), {"win": float(won), "draw": 0.0}


class CoinDuel:
    """Both players as agents (multi-agent contract of ``relayrl/envs/parallel_contract.py``)."""

    metadata: dict[str, Any] = {"name": "coin_duel_v0", "render_modes": ["rgb_array"]}

    def __init__(self, config: dict | None = None, render_mode: str | None = None) -> None:
        self.core = CoinDuelCore(**(config or {}))
        self.render_mode = render_mode
        self.possible_agents = list(AGENTS)
        self.agents: list[str] = []
        self._obs_space = gym.spaces.Box(0.0, 1.0, (OBS_SIZE,), np.float32)
        self._act_space = gym.spaces.Discrete(5)

    def observation_space(self, agent: str) -> gym.Space:
        return self._obs_space

    def action_space(self, agent: str) -> gym.Space:
        return self._act_space

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        self.core.seed(seed)
        self.core.reset()
        self.agents = list(AGENTS)
        return {a: self.core.obs(i) for i, a in enumerate(AGENTS)}, {a: {} for a in AGENTS}

    def step(self, actions: dict[str, int]) -> tuple[dict, dict, dict, dict, dict]:
        winner, over = self.core.step(actions.get(AGENTS[0], 0), actions.get(AGENTS[1], 0))
        obs = {a: self.core.obs(i) for i, a in enumerate(AGENTS)}
        rewards = dict.fromkeys(AGENTS, 0.0)
        infos: dict[str, dict] = {a: {} for a in AGENTS}
        if over:
            for i, a in enumerate(AGENTS):
                rewards[a], stats = _outcome(winner, i)
                infos[a]["episode_extra_stats"] = stats
            self.agents = []
        terms = dict.fromkeys(AGENTS, over and winner is not None)
        truncs = dict.fromkeys(AGENTS, over and winner is None)
        return obs, rewards, terms, truncs, infos

    def render(self) -> np.ndarray | None:
        """The current frame with ``render_mode="rgb_array"``, else None."""
        return self.core.frame() if self.render_mode == "rgb_array" else None

    def close(self) -> None:
        pass


class CoinDuelVsBot(gym.Env):
    """The agent is ``player_0``; ``player_1`` is the scripted bot of ``bot_level``."""

    metadata: dict[str, Any] = {"render_modes": ["rgb_array"]}

    def __init__(self, config: dict | None = None, render_mode: str | None = None) -> None:
        config = dict(config or {})
        self.render_mode = render_mode
        self.bot_level = int(config.pop("bot_level", len(BOT_GREEDINESS) - 1))
        self.core = CoinDuelCore(**config)
        self.observation_space = gym.spaces.Box(0.0, 1.0, (OBS_SIZE,), np.float32)
        self.action_space = gym.spaces.Discrete(5)

    def set_bot_level(self, level: int) -> None:
        """Takes effect at the next reset (``OpponentCurriculum`` calls it right before one)."""
        self.bot_level = int(level)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.core.seed(seed)
        self.core.reset()
        return self.core.obs(0), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        bot = bot_action(self.bot_level, self.core.pos[1], self.core.coin, self.core.rng)
        winner, over = self.core.step(int(action), bot)
        info: dict[str, Any] = {}
        reward = 0.0
        if over:
            reward, stats = _outcome(winner, 0)
            info["episode_extra_stats"] = {**stats, "bot_level": float(self.bot_level)}
        return self.core.obs(0), reward, over and winner is not None, over and winner is None, info

    def render(self) -> np.ndarray | None:  # type: ignore[override]
        """The current frame with ``render_mode="rgb_array"``, else None."""
        return self.core.frame() if self.render_mode == "rgb_array" else None


def make_vs_bot(config: dict | None = None, render_mode: str | None = None) -> CoinDuelVsBot:
    """``relayrl train --env relayrl.envs.coin_duel:make_vs_bot --env-kwargs '{"bot_level": 2}'``."""
    return CoinDuelVsBot(config, render_mode)


def make_duel(config: dict | None = None, render_mode: str | None = None) -> CoinDuel:
    """``relayrl train --env relayrl.envs.coin_duel:make_duel --self-play`` (both players as agents)."""
    return CoinDuel(config, render_mode)


def _scripted(level: int) -> Any:
    """Bot ``level`` as a scripted opponent that reads a player's observation (``relayrl enjoy --opponent``);
    ``bot.seed(n)`` reseeds its random moves."""
    rng = random.Random(level)

    def act(obs: Any) -> int:
        o = np.asarray(obs, dtype=np.float64)
        # positions are scaled by the same (size - 1) on both axes: comparisons need no unscaling
        me, coin = (o[0], o[1]), (o[4], o[5])
        if rng.random() < BOT_GREEDINESS[level]:
            dx, dy = coin[0] - me[0], coin[1] - me[1]
            if abs(dx) < 1e-9 and abs(dy) < 1e-9:
                return 0
            if abs(dx) >= abs(dy):
                return 4 if dx > 0 else 3
            return 2 if dy > 0 else 1
        return rng.randrange(5)

    act.__name__ = f"bot_{level}"
    # a tournament reseeds each pair's games (relayrl/league/contestants.py), so results do not depend on
    # which games the bot played before
    act.seed = rng.seed  # type: ignore[attr-defined]
    return act


bot_0, bot_1, bot_2, bot_3, bot_4 = (_scripted(level) for level in range(len(BOT_GREEDINESS)))
"""Scripted opponents for ``relayrl enjoy --opponent relayrl.envs.coin_duel:bot_<level>``."""
