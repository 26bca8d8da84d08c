"""Multi-agent training, as users reach it: the opponent-difficulty curricula and the env contract.

Where the parts live (docs/multi-agent.md, docs/architecture.md): the PettingZoo-parallel contract and
the env batch in ``relayrl/envs/`` (``parallel_contract.py``, ``multiagent_batch.py``), the agent ->
policy mapping and per-agent training info in the worker (``worker/mapping.py``, ``worker/agent_info.py``),
the opponent curricula in ``relayrl/curriculum/`` (``opponents.py``, ``snapshots.py``), self-play in
``relayrl/self_play/``, evaluation matches in ``relayrl/evaluation/matches.py``. This module only names
them for users (imported on first use); nothing in relayrl imports it.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "agent_spaces": "relayrl.envs.parallel_contract",
    "is_multiagent_env": "relayrl.envs.parallel_contract",
    "OpponentCurriculum": "relayrl.curriculum.opponents",
    "SnapshotAgeCurriculum": "relayrl.curriculum.snapshots",
    "MultiAgentEnvBatch": "relayrl.envs.multiagent_batch",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["MultiAgentEnvBatch", "OpponentCurriculum", "SnapshotAgeCurriculum", "agent_spaces", "is_multiagent_env"]
