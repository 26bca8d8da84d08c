"""Evaluating policies in a multi-agent env: one agent played by the evaluated policy, the others by
another policy of the checkpoint or by a scripted opponent (``relayrl enjoy --opponent``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from relayrl.envs.episode_stats import EXTRA_STATS_KEY, flatten_extra_stats
from relayrl.evaluation import EvalResult, env_action
from relayrl.models import ActorCritic
from relayrl.utils.obs_tree import map_obs


class ModelPlayer:
    """A policy network acting for one agent (batch of 1, recurrent state kept within an episode)."""

    def __init__(self, model: ActorCritic, action_space: Any, deterministic: bool) -> None:
        self.model, self.action_space, self.deterministic = model, action_space, deterministic
        self.rnn_state: torch.Tensor | None = None
        self.starts = torch.ones(1, dtype=torch.bool)

    def reset(self) -> None:
        size = self.model.rnn_state_size
        self.rnn_state = torch.zeros(1, size) if size > 0 else None
        self.starts = torch.ones(1, dtype=torch.bool)

    def act(self, obs: Any) -> Any:
        batch = map_obs(obs, lambda x: torch.as_tensor(np.asarray(x))[None])
        with torch.inference_mode():
            res = self.model.act(batch, self.rnn_state, self.starts, deterministic=self.deterministic)
        self.rnn_state, self.starts = res.rnn_state, torch.zeros(1, dtype=torch.bool)
        return env_action(res.actions[0], self.action_space)


class ScriptedPlayer:
    """A ``function(obs) -> action`` acting for one agent."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn

    def reset(self) -> None:
        pass

    def act(self, obs: Any) -> Any:
        return self.fn(obs)


def evaluate_multiagent(env: Any, players: Mapping[Any, Any], focus: Any, num_episodes: int, seed: int) -> EvalResult:
    """``num_episodes`` episodes of a multi-agent env (episode i reset with ``seed + i``); ``players``:
    agent id -> player (``ModelPlayer`` / ``ScriptedPlayer``). Returns the ``focus`` agent's returns,
    lengths and ``episode_extra_stats`` means."""
    returns: list[float] = []
    lengths: list[int] = []
    extras: dict[str, list[float]] = {}
    for i in range(num_episodes):
        obs, _ = env.reset(seed=seed + i)
        for player in players.values():
            player.reset()
        total, length, extra = 0.0, 0, None
        while env.agents:
            acting = list(env.agents)
            actions = {agent: players[agent].act(obs[agent]) for agent in acting}
            obs, rewards, terms, truncs, infos = env.step(actions)
            if focus in acting:
                total += float(rewards.get(focus, 0.0))
                length += 1
                if terms.get(focus) or truncs.get(focus):
                    extra = (infos.get(focus) or {}).get(EXTRA_STATS_KEY)
        returns.append(total)
        lengths.append(length)
        for key, value in (flatten_extra_stats(extra, lambda k, v: None) if extra else {}).items():
            extras.setdefault(key, []).append(value)
    arr = np.asarray(returns, dtype=np.float64)
    means = {key: float(np.mean(values)) for key, values in sorted(extras.items())}
    return EvalResult(returns, lengths, float(arr.mean()), float(arr.std()), None, means)
