"""A two-player env for the Ray tests (importable by Ray actors as ``ray_envs:make_recorded_duel``).

``RecordedDuel`` is the built-in CoinDuel (both players as agents) that records every training-info
delivery: when (``time.monotonic()``, one clock for every process of this machine), whether it came
inside ``step()`` (it must not), the total step count, and each agent's entry (``policy_id``,
``policy_version``, ``env_params``, ``snapshot_slot``, ``snapshot_version``); and per episode whether
training info had arrived before its first step. It writes them to ``<log_dir>/<uuid>.json`` when closed.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

from relayrl.envs.coin_duel import CoinDuel

AGENT_KEYS = ("policy_id", "policy_version", "env_params", "snapshot_slot", "snapshot_version")


class RecordedDuel:
    def __init__(self, log_dir: str) -> None:
        self.game = CoinDuel()
        self.possible_agents = self.game.possible_agents
        self.observation_space = self.game.observation_space
        self.action_space = self.game.action_space
        self.log_dir = log_dir
        self.in_step = False
        self.deliveries: list[dict[str, Any]] = []
        self.episodes: list[dict[str, Any]] = []

    @property
    def agents(self) -> list[str]:
        return self.game.agents

    def reset(self, seed: int | None = None, options: Any = None) -> tuple[dict, dict]:
        self.episodes.append({"info_at_reset": bool(self.deliveries), "steps": 0})
        return self.game.reset(seed=seed)

    def step(self, actions: dict) -> tuple[dict, dict, dict, dict, dict]:
        self.in_step = True
        try:
            self.episodes[-1]["steps"] += 1
            return self.game.step(actions)
        finally:
            self.in_step = False

    def set_training_info(self, training_info: dict[str, Any]) -> None:
        agents = training_info.get("agents") or {}
        self.deliveries.append(
            {
                "time": time.monotonic(),
                "in_step": self.in_step,
                "steps": training_info["approx_total_training_steps"],
                "agents": {a: {k: agents.get(a, {}).get(k) for k in AGENT_KEYS} for a in self.possible_agents},
            }
        )

    def close(self) -> None:
        if self.episodes:
            Path(self.log_dir).mkdir(parents=True, exist_ok=True)
            record = {"deliveries": self.deliveries, "episodes": self.episodes}
            Path(self.log_dir, f"{uuid.uuid4().hex}.json").write_text(json.dumps(record))


def make_recorded_duel(config: dict[str, Any]) -> RecordedDuel:
    return RecordedDuel(config["log_dir"])


def task_index_score(episode: Any) -> float:
    """A ``--plr-score`` for the Ray PLR test: the task's index, so the last task ranks first."""
    return float(episode.task)
