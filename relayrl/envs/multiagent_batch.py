"""``MultiAgentEnvBatch``: a worker's multi-agent envs as one batch, one row per (env, agent).

Env ``e``'s agent ``a`` (its index in ``possible_agents``) is row ``e * A + a``. Every step returns
observations for all rows; ``active`` says which rows hold an agent that acts on them (an agent that
has left, or has not joined yet, has an inactive row: its action is ignored, its reward is 0 and the
worker masks the row out of the loss). An agent's last step carries ``done`` and its own terminal info
(``episode_extra_stats`` included) in ``episode_infos``, collected *before* the env is reset, so
nothing an agent reports at the end of its episode is lost to the auto-reset. The env resets when no
agent is left (same-step autoreset: ``final_obs`` holds each leaving agent's last observation).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from relayrl.envs.batch import Obs, StepResult, copy_obs, empty_batch, obs_writer
from relayrl.envs.faults import EnvRestarter, ObsChecker
from relayrl.envs.parallel_contract import agent_spaces
from relayrl.errors import ConfigError


class MultiAgentEnvBatch:
    """``len(envs) * len(possible_agents)`` rows stepped as one batch (the ``EnvBatch`` protocol).

    Hooks (``before_reset``, training-info rounds) are called with the *env* index ``e``; ``envs()``
    lists the multi-agent env objects. Returned arrays are reused by the next step: copy to keep.
    """

    autoreset: Literal["same_step", "next_step"] = "same_step"

    def __init__(
        self,
        envs: list[Any],
        name: str,
        seed: int | None = None,
        restarter: EnvRestarter | None = None,
        checker: ObsChecker | None = None,
    ) -> None:
        if not envs:
            raise ValueError("MultiAgentEnvBatch needs at least one env")
        self.agents, self.single_observation_space, self.single_action_space = agent_spaces(envs[0], name)
        self.name = name
        self.num_agents = len(self.agents)
        self.row_of = {agent: a for a, agent in enumerate(self.agents)}
        self._envs = list(envs)
        self.num_multiagent_envs = len(envs)
        self.num_envs = len(envs) * self.num_agents
        self._seed = seed
        self.restarter = restarter or EnvRestarter(len(envs), "", restart=False, max_consecutive=0, make=None)
        self.checker = checker
        self.training_info_round: Callable[[], Any] | None = None
        self.before_reset: Callable[[int], None] | None = None
        self._obs = empty_batch(self.single_observation_space, self.num_envs)
        self._write = obs_writer(self._obs)
        self.active = np.zeros(self.num_envs, dtype=bool)
        """Rows whose agent acts on the observations returned last."""
        self._rewards = np.zeros(self.num_envs, dtype=np.float32)
        self._terminated = np.zeros(self.num_envs, dtype=bool)
        self._truncated = np.zeros(self.num_envs, dtype=bool)

    def _row(self, e: int, agent: Any) -> int:
        a = self.row_of.get(agent)
        if a is None:
            raise ConfigError(
                f"multi-agent env {self.name!r} returned agent {agent!r}, which is not in its possible_agents "
                f"{list(self.agents)}; list every agent that can ever take part in possible_agents."
            )
        return e * self.num_agents + a

    def _store(self, e: int, obs: dict[Any, Any], acting: list[Any]) -> None:
        """Write env ``e``'s observations of the agents in ``acting`` and mark which rows are active."""
        first = e * self.num_agents
        self.active[first : first + self.num_agents] = False
        for agent in acting:
            row = self._row(e, agent)
            if self.checker is not None:
                self.checker.check_single(row, obs[agent])
            self._write(row, obs[agent])
            self.active[row] = True

    def _reset_env(self, e: int, seed: int | None) -> None:
        if self.before_reset is not None:
            self.before_reset(e)
        obs, _ = self._envs[e].reset(seed=seed)
        self._store(e, obs, list(self._envs[e].agents))

    def reset(self) -> Obs:
        for e in range(self.num_multiagent_envs):
            try:
                self._reset_env(e, None if self._seed is None else self._seed + e)
            except ConfigError:
                raise
            except Exception as exc:  # noqa: BLE001 - env errors follow --env-error-policy
                self._restart(e, exc, "reset")
        return self._obs

    def _restart(self, e: int, exc: Exception, what: str) -> str:
        text = self.restarter.failed(e, exc, what)
        while True:
            try:
                self._envs[e].close()
            except Exception:  # noqa: BLE001 - being replaced anyway
                pass
            try:
                assert self.restarter.make is not None
                self._envs[e] = self.restarter.make(e)
                self._reset_env(e, None)
                return text
            except Exception as again:  # noqa: BLE001
                self.restarter.failed(e, again, "restart")

    def _step_env(self, e: int, actions: list[Any], final_obs: dict[int, Any], episode_infos: dict[int, dict]) -> None:
        env = self._envs[e]
        first = e * self.num_agents
        acting = {agent: actions[self._row(e, agent)] for agent in env.agents}
        obs, rewards, terms, truncs, infos = env.step(acting)
        for agent in acting:
            row = first + self.row_of[agent]
            self._rewards[row] = rewards.get(agent, 0.0)
            term, trunc = bool(terms.get(agent, False)), bool(truncs.get(agent, False))
            self._terminated[row], self._truncated[row] = term, trunc
            if term or trunc:
                # the agent's own terminal info and last observation, kept before any reset
                episode_infos[row] = dict(infos.get(agent) or {})
                if agent in obs:
                    final_obs[row] = copy_obs(obs[agent])
        if env.agents:
            self._store(e, obs, list(env.agents))
        else:  # episode over: every agent has left
            for row in range(first, first + self.num_agents):
                if self.active[row] and row not in episode_infos:  # left without saying so: truncated
                    self._truncated[row] = True
                    episode_infos[row] = {}
            self._reset_env(e, None)
        if episode_infos:
            self.restarter.succeeded(e)

    def step(self, actions: np.ndarray) -> StepResult:
        acts = actions.tolist() if actions.dtype.kind in "iu" and actions.ndim == 1 else list(actions)
        self._rewards[:] = 0.0
        self._terminated[:] = False
        self._truncated[:] = False
        final_obs: dict[int, Any] = {}
        episode_infos: dict[int, dict] = {}
        errors: dict[int, str] = {}
        info_round = self.training_info_round() if self.training_info_round is not None else None
        for e in range(self.num_multiagent_envs):
            try:
                if info_round is not None:
                    info_round.to_env(e)
                self._step_env(e, acts, final_obs, episode_infos)
            except ConfigError:
                raise
            except Exception as exc:  # noqa: BLE001 - env errors follow --env-error-policy
                text = self._restart(e, exc, "step / reset / set_training_info")
                for row in range(e * self.num_agents, (e + 1) * self.num_agents):
                    self._rewards[row], self._terminated[row], self._truncated[row] = 0.0, False, False
                    final_obs.pop(row, None)
                    episode_infos.pop(row, None)
                    errors[row] = text
        return StepResult(
            self._obs,
            self._rewards,
            self._terminated,
            self._truncated,
            final_obs,
            episode_infos,
            None,
            errors,
            active=self.active,
        )

    def envs(self) -> list[Any]:
        return self._envs

    def close(self) -> None:
        for env in self._envs:
            env.close()
