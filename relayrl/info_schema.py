"""The training-info dict: its key names and the one place it is composed.

Both sides import this module: the trainer's publisher (``trainer/info_publisher.py``) builds the
*trainer part* with ``trainer_part``; each worker's delivery (``worker/info_delivery.py``) completes it
with the live step count through ``complete``, right before handing it to an env. The keys are
documented for users in docs/training-info.md.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

APPROX_TOTAL_TRAINING_STEPS = "approx_total_training_steps"
"""Env steps collected across all workers (live counters, continuing across a resume). Added by the
worker at delivery time, so it is fresh whatever the trainer is doing."""
POLICY_ID = "policy_id"
"""The policy that controls the env (0 with a single policy)."""
POLICY_VERSION = "policy_version"
"""Learner updates of that policy so far."""
TRAIN_SECONDS = "train_seconds"
"""Training time of the run, resumes included (start-up excluded)."""
STATS = "stats"
"""Aggregated episode statistics: ``{"episodes", "reward", "length", "episode_extra_stats"}``."""
REWARD_SHAPING = "reward_shaping"
"""The policy's reward-shaping dict (present only when one was set)."""
ENV_PARAMS = "env_params"
"""Population-based training's declared env parameters of the policy (``{name: value}``; present only
with ``--pbt-env-params``)."""

POLICIES = "policies"
"""Several policies, self-play or a multi-agent env: ``{policy id: {"policy_version", "env_steps",
"stats", "reward_shaping", "env_params"}}``, every trained policy's own progress (``env_steps``: agent steps it took)."""
AGENTS = "agents"
"""Multi-agent envs: ``{agent id: {"policy_id", ...that policy's entry of POLICIES}}`` for the current
episode (added by the worker, which decides the mapping; see multiagent/agent_info.py)."""

RESERVED_KEYS = frozenset(
    {
        APPROX_TOTAL_TRAINING_STEPS,
        POLICY_ID,
        POLICY_VERSION,
        TRAIN_SECONDS,
        STATS,
        REWARD_SHAPING,
        ENV_PARAMS,
        POLICIES,
        AGENTS,
    }
)
"""Keys the framework writes; a ``--training-info-fn`` may not return them."""


def trainer_part(
    policy_id: int,
    policy_version: int,
    train_seconds: float,
    stats: Mapping[str, Any],
    reward_shaping: Mapping[str, Any] | None,
    user_keys: Mapping[str, Any] | None = None,
    policies: Mapping[int, Mapping[str, Any]] | None = None,
    env_params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything but the live step count, as the trainer publishes it (deep copies: the envs may
    keep what they get). ``user_keys`` must not contain reserved keys (checked by the publisher)."""
    info: dict[str, Any] = {
        POLICY_ID: policy_id,
        POLICY_VERSION: policy_version,
        TRAIN_SECONDS: train_seconds,
        STATS: copy.deepcopy(dict(stats)),
    }
    if reward_shaping is not None:
        info[REWARD_SHAPING] = copy.deepcopy(dict(reward_shaping))
    if env_params is not None:
        info[ENV_PARAMS] = dict(env_params)
    if policies is not None:
        info[POLICIES] = copy.deepcopy({int(k): dict(v) for k, v in policies.items()})
    if user_keys:
        info.update(user_keys)
    return info


def complete(part: Mapping[str, Any], approx_total_training_steps: int) -> dict[str, Any]:
    """The dict an env receives: the published trainer part plus the live step count (a new dict
    per delivery, so one env changing its copy never affects another)."""
    info = dict(part)
    info[APPROX_TOTAL_TRAINING_STEPS] = int(approx_total_training_steps)
    return info
