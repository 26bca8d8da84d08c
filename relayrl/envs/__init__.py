"""Environments: building them from a Config and stepping a worker's envs as one batch."""

from relayrl.envs.batch import EnvBatch, ListEnvBatch, Obs, StepResult, VectorEnvBatch, unbatch_info
from relayrl.envs.factory import check_spaces, make_env, make_env_batch, make_vector_env, probe_spaces
from relayrl.envs.wrappers import MiniGridObsWrapper, wrap_atari

__all__ = [
    "EnvBatch",
    "ListEnvBatch",
    "MiniGridObsWrapper",
    "Obs",
    "StepResult",
    "VectorEnvBatch",
    "check_spaces",
    "make_env",
    "make_env_batch",
    "make_vector_env",
    "probe_spaces",
    "unbatch_info",
    "wrap_atari",
]
