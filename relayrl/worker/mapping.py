"""Agent -> policy mapping, decided in the rollout worker at every episode start.

A *controller* id says who acts for a row: ``0 .. P-1`` are the trained policies; with self-play,
``P + j`` is the frozen snapshot in pool slot ``j`` (never learned from). With self-play each episode
has one learner, drawn uniformly among the P policies, against one opponent for its other agents: a
snapshot or another learner, drawn by that learner's weights in the pool table (or the snapshot of the
env's ``SnapshotAgeCurriculum`` level among the learner's own). Each env's rows are
(re)assigned right before the env resets (the env batch's ``before_reset``), so training info delivered
for the new episode already names the right policies. A user hook that raises or returns an unknown
id must not be mistaken for an env error (which the batch would handle by restarting the env): the
failure is kept and raised by the worker after the step (``raise_failure``), naming the hook.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from relayrl.config import Config
from relayrl.errors import ConfigError, WorkerError
from relayrl.hooks import import_callable


class MappingError(WorkerError):
    """The ``--policy-mapping`` hook raised or returned an unknown policy id."""


def mapping_kind(spec: str) -> str:
    """``random``, ``fixed`` or ``hook``."""
    return spec if spec in ("random", "fixed") else "hook"


def load_mapping_hook(spec: str) -> Callable[[Any, int, int], Any]:
    """The ``package.module:function`` of ``--policy-mapping``; ConfigError listing the accepted values
    for anything else."""
    if ":" not in spec:
        raise ConfigError(
            f"--policy-mapping {spec!r} is unknown; choose random, fixed, or a hook package.module:function "
            "called as function(agent_id, env_index, episode) -> policy id."
        )
    return import_callable(spec, f"--policy-mapping {spec!r}")


def check_policy_id(value: Any, num_policies: int) -> int | None:
    """``value`` as a policy id if it is an int in ``[0, num_policies)``, else None."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        return None
    return int(value) if 0 <= int(value) < num_policies else None


class AgentMapping:
    """The controller of every row of one worker's env batch (``rows = envs * agents``)."""

    def __init__(
        self,
        cfg: Config,
        agents: Sequence[Any],
        num_envs: int,
        first_env_index: int,
        seed: int,
        pool_weights: Callable[[int], dict[int, float]] | None = None,
        pool_versions: Callable[[int], dict[int, int]] | None = None,
        opponent_level: Callable[[int], int | None] | None = None,
    ) -> None:
        """``agents``: the agent ids of one env (``[0]`` for a single-agent env); ``first_env_index``:
        the global index of the worker's env 0; ``pool_weights(k)``: learner ``k``'s opponents, controller
        id -> sampling weight; ``pool_versions(k)``: slot -> version of learner ``k``'s snapshots; ``opponent_level(e)``: env ``e``'s
        snapshot-age curriculum level (``SnapshotAgeCurriculum``), or None to draw the opponent."""
        ma = cfg.multi_agent
        self.num_policies = ma.num_policies
        self.self_play = cfg.self_play.enabled
        self.spec = ma.policy_mapping
        self.kind = mapping_kind(self.spec)
        self.hook = load_mapping_hook(self.spec) if self.kind == "hook" and not self.self_play else None
        self.agents = list(agents)
        self.num_agents = len(self.agents)
        self.first_env_index = first_env_index
        self.episodes = np.zeros(num_envs, dtype=np.int64)
        self.controller = np.zeros(num_envs * self.num_agents, dtype=np.int64)
        """Row -> controller id for the current episode of its env."""
        self.rng = np.random.default_rng(seed)
        self.pool_weights = pool_weights
        self.pool_versions = pool_versions
        self.opponent_level = opponent_level
        self.failure: str | None = None
        self.serial = 0
        """Counts changes of ``controller`` (a worker recomputes what depends on it only then)."""

    @property
    def trivial(self) -> bool:
        """Every row is always policy 0."""
        return self.num_policies == 1 and not self.self_play

    def new_episode(self, e: int) -> None:
        """Assign the rows of env ``e`` for its next episode (called right before it resets)."""
        if self.trivial:
            return
        rows = slice(e * self.num_agents, (e + 1) * self.num_agents)
        episode = int(self.episodes[e])
        self.serial += 1
        self.episodes[e] += 1
        if self.self_play:
            self.controller[rows] = self._self_play_assignment(e)
        elif self.kind == "random":
            self.controller[rows] = self.rng.integers(0, self.num_policies, self.num_agents)
        elif self.kind == "fixed":
            self.controller[rows] = np.arange(self.num_agents) % self.num_policies
        else:
            self.controller[rows] = [self._from_hook(agent, self.first_env_index + e, episode) for agent in self.agents]

    def _from_hook(self, agent: Any, env_index: int, episode: int) -> int:
        assert self.hook is not None
        try:
            value = self.hook(agent, env_index, episode)
        except Exception as exc:  # noqa: BLE001 - raised by the worker after this step, naming the hook
            self.failure = (
                f"--policy-mapping {self.spec!r} raised {type(exc).__name__}: {exc} "
                f"(agent {agent!r}, env {env_index}, episode {episode})"
            )
            return 0
        policy = check_policy_id(value, self.num_policies)
        if policy is None:
            self.failure = (
                f"--policy-mapping {self.spec!r} returned {value!r} for agent {agent!r}, env {env_index}, episode "
                f"{episode}; it must return a policy id in 0..{self.num_policies - 1}"
            )
            return 0
        return policy

    def _self_play_assignment(self, e: int) -> np.ndarray:
        """One agent (at random) is a learner k (drawn uniformly); the others are one opponent: the
        snapshot of env ``e``'s curriculum level among k's own (0: the oldest), else drawn by k's weights
        (a snapshot or another learner); with no opponent yet, the learner plays itself."""
        k = int(self.rng.integers(self.num_policies)) if self.num_policies > 1 else 0
        level = self.opponent_level(e) if self.opponent_level is not None else None
        versions = self.pool_versions(k) if self.pool_versions is not None and level is not None else {}
        weights = self.pool_weights(k) if self.pool_weights is not None and not versions else {}
        opponent = k
        if versions and level is not None:
            by_age = sorted(versions, key=lambda slot: versions[slot])  # oldest first
            opponent = self.num_policies + by_age[min(level, len(by_age) - 1)]
        elif weights and sum(weights.values()) > 0:
            ids = sorted(weights)
            p = np.asarray([weights[c] for c in ids], dtype=np.float64)
            opponent = ids[int(self.rng.choice(len(ids), p=p / p.sum()))]
        out = np.full(self.num_agents, opponent, dtype=np.int64)
        out[int(self.rng.integers(self.num_agents))] = k
        return out

    def opponent_of(self, row: int, controller: np.ndarray) -> int | None:
        """In ``controller`` (row -> controller, e.g. a copy taken before a step), the controller of the
        first other agent in ``row``'s env (None for a single-agent env)."""
        if self.num_agents == 1:
            return None
        e = row // self.num_agents
        for r in range(e * self.num_agents, (e + 1) * self.num_agents):
            if r != row:
                return int(controller[r])
        return None

    def raise_failure(self) -> None:
        if self.failure is not None:
            raise MappingError(self.failure + "; the last checkpoint stays loadable, fix the hook and rerun to resume")


