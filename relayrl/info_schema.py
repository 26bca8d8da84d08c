"""The training-info dict: its key names and the one place it is composed.

Both sides import this module: the trainer's publisher (``trainer/info_publisher.py``) builds the
*trainer part* with ``trainer_part``: the run's keys and the ``policies`` table (every policy's own
progress); each worker's delivery (``worker/info_delivery.py``) completes it with the live step count
(``complete``) and gives each env the keys of the policy that controls it (``for_policy``), right
before handing it over. The keys are documented for users in docs/training-info.md.
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

POLICY_ENV_STEPS = "env_steps"
"""In an entry of POLICIES (and AGENTS): agent steps that policy took, continuing across a resume.
Replaced by the worker at delivery time with the live per-policy counters, so it is as fresh as
APPROX_TOTAL_TRAINING_STEPS."""
POLICIES = "policies"
"""``{policy id: {"policy_version", "env_steps", "stats", "reward_shaping", "env_params"}}``: every
trained policy's own progress (one entry with a single policy). ``reward_shaping`` and ``env_params``
are present only when set."""
CONTROLLED_KEYS = (POLICY_VERSION, STATS, REWARD_SHAPING, ENV_PARAMS)
"""The keys of a policy's entry that an env it controls also finds at the top level (``for_policy``)."""
SNAPSHOT_SLOT = "snapshot_slot"
"""In an agent's entry of ``AGENTS``: the self-play pool slot whose snapshot plays that agent."""
SNAPSHOT_VERSION = "snapshot_version"
"""In an agent's entry of ``AGENTS``: the policy version of that snapshot."""
EVALUATION = "evaluation"
"""``True`` in the dict an evaluation env receives (evaluation during training, ``relayrl enjoy``):
the env plays a held-out setting and should not move a curriculum (``evaluation_info``). Absent in
training envs."""
AGENTS = "agents"
"""Multi-agent envs: ``{agent id: {"policy_id", ...that policy's entry of POLICIES}}`` for the current
episode (added by the worker, which decides the mapping; see worker/agent_info.py)."""

TASK_DISTRIBUTION = "task_distribution"
"""Task curricula (``--task-curriculum``): ``{"kind": "plr" | "learning_progress", "probs": [p_0 ..
p_{n-1}], "version": int, "changed_at": float}``: the probability of each task of the env's task space
being played next, published by the trainer's level table; ``changed_at`` is the wall-clock time
(``time.time()``) of the rollout report whose episodes last changed it. Present only with
``--task-curriculum``."""
TASK = "task"
"""The task (a level seed or a settings dict) of the episode about to start, for an env that reads
training info instead of having a ``set_task`` method (``relayrl.curriculum.TaskCurriculum``)."""
TASK_INFO = "relayrl_task"
"""env -> trainer: the key a task curriculum puts in the last step's ``info`` of an episode:
``{"index", "num_tasks", "delays"}`` (the task's index in the task space, its size, and the seconds
from a distribution change to its arrival at the env, for each change since the last episode end)."""

LEAGUE = "league"
"""The league's ratings, ``{"ratings": {player id: {"mu", "sigma"}}, ...}`` (players: the learners
``policy_<k>``, snapshots, scripted opponents ``bot:<spec>``; relayrl/league/), republished about once a
second. Self-play (``--self-play``, with openskill installed) adds ``"snapshots": {k: [player ids of
learner k's snapshots in the pool, oldest first]}``, read by ``SnapshotAgeCurriculum(gate="rating")``;
``--rate-opponent-levels`` adds ``"levels": {n: player id of scripted opponent level n}`` (the levels
rated so far), read by ``OpponentCurriculum(gate="rating")``."""

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
        EVALUATION,
        TASK_DISTRIBUTION,
        TASK,
        LEAGUE,
    }
)
"""Keys the framework writes; a ``--training-info-fn`` may not return them."""


def trainer_part(
    train_seconds: float,
    policies: Mapping[int, Mapping[str, Any]],
    user_keys: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything but the live step count and the env's own policy keys, as the trainer publishes it
    (deep copies: the envs may keep what they get). ``user_keys`` must not contain reserved keys
    (checked by the publisher)."""
    info: dict[str, Any] = {
        TRAIN_SECONDS: train_seconds,
        POLICIES: copy.deepcopy({int(k): dict(v) for k, v in policies.items()}),
    }
    if user_keys:
        info.update(user_keys)
    return info


def policy_entry(info: Mapping[str, Any], policy_id: int) -> dict[str, Any]:
    """Policy ``policy_id``'s entry of the ``policies`` table with its id (``{}`` before it is published)."""
    own = (info.get(POLICIES) or {}).get(policy_id)
    return {} if own is None else {POLICY_ID: policy_id, **own}


def for_policy(info: Mapping[str, Any], policy_id: int) -> dict[str, Any]:
    """``info`` as an env controlled by policy ``policy_id`` receives it: that policy's ``policy_id``,
    ``policy_version``, ``stats``, ``reward_shaping`` and ``env_params`` at the top level (a new dict)."""
    out = dict(info)
    entry = policy_entry(info, policy_id)
    if entry:
        out[POLICY_ID] = policy_id
        out.update({key: entry[key] for key in CONTROLLED_KEYS if key in entry})
    return out


def snapshot_entry(slot: int, version: int | None) -> dict[str, Any]:
    """An AGENTS entry for an agent played by self-play snapshot ``slot`` (of policy version ``version``)."""
    return {POLICY_ID: None, SNAPSHOT_SLOT: slot, SNAPSHOT_VERSION: version}


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


def evaluation_info(approx_total_training_steps: int, policy_id: int, policy_version: int) -> dict[str, Any]:
    """The dict an evaluation env receives (evaluation during training and ``relayrl enjoy``): the
    env steps and the policy version of the evaluated weights, the policy id, and ``evaluation: True``."""
    return {
        APPROX_TOTAL_TRAINING_STEPS: int(approx_total_training_steps),
        POLICY_ID: int(policy_id),
        POLICY_VERSION: int(policy_version),
        EVALUATION: True,
    }
