"""A real PettingZoo env for relayrl: MPE's ``simple_spread_v3`` (``pip install 'relayrl[pettingzoo]'``).

    relayrl train --env examples.pettingzoo_spread:make_env --experiment spread
    relayrl train --env examples.pettingzoo_spread:make_env --env-kwargs '{"N": 3}' --num-policies 3 --policy-mapping fixed

The factory returns the PettingZoo ``ParallelEnv`` as it is: relayrl detects it, checks that every
agent has the same spaces, and trains one row per agent. The env reports each agent's episode
``episode_extra_stats`` (its final distance to the nearest landmark) on the agent's last step.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class ReportDistance:
    """Wraps a ``simple_spread`` parallel env: adds ``episode_extra_stats`` to each agent's last info."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self.possible_agents = env.possible_agents
        self.observation_space = env.observation_space
        self.action_space = env.action_space

    @property
    def agents(self) -> list[str]:
        return self.env.agents

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        return self.env.reset(seed=seed, options=options)

    def step(self, actions: dict) -> tuple[dict, dict, dict, dict, dict]:
        obs, rewards, terms, truncs, infos = self.env.step(actions)
        for agent in obs:
            if terms.get(agent) or truncs.get(agent):
                # simple_spread observations: [vel(2), pos(2), landmark offsets (2 per landmark), ...]
                n = len(self.possible_agents)
                offsets = np.asarray(obs[agent][4 : 4 + 2 * n]).reshape(n, 2)
                nearest = float(np.min(np.linalg.norm(offsets, axis=1)))
                infos[agent] = {**infos.get(agent, {}), "episode_extra_stats": {"nearest_landmark": nearest}}
        return obs, rewards, terms, truncs, infos

    def close(self) -> None:
        self.env.close()


def make_env(config: dict | None = None) -> Any:
    """``simple_spread_v3.parallel_env(**config)`` (defaults: 2 agents, 25 steps, discrete actions)."""
    from mpe2 import simple_spread_v3

    kwargs = {"N": 2, "max_cycles": 25, **(config or {})}
    return ReportDistance(simple_spread_v3.parallel_env(**kwargs))
