"""Evaluating policies in a multi-agent env: one agent played by the evaluated policy, the others by
another policy of the checkpoint or by a scripted opponent (``relayrl enjoy --opponent``), optionally
recorded into a video; ``play_game`` plays one game between given players and returns every agent's
result (the league's tournaments, relayrl/league/tournament.py)."""

from __future__ import annotations

import dataclasses
import importlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from relayrl.envs.episode_stats import EXTRA_STATS_KEY, flatten_extra_stats
from relayrl.errors import ConfigError
from relayrl.evaluation.episodes import EvalResult, VideoWriter, deliver_training_info, env_action
from relayrl.hooks import import_callable
from relayrl.models import ActorCritic
from relayrl.utils.obs_tree import map_obs

EXAMPLE_BOTS = "relayrl.envs.coin_duel"
"""A module with scripted opponents (``bot_0`` ... ``bot_4``), named in ``--opponent`` hints."""


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


def _module_with(name: str, env_spec: str) -> str | None:
    """The module (the env factory's, else the built-in game's) that has an attribute ``name``."""
    modules = [env_spec.partition(":")[0]] if ":" in env_spec else []
    for module_name in [*modules, EXAMPLE_BOTS]:
        try:
            if hasattr(importlib.import_module(module_name), name):
                return module_name
        except Exception:  # noqa: BLE001 - only a hint: a module that does not import suggests nothing
            continue
    return None


def resolve_opponent(spec: str, policy_ids: Sequence[int], env_spec: str) -> int | Callable[[Any], Any]:
    """``--opponent``: ``policy:J`` -> J (a policy of the checkpoint), ``package.module:function`` -> the
    function; ConfigError naming both accepted forms (with a module that has the name, if any) else."""
    ids = ", ".join(str(k) for k in policy_ids)
    if spec.startswith("policy:"):
        value = spec.split(":", 1)[1]
        if not value.isdigit() or int(value) not in policy_ids:
            raise ConfigError(f"--opponent {spec}: give policy:J with J a policy of the checkpoint ({ids}).")
        return int(value)
    if ":" not in spec:
        module = _module_with(spec, env_spec)
        example = f"{module}:{spec}" if module else f"{EXAMPLE_BOTS}:bot_4"
        raise ConfigError(
            f"--opponent {spec!r}: give policy:J (J a policy of the checkpoint: {ids}) or a scripted "
            f"opponent as package.module:function, e.g. --opponent {example}."
        )
    return import_callable(spec, f"--opponent {spec!r}")


def opponent_refused_hint(env: Any, spec: str) -> str:
    """For ``--opponent`` given with a single-agent env: how to pick the opponent when the env has its
    own (a ``bot_level`` attribute, set through ``--env-kwargs``), else an empty string."""
    unwrapped = getattr(env, "unwrapped", env)
    if not hasattr(unwrapped, "bot_level"):
        return ""
    digits = None if spec.startswith("policy:") else re.search(r"(\d+)$", spec)  # bot_4 -> level 4
    level = int(digits.group(1)) if digits else int(unwrapped.bot_level)
    kwargs = json.dumps({"bot_level": level})
    return f"; this env plays its own opponent, chosen by the env kwarg bot_level: --env-kwargs '{kwargs}'"


def check_renders(env: Any, env_spec: str) -> None:
    """ConfigError when a multi-agent env cannot give ``rgb_array`` frames (``--video``)."""
    mode = getattr(env, "render_mode", "rgb_array")  # an env without the attribute may still render
    if not callable(getattr(env, "render", None)) or mode != "rgb_array":
        raise ConfigError(
            f"--video: the multi-agent env {env_spec!r} does not render rgb_array frames (its factory needs a "
            "render_mode parameter and the env a render() that returns a frame); drop --video."
        )


def evaluate_multiagent(
    env: Any,
    players: Mapping[Any, Any],
    focus: Any,
    num_episodes: int,
    seed: int,
    video: VideoWriter | None = None,
    max_video_episodes: int = 1,
    training_info: dict[str, Any] | None = None,
) -> EvalResult:
    """``num_episodes`` episodes of a multi-agent env (episode i reset with ``seed + i``); ``players``:
    agent id -> player (``ModelPlayer`` / ``ScriptedPlayer``); the first ``max_video_episodes`` recorded
    into ``video`` (``env.render()`` after the reset and after every step) when given; ``training_info``
    delivered before every reset. Returns the ``focus`` agent's returns, lengths and
    ``episode_extra_stats`` means."""
    returns: list[float] = []
    lengths: list[int] = []
    extras: dict[str, list[float]] = {}
    per_episode: list[dict[str, float]] = []
    for i in range(num_episodes):
        recording = video if i < max_video_episodes else None
        deliver_training_info(env, training_info)
        obs, _ = env.reset(seed=seed + i)
        for player in players.values():
            player.reset()
        if recording is not None:
            recording.add(env.render())
        total, length, extra = 0.0, 0, None
        while env.agents:
            acting = list(env.agents)
            actions = {agent: players[agent].act(obs[agent]) for agent in acting}
            obs, rewards, terms, truncs, infos = env.step(actions)
            if recording is not None:
                recording.add(env.render())
            if focus in acting:
                total += float(rewards.get(focus, 0.0))
                length += 1
                if terms.get(focus) or truncs.get(focus):
                    extra = (infos.get(focus) or {}).get(EXTRA_STATS_KEY)
        returns.append(total)
        lengths.append(length)
        per_episode.append(flatten_extra_stats(extra, lambda k, v: None) if extra else {})
        for key, value in per_episode[-1].items():
            extras.setdefault(key, []).append(value)
    arr = np.asarray(returns, dtype=np.float64)
    means = {key: float(np.mean(values)) for key, values in sorted(extras.items())}
    video_path = str(video.path) if video is not None else None
    return EvalResult(
        returns, lengths, float(arr.mean()), float(arr.std()), video_path, means, episode_extras=per_episode
    )


@dataclasses.dataclass(frozen=True)
class GameResult:
    """One finished episode of a multi-agent env, for every agent: its return, its length (steps it
    acted) and its last step's ``episode_extra_stats`` (flattened to ``a/b`` paths, numbers only)."""

    returns: dict[Any, float]
    lengths: dict[Any, int]
    extra: dict[Any, dict[str, float]]


def play_game(
    env: Any, players: Mapping[Any, Any], seed: int, training_info: dict[str, Any] | None = None
) -> GameResult:
    """One episode of a multi-agent env reset with ``seed``; ``players``: agent id -> player
    (``ModelPlayer`` / ``ScriptedPlayer``, each reset first); ``training_info`` delivered before the
    reset. Every agent's result, also of agents that left before the end."""
    deliver_training_info(env, training_info)
    obs, _ = env.reset(seed=seed)
    for player in players.values():
        player.reset()
    returns = {agent: 0.0 for agent in players}
    lengths = {agent: 0 for agent in players}
    extra: dict[Any, dict[str, float]] = {agent: {} for agent in players}
    while env.agents:
        acting = list(env.agents)
        obs, rewards, terms, truncs, infos = env.step({agent: players[agent].act(obs[agent]) for agent in acting})
        for agent in acting:
            returns[agent] += float(rewards.get(agent, 0.0))
            lengths[agent] += 1
            stats = (infos.get(agent) or {}).get(EXTRA_STATS_KEY) if terms.get(agent) or truncs.get(agent) else None
            if stats:
                extra[agent] = flatten_extra_stats(stats, lambda k, v: None)
    return GameResult(returns, lengths, extra)
