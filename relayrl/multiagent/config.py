"""``MultiAgentConfig``: several policies, the agent -> policy mapping and self-play (docs/multi-agent.md)."""

from __future__ import annotations

import dataclasses
from typing import Literal


@dataclasses.dataclass(frozen=True)
class MultiAgentConfig:
    """Several policies, agent -> policy mapping and self-play (docs/multi-agent.md)."""

    num_policies: int = 1
    """Policies trained side by side, each with its own learner, optimizer, normalizers, checkpoint
    entry and ``best`` file; agents (or single-agent envs) are mapped to them per episode."""

    policy_mapping: str = "random"
    """Which policy controls each agent, decided at every episode start: ``random`` (each agent a
    uniformly drawn policy), ``fixed`` (agent ``a`` of ``possible_agents`` -> policy ``a % num_policies``;
    a single-agent env is agent 0) or ``package.module:function`` called as
    ``function(agent_id, env_index, episode) -> policy id`` in the rollout workers."""

    self_play: bool = False
    """Self-play for a multi-agent env: each episode one agent (drawn at random) is the learning
    policy and the others are played by a frozen snapshot of it from a pool; snapshot agents are
    not learned from. Needs ``--num-policies 1``."""

    self_play_every: int = 10
    """Self-play: add a snapshot of the learning policy to the pool every this many policy versions."""

    self_play_pool_size: int = 5
    """Self-play: snapshots kept in the pool (the oldest is replaced when it is full)."""

    self_play_opponents: Literal["uniform", "hardest"] = "uniform"
    """Self-play: how an episode's opponent is drawn from the pool: ``uniform``, or ``hardest``
    (weighted toward the snapshots the learner has beaten least: weight ``1.05 - win rate``)."""

    self_play_win_key: str = "win"
    """Self-play: the ``episode_extra_stats`` key (1 = win) of the learning agent's episode that
    counts as a win against its opponent; episodes without it count as a win when their return is > 0."""
