"""Pure tensor math for PPO: advantage estimators and losses (no state, no I/O)."""

from relayrl.algo.advantages import gae, vtrace
from relayrl.algo.ppo import PPOLossTerms, explained_variance, normalize_advantages, ppo_loss

__all__ = ["PPOLossTerms", "explained_variance", "gae", "normalize_advantages", "ppo_loss", "vtrace"]
