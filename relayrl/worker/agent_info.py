"""Worker side of per-agent training info: which policy controls each agent, and that policy's progress.

The trainer publishes, with several policies, self-play or a multi-agent env, a ``policies`` table in
the trainer part of training info (``info_schema.POLICIES``: ``{policy id: {policy_version, env_steps,
stats, reward_shaping}}``). Right before a delivery to env ``e``, ``AgentInfo.decorate`` adds what is
specific to that env's current episode (the mapping is decided per episode in the worker):

- a multi-agent env gets ``agents``: ``{agent id: {"policy_id": k, "policy_version", "env_steps",
  "stats", "reward_shaping"}}``; an agent played by a self-play snapshot gets ``{"policy_id": None,
  "snapshot_slot": j, "snapshot_version": v}``;
- every env gets the values of the policy that controls it in the top-level keys (``policy_id``,
  ``policy_version``, ``stats``, ``reward_shaping``, ``env_params``; ``info_schema.for_policy``): a
  single-agent env its controller's, a multi-agent env the lowest-numbered trained policy's among its
  agents (with one policy, self-play included: that policy's).

The layout is documented in docs/training-info.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from relayrl import info_schema


class PoolTable:
    """The self-play pool as a worker reads it (a ``SharedBlob``): ``{"slots": {slot: {"version": v,
    "policy": k}}, "weights": {k: {controller id: w}}}`` (relayrl/self_play/pool.py)."""

    def __init__(self, reader: Any | None) -> None:
        self.reader = reader
        self.read_version = -1
        self.slots: dict[int, dict[str, int]] = {}
        self.by_learner: dict[int, dict[int, float]] = {}

    def _refresh(self) -> None:
        if self.reader is None:
            return
        version = self.reader.version()
        if version != self.read_version:
            self.read_version, value = self.reader.read()
            value = value or {}
            self.slots = {int(s): {key: int(x) for key, x in e.items()} for s, e in value.get("slots", {}).items()}
            self.by_learner = {
                int(k): {int(c): float(w) for c, w in weights.items()}
                for k, weights in value.get("weights", {}).items()
            }

    def weights(self, k: int = 0) -> dict[int, float]:
        """Controller id -> sampling weight of each opponent of learner ``k`` (snapshots: ``N + slot``)."""
        self._refresh()
        return dict(self.by_learner.get(k, {}))

    def versions(self, k: int = 0) -> dict[int, int]:
        """Slot -> version of learner ``k``'s snapshots."""
        self._refresh()
        return {slot: e["version"] for slot, e in self.slots.items() if e.get("policy", 0) == k}

    def version_of(self, slot: int) -> int | None:
        self._refresh()
        entry = self.slots.get(slot)
        return None if entry is None else int(entry["version"])


class AgentInfo:
    """Adds the per-agent part to the training info of one worker's envs."""

    def __init__(self, mapping: Any, agents: Sequence[Any] | None, pool: PoolTable) -> None:
        """``mapping``: the worker's ``AgentMapping``; ``agents``: the multi-agent env's agent ids (None:
        single-agent envs)."""
        self.mapping = mapping
        self.agents = list(agents) if agents is not None else None
        self.pool = pool

    def _entry(self, controller: int, info: dict[str, Any]) -> dict[str, Any]:
        num_policies = self.mapping.num_policies
        if controller >= num_policies:
            slot = controller - num_policies
            return info_schema.snapshot_entry(slot, self.pool.version_of(slot))
        return info_schema.policy_entry(info, controller)

    def decorate(self, env_index: int, info: dict[str, Any]) -> dict[str, Any]:
        """The dict env ``env_index`` gets: ``info`` with its policy's keys at the top level (a multi-agent
        env's: the lowest-numbered trained policy among its agents this episode) and, for a multi-agent
        env, its agents' part (a new top-level dict)."""
        controller = self.mapping.controller
        if self.agents is None:
            return info_schema.for_policy(info, int(controller[env_index]))
        first = env_index * len(self.agents)
        rows = [int(controller[first + a]) for a in range(len(self.agents))]
        trained = [k for k in rows if k < self.mapping.num_policies]
        out = info_schema.for_policy(info, min(trained)) if trained else dict(info)
        out[info_schema.AGENTS] = {agent: self._entry(k, info) for agent, k in zip(self.agents, rows, strict=True)}
        return out
