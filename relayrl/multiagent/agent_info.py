"""Worker side of per-agent training info: which policy controls each agent, and that policy's progress.

The trainer publishes, with several policies, self-play or a multi-agent env, a ``policies`` table in
the trainer part of training info (``info_schema.POLICIES``: ``{policy id: {policy_version, env_steps,
stats, reward_shaping}}``). Right before a delivery to env ``e``, ``AgentInfo.decorate`` adds what is
specific to that env's current episode (the mapping is decided per episode in the worker):

- a multi-agent env gets ``agents``: ``{agent id: {"policy_id": k, "policy_version", "env_steps",
  "stats", "reward_shaping"}}``; an agent played by a self-play snapshot gets ``{"policy_id": None,
  "snapshot_slot": j, "snapshot_version": v}``;
- a single-agent env controlled by policy ``k`` gets policy ``k``'s values in the top-level keys
  (``policy_id``, ``policy_version``, ``stats``, ``reward_shaping``, ``env_params``): the keys keep their meaning,
  "the policy that controls this env".

The layout is documented in docs/training-info.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from relayrl import info_schema


class PoolTable:
    """The self-play pool as a worker reads it: ``{slot: {"version": v, "weight": w}}`` (a ``SharedBlob``)."""

    def __init__(self, reader: Any | None) -> None:
        self.reader = reader
        self.read_version = -1
        self.table: dict[int, dict[str, float]] = {}

    def _refresh(self) -> None:
        if self.reader is None:
            return
        version = self.reader.version()
        if version != self.read_version:
            self.read_version, value = self.reader.read()
            self.table = {int(k): dict(v) for k, v in (value or {}).items()}

    def weights(self) -> dict[int, float]:
        """Slot -> sampling weight of the filled slots."""
        self._refresh()
        return {slot: float(entry["weight"]) for slot, entry in self.table.items()}

    def versions(self) -> dict[int, int]:
        """Slot -> version of the filled slots."""
        self._refresh()
        return {slot: int(entry["version"]) for slot, entry in self.table.items()}

    def version_of(self, slot: int) -> int | None:
        self._refresh()
        entry = self.table.get(slot)
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
            return {"policy_id": None, "snapshot_slot": slot, "snapshot_version": self.pool.version_of(slot)}
        policies = info.get(info_schema.POLICIES) or {}
        own = policies.get(controller)
        if own is None:  # nothing published per policy: the top-level keys are policy 0's
            own = {key: info[key] for key in (info_schema.POLICY_VERSION, info_schema.STATS) if key in info}
        return {info_schema.POLICY_ID: controller, **own}

    def decorate(self, env_index: int, info: dict[str, Any]) -> dict[str, Any]:
        """The dict env ``env_index`` gets: ``info`` plus its agents' part (a new top-level dict)."""
        out = dict(info)
        controller = self.mapping.controller
        if self.agents is None:
            k = int(controller[env_index])
            if k != 0:
                out.pop(info_schema.REWARD_SHAPING, None)
                out.pop(info_schema.ENV_PARAMS, None)
                out.update(self._entry(k, info))
                out.pop("env_steps", None)
            return out
        first = env_index * len(self.agents)
        out[info_schema.AGENTS] = {
            agent: self._entry(int(controller[first + a]), info) for a, agent in enumerate(self.agents)
        }
        return out
