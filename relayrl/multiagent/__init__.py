"""Multi-agent training: the env contract and adapter, agent -> policy mapping, self-play and the
opponent-difficulty curriculum. See docs/multi-agent.md."""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "agent_spaces": "relayrl.multiagent.contract",
    "is_multiagent_env": "relayrl.multiagent.contract",
    "OpponentCurriculum": "relayrl.multiagent.opponent_curriculum",
    "SnapshotAgeCurriculum": "relayrl.multiagent.snapshot_curriculum",
    "MultiAgentEnvBatch": "relayrl.multiagent.env_batch",
}


def __getattr__(name: str) -> Any:
    # imported on first use: relayrl.config imports this package's config module (it must stay light,
    # without gymnasium), envs/factory.py imports this package, and the curricula import envs
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["MultiAgentEnvBatch", "OpponentCurriculum", "SnapshotAgeCurriculum", "agent_spaces", "is_multiagent_env"]
