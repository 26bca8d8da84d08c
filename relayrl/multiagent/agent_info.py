"""Worker side of per-agent training info: which policy controls each agent, and that policy's progress.

The trainer publishes, with several policies, self-play or a multi-agent env, a ``policies`` table in
the trainer part of training info (``info_schema.POLICIES``: ``{policy id: {policy_version, env_steps,
stats, reward_shaping}}``); the worker's delivery writes each policy's live ``env_steps`` into it
(``info_schema.complete``). Right before a delivery to env ``e``, ``AgentInfo.decorate`` adds what is
specific to that env's current episode (the mapping is decided per episode in the worker), composed
by ``info_schema``:

- a multi-agent env gets ``agents``: ``{agent id: {"policy_id": k, "policy_version", "env_steps",
  "stats", "reward_shaping"}}``; an agent played by a self-play snapshot gets ``{"policy_id": None,
  "snapshot_slot": j, "snapshot_version": v}``;
- a single-agent env controlled by policy ``k`` gets policy ``k``'s values in the top-level keys
  (``policy_id`` and ``info_schema.CONTROLLED_KEYS``: ``policy_version``, ``stats``, ``reward_shaping``,
  ``env_params``): the keys keep their meaning, "the policy that controls this env".

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
            return info_schema.snapshot_entry(slot, self.pool.version_of(slot))
        return info_schema.policy_entry(info, controller)

    def decorate(self, env_index: int, info: dict[str, Any]) -> dict[str, Any]:
        """The dict env ``env_index`` gets (a new top-level dict): a single-agent env's view for the
        policy that controls it (``info_schema.controlled_by``), or ``info`` plus its agents' part."""
        controller = self.mapping.controller
        if self.agents is None:
            return info_schema.controlled_by(info, int(controller[env_index]))
        out = dict(info)
        first = env_index * len(self.agents)
        out[info_schema.AGENTS] = {
            agent: self._entry(int(controller[first + a]), info) for a, agent in enumerate(self.agents)
        }
        return out
