"""Actor-critic models: encoders, GRU core, action distributions, normalizers."""

from relayrl.models.actor_critic import ActorCritic, ActResult, EvalResult, build_actor_critic

__all__ = ["ActResult", "ActorCritic", "EvalResult", "build_actor_critic"]