def validate_mapping(cfg: Config, agents: Sequence[Any] | None, num_envs_total: int) -> None:
    """Bad mapping settings as ``ConfigError`` before any process starts: an unknown policy id from the
    hook (probed on every agent of every env, episode 0), more policies than the mapping can use."""
    ma = cfg.multi_agent
    num_agents = len(agents) if agents else 1
    kind = mapping_kind(ma.policy_mapping)
    if cfg.self_play.enabled:
        if agents is None:
            raise ConfigError(
                f"--self-play needs a multi-agent env (several agents to play each other); {cfg.env!r} is a "
                "single-agent env: drop --self-play, or return a PettingZoo ParallelEnv from the env factory."
            )
        return
    if kind == "fixed" and ma.num_policies > num_agents:
        raise ConfigError(
            f"--num-policies {ma.num_policies} with --policy-mapping fixed: the env has {num_agents} agent(s), so "
            f"policies {num_agents}..{ma.num_policies - 1} would never act; lower --num-policies to at most {num_agents} "
            "or use --policy-mapping random."
        )
    if kind == "random" and ma.num_policies > num_envs_total * num_agents:
        raise ConfigError(
            f"--num-policies {ma.num_policies} exceeds the {num_envs_total * num_agents} agents of all envs together; "
            "lower it or run more envs."
        )
    if kind == "hook":
        hook = load_mapping_hook(ma.policy_mapping)
        used: set[int] = set()
        for env_index in range(num_envs_total):
            for agent in agents or [0]:
                try:
                    value = hook(agent, env_index, 0)
                except Exception as exc:  # noqa: BLE001
                    raise ConfigError(
                        f"--policy-mapping {ma.policy_mapping!r} raised {type(exc).__name__}: {exc} for agent "
                        f"{agent!r}, env {env_index}, episode 0; fix the function."
                    ) from exc
                policy = check_policy_id(value, ma.num_policies)
                if policy is None:
                    raise ConfigError(
                        f"--policy-mapping {ma.policy_mapping!r} returned {value!r} for agent {agent!r}, env "
                        f"{env_index}, episode 0: not a policy id in 0..{ma.num_policies - 1}; return one of those "
                        "or raise --num-policies."
                    )
                used.add(policy)
        if len(used) < ma.num_policies and ma.num_policies > num_envs_total * num_agents:
            raise ConfigError(
                f"--num-policies {ma.num_policies} exceeds the {num_envs_total * num_agents} agents of all envs "
                "together; lower it."
            )
