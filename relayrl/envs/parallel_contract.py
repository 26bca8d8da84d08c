"""The multi-agent env contract: PettingZoo's ``ParallelEnv`` shape, detected by duck typing.

An object is a multi-agent env when it has ``possible_agents`` (a list of agent ids) and callable
``observation_space(agent)`` / ``action_space(agent)``, and is not a ``gymnasium.Env``. Besides PettingZoo
``ParallelEnv``s, any class with this shape works (no PettingZoo import needed)::

    possible_agents: list[str]            # every agent that may ever take part, in a fixed order
    agents: list[str]                     # the agents acting now (after reset / the last step)
    observation_space(agent) -> Space     # the same space for every agent (checked up front)
    action_space(agent) -> Space
    reset(seed=None) -> (obs: {agent: obs}, infos: {agent: dict})
    step(actions: {agent: action}) -> (obs, rewards, terminations, truncations, infos), each {agent: ...}
    close()

An agent leaves when its termination or truncation is True (it is then no longer in ``agents``); an
agent may join later by appearing in ``agents`` and in the observations. When ``agents`` is empty the
episode is over and relayrl resets the env. ``infos[agent]["episode_extra_stats"]`` on an agent's last
step is that agent's episode report, like ``info["episode_extra_stats"]`` of a single-agent env.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from relayrl.errors import ConfigError


def is_multiagent_env(obj: Any) -> bool:
    """Whether ``obj`` follows the multi-agent (PettingZoo parallel) contract above."""
    if isinstance(obj, gym.Env | gym.vector.VectorEnv):
        return False
    return (
        hasattr(obj, "possible_agents")
        and callable(getattr(obj, "observation_space", None))
        and callable(getattr(obj, "action_space", None))
        and callable(getattr(obj, "step", None))
        and callable(getattr(obj, "reset", None))
    )


def agent_spaces(env: Any, name: str) -> tuple[tuple[str, ...], gym.Space, gym.Space]:
    """``(possible agents, observation space, action space)`` of a multi-agent env; ``ConfigError``
    naming the agents when their spaces differ (one policy network serves every agent)."""
    agents = tuple(env.possible_agents)
    if not agents:
        raise ConfigError(f"multi-agent env {name!r} has no possible_agents; it must list every agent up front.")
    if len(set(agents)) != len(agents):
        raise ConfigError(f"multi-agent env {name!r} lists an agent twice in possible_agents: {list(agents)}.")
    first = agents[0]
    obs_space, act_space = env.observation_space(first), env.action_space(first)
    for agent in agents[1:]:
        for what, space, ref in (
            ("observation", env.observation_space(agent), obs_space),
            ("action", env.action_space(agent), act_space),
        ):
            if space != ref:
                raise ConfigError(
                    f"multi-agent env {name!r}: agent {agent!r} has {what} space {space} but agent {first!r} has "
                    f"{ref}; relayrl needs the same spaces for all agents (pad the observations, or wrap the "
                    "env so that every agent sees one space)."
                )
    return agents, obs_space, act_space
