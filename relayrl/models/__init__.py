"""Actor-critic models: encoders, GRU core, action distributions, normalizers."""

from relayrl.models.actor_critic import ActorCritic, ActResult, Evaluation, build_actor_critic

__all__ = ["ActResult", "ActorCritic", "Evaluation", "build_actor_critic"]
