"""A procedurally generated maze family for task curricula: level ``seed`` -> one maze.

Each level is a 9x9 room with random walls at a density drawn per level (0 to 0.5), a start and a
goal: some levels are trivial (goal next to the start, no walls), some nearly or entirely unsolvable
(dense walls, the goal out of reach). The agent sees the 5x5 cells around it (walls and the room's
edge) and the goal's offset; four actions; reward ``1 - 0.9 * steps / max_steps`` on reaching the
goal; ``success`` in ``episode_extra_stats``. The env has ``set_task(seed)``: the level of its next
reset.

    relayrl train --env examples.procgen_maze:make_env --env-kwargs '{"curriculum": "plr"}' \\
        --task-curriculum plr

``make_env({"curriculum": "uniform" | "plr" | "learning_progress", "train_levels": 200})`` wraps the
maze in a task curriculum over level seeds ``0 .. train_levels - 1``; ``{"eval": true}`` plays the
unseen levels ``100_000 + (reset seed % 100)`` with no curriculum (``--eval-env-kwargs``).
``total_positive_value_loss`` is the ``--plr-score`` of the showcase's PLR arm
(``benchmarks/curriculum_generalization.py``).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from relayrl.curriculum import LearningProgressCurriculum, PrioritizedLevelReplay, TaskCurriculum, TaskSpace

SIZE = 9
VIEW = 2  # the agent sees cells within this distance: a 5x5 window
MAX_STEPS = 48
EVAL_BASE = 100_000
MOVES = np.array([[-1, 0], [1, 0], [0, -1], [0, 1]])


def generate(seed: int) -> tuple[np.ndarray, tuple[int, int], tuple[int, int]]:
    """Level ``seed``: ``(walls [SIZE, SIZE] bool, start, goal)``."""
    rng = np.random.default_rng(seed)
    density = rng.uniform(0.0, 0.5)
    walls = rng.random((SIZE, SIZE)) < density
    cells = rng.choice(SIZE * SIZE, size=2, replace=False)
    start, goal = divmod(int(cells[0]), SIZE), divmod(int(cells[1]), SIZE)
    walls[start] = walls[goal] = False
    return walls, start, goal


class ProcgenMaze(gym.Env):
    """One maze level per episode, chosen by ``set_task(seed)`` (or the reset seed with ``eval_base``)."""

    def __init__(self, eval_base: int | None = None) -> None:
        self.observation_space = gym.spaces.Box(-1.0, 1.0, ((2 * VIEW + 1) ** 2 + 2,), np.float32)
        self.action_space = gym.spaces.Discrete(4)
        self.eval_base = eval_base
        self.level = 0
        self.walls, self.pos, self.goal = generate(0)
        self.steps = 0

    def set_task(self, task: int) -> None:
        """The level seed of the next episode."""
        self.level = int(task)

    def _obs(self) -> np.ndarray:
        padded = np.pad(self.walls, VIEW, constant_values=True)
        r, c = self.pos
        view = padded[r : r + 2 * VIEW + 1, c : c + 2 * VIEW + 1].astype(np.float32).ravel()
        offset = (np.array(self.goal) - np.array(self.pos)) / (SIZE - 1)
        return np.concatenate([view, offset.astype(np.float32)])

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        if self.eval_base is not None and seed is not None:
            self.level = self.eval_base + seed % 100
        self.walls, start, self.goal = generate(self.level)
        self.pos = start
        self.steps = 0
        return self._obs(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.steps += 1
        r, c = np.array(self.pos) + MOVES[int(action)]
        if 0 <= r < SIZE and 0 <= c < SIZE and not self.walls[r, c]:
            self.pos = (int(r), int(c))
        success = self.pos == self.goal
        truncated = not success and self.steps >= MAX_STEPS
        reward = 1.0 - 0.9 * self.steps / MAX_STEPS if success else 0.0
        info: dict[str, Any] = {}
        if success or truncated:
            info["episode_extra_stats"] = {"success": float(success)}
        return self._obs(), reward, success, truncated, info


def total_positive_value_loss(episode: Any) -> float:
    """A ``--plr-score``: the positive value loss summed over the episode's steps, not averaged (the
    worker's ``episode.score`` is the average). With the average, the one or two steps of a trivial
    level (the goal next to the start) that the sampling policy happened to solve at once outrank the
    long episodes of the levels that still teach something."""
    return float(episode.score) * int(episode.length)


def make_env(config: dict[str, Any] | None = None) -> gym.Env:
    """The maze, wrapped in the task curriculum ``config["curriculum"]`` over ``train_levels`` seeds."""
    config = dict(config or {})
    if config.get("eval"):
        return ProcgenMaze(eval_base=EVAL_BASE)
    tasks = TaskSpace.seeds(int(config.get("train_levels", 200)))
    kind = config.get("curriculum", "uniform")
    env = ProcgenMaze()
    if kind == "plr":
        return PrioritizedLevelReplay(env, tasks)
    if kind == "learning_progress":
        return LearningProgressCurriculum(env, tasks, "success", mode=config.get("lp_mode", "global"))
    if kind == "uniform":
        return TaskCurriculum(env, tasks)
    raise ValueError(f"curriculum must be uniform, plr or learning_progress, got {kind!r}")
