"""Multi-agent training: the env contract and adapter, agent -> policy mapping, self-play and the
opponent-difficulty curriculum. See docs/multi-agent.md."""

from relayrl.multiagent.contract import agent_spaces, is_multiagent_env

__all__ = ["agent_spaces", "is_multiagent_env"]
