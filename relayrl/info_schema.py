"""The training-info dict: its key names and the one place it is composed.

Both sides import this module: the trainer's publisher (``trainer/info_publisher.py``) builds the
*trainer part* with ``trainer_part``; each worker's delivery (``worker/info_delivery.py``) completes it
with the live step counts through ``complete``, right before handing it to an env, and with several
policies composes each env's view with ``controlled_by`` / ``policy_entry`` / ``snapshot_entry``
(called from ``multiagent/agent_info.py``, which knows the mapping). The keys are documented for users
in docs/training-info.md.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
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
"stats", "reward_shaping", "env_params"}}``, every trained policy's own progress."""
POLICY_ENV_STEPS = "env_steps"
"""In an entry of POLICIES (and AGENTS): agent steps that policy took, continuing across a resume.
Replaced by the worker at delivery time with the live per-policy counters, so it is as fresh as
APPROX_TOTAL_TRAINING_STEPS."""
AGENTS = "agents"
"""Multi-agent envs: ``{agent id: {"policy_id", ...that policy's entry of POLICIES}}`` for the current
episode (added by the worker, which decides the mapping; see multiagent/agent_info.py)."""
SNAPSHOT_SLOT = "snapshot_slot"
"""In an entry of AGENTS for an agent played by a self-play snapshot (``policy_id`` None): its pool slot."""
SNAPSHOT_VERSION = "snapshot_version"
"""In an entry of AGENTS for an agent played by a self-play snapshot: the snapshot's policy version."""

CONTROLLED_KEYS = (POLICY_VERSION, STATS, REWARD_SHAPING, ENV_PARAMS)
"""Top-level keys that describe the controlling policy: a single-agent env controlled by policy k gets
policy k's values of them (``controlled_by``)."""

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


def complete(
    part: Mapping[str, Any], approx_total_training_steps: int, policy_env_steps: Sequence[int] = ()
) -> dict[str, Any]:
    """The dict an env receives: the published trainer part plus the live step counts (a new dict
    per delivery, so one env changing its copy never affects another). ``policy_env_steps[k]``: policy
    ``k``'s live agent steps, written over ``env_steps`` in its entry of the POLICIES table (new entry
    dicts; the published ones are left as they are)."""
    info = dict(part)
    info[APPROX_TOTAL_TRAINING_STEPS] = int(approx_total_training_steps)
    policies = info.get(POLICIES)
    if policies and policy_env_steps:
        info[POLICIES] = {
            k: {**entry, POLICY_ENV_STEPS: int(policy_env_steps[k])} if k < len(policy_env_steps) else entry
            for k, entry in policies.items()
        }
    return info


def policy_entry(info: Mapping[str, Any], policy_id: int) -> dict[str, Any]:
    """An AGENTS entry for an agent controlled by policy ``policy_id``: ``policy_id`` and that policy's
    entry of the POLICIES table in ``info`` (without one: the top-level policy version and stats)."""
    own = (info.get(POLICIES) or {}).get(policy_id)
    if own is None:
        own = {key: info[key] for key in (POLICY_VERSION, STATS) if key in info}
    return {POLICY_ID: policy_id, **own}


def snapshot_entry(slot: int, version: int | None) -> dict[str, Any]:
    """An AGENTS entry for an agent played by self-play snapshot ``slot`` (of policy version ``version``)."""
    return {POLICY_ID: None, SNAPSHOT_SLOT: slot, SNAPSHOT_VERSION: version}


def controlled_by(info: Mapping[str, Any], policy_id: int) -> dict[str, Any]:
    """The dict a single-agent env controlled by policy ``policy_id`` gets (a new top-level dict): the
    CONTROLLED_KEYS at the top level are that policy's (absent where it has none), ``policy_id`` is
    ``policy_id``; the run-wide keys and the POLICIES table stay. With policy 0: ``info`` as it is."""
    out = dict(info)
    if policy_id == 0:
        return out
    for key in CONTROLLED_KEYS:
        out.pop(key, None)
    entry = policy_entry(info, policy_id)
    out.update((key, entry[key]) for key in (POLICY_ID, *CONTROLLED_KEYS) if key in entry)
    return out
