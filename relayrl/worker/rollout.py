"""RolloutWorker: steps a batch of envs with a CPU copy of the policy and fills trajectory slots.

The same object runs inside a worker process (worker/process.py) and, with ``--backend serial``, inside the
trainer's process. It never talks to queues itself: ``collect(slot)`` fills one slot and returns a
small ``RolloutReport`` that the caller forwards.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from relayrl.curriculum.state import WorkerCurricula
from relayrl.envs import StepResult, make_env_batch
from relayrl.envs.episode_stats import EXTRA_STATS_KEY, flatten_extra_stats
from relayrl.multiagent.agent_info import AgentInfo, PoolTable
from relayrl.multiagent.mapping import AgentMapping
from relayrl.multiagent.snapshot_curriculum import find_opponent_level
from relayrl.utils.obs_tree import map_obs, zip_obs
from relayrl.worker.context import WorkerContext
from relayrl.worker.info_delivery import TrainingInfoDelivery
from relayrl.worker.policies import WorkerPolicies
from relayrl.worker.report import EpisodeRecord, RolloutReport

log = logging.getLogger("relayrl.worker")


def _stack_single(obs_list: list[Any]) -> Any:
    """Stack single (unbatched) observations into a batch tensor (or dict of them)."""
    return zip_obs(lambda *xs: torch.as_tensor(np.stack(xs)), *obs_list)


class RolloutWorker:
    """Owns ``num_envs_per_worker`` envs, their episode counters and a CPU policy copy."""

    def __init__(self, ctx: WorkerContext) -> None:
        """Builds the worker's envs and policy copy; restores the saved curriculum states of its envs
        (``ctx.curriculum_states``) before their first reset."""
        cfg, worker_index, seed = ctx.cfg, ctx.worker_index, ctx.seed
        self.cfg = cfg
        self.worker_index = worker_index
        self.buffers = ctx.buffers
        self.gamma = cfg.algorithm.gamma
        n = cfg.sampling.num_envs_per_worker
        self.num_envs = n
        torch.manual_seed(seed + 7919 * (worker_index + 1))
        self.env_batch = make_env_batch(cfg, n, seed, worker_index)
        rows = self.env_batch.num_envs  # n, or n * agents for multi-agent envs (one row per agent)
        self.num_rows = rows
        obs_space = self.env_batch.single_observation_space
        action_space = self.env_batch.single_action_space
        self.policies = WorkerPolicies(cfg, obs_space, action_space, ctx.weights, ctx.snapshot_weights)
        self.model = self.policies.model
        """Policy 0's copy (the only one with a single policy)."""
        self.pool = PoolTable(ctx.pool_table)
        agents = getattr(self.env_batch, "agents", None)
        self.mapping = AgentMapping(
            cfg,
            agents or [0],
            n,
            worker_index * n,
            seed + 7907 * (worker_index + 1),
            self.pool.weights,
            self.pool.versions,
            lambda e: find_opponent_level(self.env_batch.envs()[e]),
        )
        self.controller: np.ndarray | None = None if self.mapping.trivial else self.mapping.controller
        self.acting: np.ndarray | None = None
        self.acting_serial = -1
        self.acting_groups: list[tuple[int, torch.Tensor | None]] | None = None
        self.acting_ids = torch.zeros(0, dtype=torch.int16)
        self.acting_counts = np.zeros(cfg.multi_agent.num_policies, dtype=np.int64)
        self.action_low: np.ndarray | None = None
        self.action_high: np.ndarray | None = None
        if isinstance(action_space, gym.spaces.Box):
            self.action_low, self.action_high = action_space.low, action_space.high
        h = self.policies.rnn_state_size
        self.rnn_state: torch.Tensor | None = torch.zeros((rows, h)) if h > 0 else None
        self.counters = ctx.counters
        agent_info = AgentInfo(self.mapping, agents, self.pool)
        self.delivery = TrainingInfoDelivery(cfg, self.env_batch, ctx.counters, ctx.info_blob, agent_info)
        if self.delivery.enabled:
            self.env_batch.training_info_round = self.delivery.round
        self.env_batch.before_reset = self._before_reset
        self.checker = self.env_batch.checker
        self.env_errors = 0
        # row (in the current slot) where each env's current episode began: an env that raises and
        # is restarted has its partial episode masked out from there on
        self.episode_start = np.zeros(rows, dtype=np.int64)
        self.warned_keys: set[str] = set()
        self.curricula = WorkerCurricula(self.env_batch, worker_index * n)
        restored = self.curricula.restore(ctx.curriculum_states)
        if restored:
            log.info("worker %d: restored the curriculum state of %d env(s)", worker_index, restored)
        self.curricula.wrap_restarts()
        self.obs = self.env_batch.reset()
        self.mapping.raise_failure()
        self.active: np.ndarray | None = getattr(self.env_batch, "active", None)
        self.active = None if self.active is None else self.active.copy()
        self.starts = torch.ones(rows, dtype=torch.bool)
        self.episode_return = np.zeros(rows, dtype=np.float64)
        self.episode_length = np.zeros(rows, dtype=np.int64)
        # next-step-autoreset batches: env index -> row whose reward still needs gamma * V(final obs)
        self.pending_bootstrap: dict[int, int] = {}

    # ----- one rollout -----

    def collect(self, slot: int) -> RolloutReport:
        """Fill trajectory slot ``slot`` with ``rollout_length`` steps of every env."""
        versions = self.policies.load()
        b = self.buffers
        b.policy_version[slot] = versions[0]
        b.policy_versions[slot] = torch.as_tensor(versions)
        policy_steps = np.zeros(self.policies.num_policies, dtype=np.int64)  # agent steps per policy
        # Rows masked out in an earlier rollout into this slot (an env that raised) are valid again.
        b.valid[slot].fill_(True)
        if self.rnn_state is not None:
            b.rnn_state[slot].copy_(self.rnn_state)
        episodes: list[EpisodeRecord] = []
        self.episode_start[:] = 0
        errors_before = self.env_errors
        t_env = t_inf = 0.0
        t_start = time.perf_counter()
        obs_rows = map_obs(b.obs, lambda x: x[slot])
        rewards_rows = b.rewards[slot]
        with torch.inference_mode():
            for t in range(self.cfg.sampling.rollout_length):
                t0 = time.perf_counter()
                obs_t = zip_obs(lambda dst, src, t=t: dst[t].copy_(torch.as_tensor(src)), obs_rows, self.obs)
                acting = self._acting()  # the controllers of this step (a reset in the step remaps)
                res = self.policies.act(obs_t, self.rnn_state, self.starts, acting, self.acting_groups)
                if acting is not None:
                    b.policy_ids[slot, t] = self.acting_ids
                if self.active is not None:
                    b.valid[slot, t] = torch.from_numpy(self.active)
                if acting is None:  # one policy: every active row is its
                    policy_steps[0] += self.num_rows if self.active is None else int(self.active.sum())
                elif self.active is None or self.active.all():
                    policy_steps += self.acting_counts
                else:
                    live = acting[self.active]
                    policy_steps += np.bincount(live[live < len(policy_steps)], minlength=len(policy_steps))
                self._resolve_pending_bootstrap(rewards_rows, res.values)
                b.actions[slot, t] = res.actions
                b.log_probs[slot, t] = res.log_probs
                b.values[slot, t] = res.values
                b.starts[slot, t] = self.starts
                actions = res.actions.numpy()
                if self.action_low is not None:
                    actions = np.clip(actions, self.action_low, self.action_high)
                t1 = time.perf_counter()
                step = self.env_batch.step(actions)
                t2 = time.perf_counter()
                self.mapping.raise_failure()
                self.counters.add(self.worker_index, self.num_envs)
                if self.checker is not None:
                    self.checker.check_finite(step.obs, step.rewards)
                self.rnn_state = res.rnn_state
                rewards = self._bootstrap_truncations(step, t, res.rnn_state, acting)
                dones = step.terminated | step.truncated
                rewards_rows[t] = torch.from_numpy(rewards)
                b.dones[slot, t] = torch.from_numpy(dones)
                if step.valid is not None:
                    b.valid[slot, t] = torch.from_numpy(step.valid)
                    self.starts = torch.from_numpy(~step.valid)
                elif step.active is not None and self.active is not None:
                    self.starts = torch.from_numpy(dones | (step.active & ~self.active))  # joined agents start
                else:
                    self.starts = torch.from_numpy(dones)
                if step.errors:
                    dones = self._drop_failed_episodes(step, slot, t, dones)
                self._count_episodes(step, dones, episodes, acting)
                if step.active is not None:
                    self.active = step.active.copy()
                self.episode_start[dones] = t + 1
                self.obs = step.obs
                t_env += t2 - t1
                t_inf += t1 - t0
            t0 = time.perf_counter()
            obs_last = zip_obs(lambda dst, src: dst[-1].copy_(torch.as_tensor(src)), obs_rows, self.obs)
            bootstrap = self.policies.get_value(obs_last, self.rnn_state, self.starts, self.controller)
            b.bootstrap_value[slot] = bootstrap
            self._resolve_pending_bootstrap(rewards_rows, bootstrap)
            t_inf += time.perf_counter() - t0
        total = time.perf_counter() - t_start
        timing = {"env_step": t_env, "inference": t_inf, "other": max(0.0, total - t_env - t_inf)}
        steps = self.num_envs * self.cfg.sampling.rollout_length  # env steps (a multi-agent env step counts once)
        stale_steps, stale_seconds = self.delivery.drain_staleness()
        return RolloutReport(
            worker=self.worker_index,
            slot=slot,
            policy_versions=tuple(versions),
            env_steps=steps,
            episodes=episodes,
            timing=timing,
            staleness_steps=stale_steps,
            staleness_seconds=stale_seconds,
            env_errors=self.env_errors - errors_before,
            curriculum_states=self.curricula.maybe_collect(),
            policy_steps={k: int(v) for k, v in enumerate(policy_steps)},
        )

    def _acting(self) -> np.ndarray | None:
        """A copy of the row controllers, with what depends on them (inference groups, the ids for the
        slot, rows per policy), recomputed only after the mapping changed."""
        if self.controller is None:
            return None
        if self.acting_serial != self.mapping.serial or self.acting is None:
            self.acting_serial = self.mapping.serial
            self.acting = self.controller.copy()
            self.acting_groups = self.policies.groups(self.acting)
            self.acting_ids = torch.from_numpy(self.acting.astype(np.int16))
            num_policies = self.policies.num_policies
            trained = self.acting[self.acting < num_policies]
            self.acting_counts = np.bincount(trained, minlength=num_policies)
        return self.acting

    def _before_reset(self, env_index: int) -> None:
        """Right before env ``env_index`` resets: map its agents for the new episode, then deliver."""
        self.mapping.new_episode(env_index)
        if self.delivery.enabled:
            # a new mapping is delivered before the episode's first step, whatever the delivery mode
            self.delivery.before_reset(env_index, force=not self.mapping.trivial)

    # ----- helpers -----

    def _bootstrap_truncations(
        self, step: StepResult, t: int, rnn_state: torch.Tensor | None, acting: np.ndarray | None
    ) -> np.ndarray:
        """Rewards of this step, with ``gamma * V(final obs)`` added where an episode was truncated.

        Same-step batches hand over the final observation now; next-step batches return it as the
        next observation, so its value arrives with the next ``act`` (see ``_resolve_pending_bootstrap``).
        """
        rewards = step.rewards.astype(np.float32, copy=True)
        cut = np.flatnonzero(step.truncated & ~step.terminated)
        if len(cut) == 0:
            return rewards
        if step.valid is not None:
            for i in cut:
                self.pending_bootstrap[int(i)] = t
            return rewards
        final = _stack_single([step.final_obs[int(i)] for i in cut])
        index = torch.as_tensor(cut)
        state = rnn_state.index_select(0, index) if rnn_state is not None else None
        controller = None if acting is None else acting[cut]
        values = self.policies.get_value(final, state, torch.zeros(len(cut), dtype=torch.bool), controller)
        rewards[cut] += self.gamma * values.numpy()
        return rewards

    def _resolve_pending_bootstrap(self, rewards_rows: torch.Tensor, values: torch.Tensor) -> None:
        for i, row in self.pending_bootstrap.items():
            rewards_rows[row, i] += self.gamma * float(values[i])
        self.pending_bootstrap.clear()

    def _drop_failed_episodes(self, step: StepResult, slot: int, t: int, dones: np.ndarray) -> np.ndarray:
        """Envs restarted after an error: mask their partial episode (rows in this slot) out of the
        training data, end it at row t, and forget its return; returns the updated dones."""
        b = self.buffers
        dones = dones.copy()
        for i in step.errors:
            b.valid[slot, self.episode_start[i] : t + 1, i] = False
            dones[i] = True
            self.pending_bootstrap.pop(i, None)
        b.dones[slot, t] = torch.from_numpy(dones)
        self.env_errors += len(step.errors)
        self.starts = torch.from_numpy(dones) if step.valid is None else self.starts | torch.from_numpy(dones)
        return dones

    def _count_episodes(
        self, step: StepResult, dones: np.ndarray, episodes: list[EpisodeRecord], acting: np.ndarray | None
    ) -> None:
        valid = step.valid if step.valid is not None else self.active
        if valid is None:
            self.episode_return += step.rewards
            self.episode_length += 1
        else:
            self.episode_return += np.where(valid, step.rewards, 0.0)
            self.episode_length += valid
        for i in np.flatnonzero(dones):
            if step.errors and int(i) in step.errors:  # dropped, not a finished episode
                self.episode_return[i] = 0.0
                self.episode_length[i] = 0
                continue
            episode = EpisodeRecord(float(self.episode_return[i]), int(self.episode_length[i]))
            if acting is not None:
                episode.policy_id = int(acting[i])
                episode.opponent = self.mapping.opponent_of(int(i), acting)
            info = step.episode_infos.get(int(i))
            if info and EXTRA_STATS_KEY in info:
                skip = functools.partial(self._skip, env_index=int(i))
                episode.extra = flatten_extra_stats(info[EXTRA_STATS_KEY], skip)
            episodes.append(episode)
            self.episode_return[i] = 0.0
            self.episode_length[i] = 0

    def _skip(self, key: str, value: Any, env_index: int) -> None:
        """One warning per key for a non-numeric episode_extra_stats value."""
        if key in self.warned_keys:
            return
        self.warned_keys.add(key)
        log.warning(
            "env %d of worker %d (%s): %s[%r] is %s, not a number (bool, int, float or 0-d array); this key is skipped",
            env_index,
            self.worker_index,
            self.cfg.env,
            EXTRA_STATS_KEY,
            key,
            type(value).__name__,
        )

    def close(self) -> None:
        self.env_batch.close()
