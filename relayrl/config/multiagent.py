"""``MultiAgentConfig``: several policies and the agent -> policy mapping (docs/multi-agent.md)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from relayrl.errors import require

if TYPE_CHECKING:
    from relayrl.config import Config

MAPPING_KINDS = ("random", "fixed")
"""The built-in ``--policy-mapping`` kinds (anything else must be ``package.module:function``)."""


@dataclasses.dataclass(frozen=True)
class MultiAgentConfig:
    """Several policies and the agent -> policy mapping (docs/multi-agent.md)."""

    num_policies: int = 1
    """Policies trained side by side, each with its own learner, optimizer, normalizers, checkpoint
    entry and ``best`` file; agents (or single-agent envs) are mapped to them per episode."""

    policy_mapping: str = "random"
    """Which policy controls each agent, decided at every episode start: ``random`` (each agent a
    uniformly drawn policy), ``fixed`` (agent ``a`` of ``possible_agents`` -> policy ``a % num_policies``;
    a single-agent env is agent 0) or ``package.module:function`` called as
    ``function(agent_id, env_index, episode) -> policy id`` in the rollout workers (``agent_id``: the
    env's agent name as in ``possible_agents``, 0 for a single-agent env; ``env_index``: the global env
    index; ``episode``: that env's episode count, from 0)."""

    def validate(self, cfg: Config) -> None:
        require(self.num_policies >= 1, f"--num-policies must be >= 1 (got {self.num_policies}).")
        require(
            self.policy_mapping in MAPPING_KINDS or ":" in self.policy_mapping,
            f"--policy-mapping {self.policy_mapping!r} is not one of {', '.join(MAPPING_KINDS)} or "
            "'package.module:function'.",
        )
