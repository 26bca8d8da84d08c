"""RolloutWorker: steps a batch of envs with CPU copies of the policies and fills trajectory slots.

The same object runs inside a worker process (worker/process.py), in a Ray actor (worker/ray_actor.py)
and, with ``--backend serial``, inside the trainer's process. It never talks to queues itself: ``collect(slot)``
fills one slot and returns a small ``RolloutReport`` that the caller forwards. Its parts, one job each:
``WorkerPolicies`` (the models, batched inference), ``Controllers`` (who acts on each row),
``LiveRows`` (which rows are training data, which begin an episode), ``TruncationBootstrap``,
``EpisodeAccumulator`` and ``TrainingInfoDelivery``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from relayrl.curriculum.snapshots import find_opponent_level
from relayrl.curriculum.state import WorkerCurricula
from relayrl.envs import StepResult, make_env_batch
from relayrl.utils.obs_tree import map_obs, zip_obs
from relayrl.worker.acting import Controllers
from relayrl.worker.agent_info import AgentInfo, PoolTable
from relayrl.worker.bootstrap import TruncationBootstrap
from relayrl.worker.context import WorkerContext
from relayrl.worker.episodes import EpisodeAccumulator
from relayrl.worker.info_delivery import TrainingInfoDelivery
from relayrl.worker.level_scores import LevelScores
from relayrl.worker.mapping import AgentMapping
from relayrl.worker.policies import WorkerPolicies
from relayrl.worker.report import EpisodeRecord, RolloutReport
from relayrl.worker.rows import LiveRows

log = logging.getLogger("relayrl.worker")


@dataclasses.dataclass
class _Tally:
    """What one rollout adds up for its report."""

    episodes: list[EpisodeRecord]
    policy_steps: np.ndarray | None
    env_errors: int = 0
    env_seconds: float = 0.0
    inference_seconds: float = 0.0


class RolloutWorker:
    """Owns ``num_envs_per_worker`` envs, their episodes and CPU copies of the policies."""

    def __init__(self, ctx: WorkerContext) -> None:
        """Builds the worker's envs and policy copies; restores the saved curriculum states of its envs
        (``ctx.curriculum_states``) before their first reset."""
        cfg, w, seed = ctx.cfg, ctx.worker_index, ctx.seed
        self.cfg, self.worker_index, self.buffers, self.counters = cfg, w, ctx.buffers, ctx.counters
        n = self.num_envs = cfg.sampling.num_envs_per_worker
        torch.manual_seed(seed + 7919 * (w + 1))
        self.env_batch = make_env_batch(cfg, n, seed, w)
        rows = self.env_batch.num_envs  # n, or n * agents for multi-agent envs (one row per agent)
        action_space = self.env_batch.single_action_space
        self.policies = WorkerPolicies(
            cfg, self.env_batch.single_observation_space, action_space, ctx.weights, ctx.snapshot_weights
        )
        pool = PoolTable(ctx.pool_table)
        agents = getattr(self.env_batch, "agents", None)
        self.mapping = AgentMapping(
            cfg,
            agents or [0],
            n,
            w * n,
            seed + 7907 * (w + 1),
            pool.weights,
            pool.versions,
            lambda e: find_opponent_level(self.env_batch.envs()[e]),
        )
        self.controllers = Controllers(self.mapping, self.policies, rows, multi_agent=agents is not None)
        self.bounds = (action_space.low, action_space.high) if isinstance(action_space, gym.spaces.Box) else None
        h = self.policies.rnn_state_size
        self.rnn_state: torch.Tensor | None = torch.zeros((rows, h)) if h > 0 else None
        agent_info = AgentInfo(self.mapping, agents, pool)  # every env gets its own policy's view
        self.delivery = TrainingInfoDelivery(cfg, self.env_batch, ctx.counters, ctx.info_blob, agent_info)
        if self.delivery.enabled:
            self.env_batch.training_info_round = self.delivery.round
        self.env_batch.before_reset = self._before_reset
        self.episodes = EpisodeAccumulator(rows, w, cfg.env)
        self.bootstrap = TruncationBootstrap(self.policies, cfg.algorithm.gamma)
        tc = cfg.task_curriculum
        self.level_scores = (
            LevelScores(rows, cfg.algorithm.gamma, cfg.algorithm.gae_lambda, tc.plr_score) if tc.kind == "plr" else None
        )
        self.curricula = WorkerCurricula(self.env_batch, w * n)
        restored = self.curricula.restore(ctx.curriculum_states)
        if restored:
            log.info("worker %d: restored the curriculum state of %d env(s)", w, restored)
        self.curricula.wrap_restarts()
        self.obs = self.env_batch.reset()
        self.mapping.raise_failure()
        self.rows = LiveRows(self.env_batch)

    # ----- one rollout -----

    def collect(self, slot: int) -> RolloutReport:
        """Fill trajectory slot ``slot`` with ``rollout_length`` steps of every env."""
        versions = self.policies.load()
        b = self.buffers
        b.policy_versions[slot] = torch.as_tensor(versions)
        b.valid[slot].fill_(True)  # rows masked out by an earlier rollout into this slot (an env that raised)
        if self.rnn_state is not None:
            b.rnn_state[slot].copy_(self.rnn_state)
        self.episodes.begin_rollout()
        counted = self.controllers.counted
        tally = _Tally([], np.zeros(self.policies.num_policies, dtype=np.int64) if counted else None)
        t_start = time.perf_counter()
        with torch.inference_mode():
            for t in range(self.cfg.sampling.rollout_length):
                self._step(slot, t, tally)
            t0 = time.perf_counter()
            obs_last = zip_obs(lambda dst, src: dst[-1].copy_(torch.as_tensor(src)), self._obs_rows(slot), self.obs)
            values = self.policies.get_value(obs_last, self.rnn_state, self.rows.starts, self.controllers.current())
            b.bootstrap_value[slot] = values
            self.bootstrap.resolve(b.rewards[slot], values)
            tally.inference_seconds += time.perf_counter() - t0
        if self.level_scores is not None:
            s = slot
            self.level_scores.score_rollout(
                b.rewards[s], b.values[s], b.bootstrap_value[s], b.dones[s], b.valid[s], self.episodes.ended
            )
        total = time.perf_counter() - t_start
        other = max(0.0, total - tally.env_seconds - tally.inference_seconds)
        stale_steps, stale_seconds = self.delivery.drain_staleness()
        env_steps = self.num_envs * self.cfg.sampling.rollout_length  # a multi-agent env step counts once
        # not counted: one policy controls the one agent of every env, so its agent steps are the env steps
        policy_steps = {0: env_steps} if tally.policy_steps is None else dict(enumerate(tally.policy_steps.tolist()))
        return RolloutReport(
            worker=self.worker_index,
            slot=slot,
            policy_versions=tuple(versions),
            env_steps=env_steps,
            episodes=tally.episodes,
            timing={"env_step": tally.env_seconds, "inference": tally.inference_seconds, "other": other},
            staleness_steps=stale_steps,
            staleness_seconds=stale_seconds,
            env_errors=tally.env_errors,
            curriculum_states=self.curricula.maybe_collect(),
            policy_steps=policy_steps,
        )

    def _step(self, slot: int, t: int, tally: _Tally) -> None:
        """Act on the current observations, step the envs once, and write slot row ``t``."""
        b = self.buffers
        t0 = time.perf_counter()
        obs_t = zip_obs(lambda dst, src: dst[t].copy_(torch.as_tensor(src)), self._obs_rows(slot), self.obs)
        acting = self.controllers.current()  # the controllers of this step (a reset in the step remaps)
        res = self.policies.act(obs_t, self.rnn_state, self.rows.starts, acting, self.controllers.groups)
        policy_steps = self.controllers.policy_steps(acting, self.rows.present)
        if acting is not None:
            b.policy_ids[slot, t] = self.controllers.ids
        self.bootstrap.resolve(b.rewards[slot], res.values)
        b.actions[slot, t], b.log_probs[slot, t], b.values[slot, t] = res.actions, res.log_probs, res.values
        b.starts[slot, t] = self.rows.starts
        actions = res.actions.numpy() if self.bounds is None else np.clip(res.actions.numpy(), *self.bounds)
        t1 = time.perf_counter()
        step = self.env_batch.step(actions)
        t2 = time.perf_counter()
        self.mapping.raise_failure()
        self.counters.add(self.worker_index, self.num_envs, policy_steps)
        if tally.policy_steps is not None:
            tally.policy_steps += policy_steps
        if self.env_batch.checker is not None:
            self.env_batch.checker.check_finite(step.obs, step.rewards)
        self.rnn_state = res.rnn_state
        dones = step.terminated | step.truncated
        b.rewards[slot, t] = torch.from_numpy(self.bootstrap.rewards(step, t, res.rnn_state, acting))
        b.dones[slot, t] = torch.from_numpy(dones)
        live = self.rows.live(step)
        if live is not None:
            b.valid[slot, t] = torch.from_numpy(live)
        self.rows.advance(step, dones)
        if step.errors:
            dones = self._drop_failed_episodes(step, slot, t, dones)
            tally.env_errors += len(step.errors)
        tally.episodes += self.episodes.step(step, live, dones, t, acting, self.mapping.opponent_of)
        self.obs = step.obs
        tally.env_seconds += t2 - t1
        tally.inference_seconds += t1 - t0

    def _obs_rows(self, slot: int) -> Any:
        return map_obs(self.buffers.obs, lambda x: x[slot])

    def _drop_failed_episodes(self, step: StepResult, slot: int, t: int, dones: np.ndarray) -> np.ndarray:
        """Envs restarted after an error: mask their partial episode (rows in this slot) out of the
        training data and end it at row t; returns the updated dones."""
        b = self.buffers
        dones = dones.copy()
        for i in step.errors:
            b.valid[slot, self.episodes.first_row(i) : t + 1, i] = False
            dones[i] = True
            self.bootstrap.forget(i)
            if self.level_scores is not None:
                self.level_scores.forget(i)
        b.dones[slot, t] = torch.from_numpy(dones)
        self.rows.restart(dones)
        return dones

    def _before_reset(self, env_index: int) -> None:
        """Right before env ``env_index`` resets: map its agents for the new episode, then deliver."""
        self.mapping.new_episode(env_index)
        if self.delivery.enabled:
            # a new mapping is delivered before the episode's first step, whatever the delivery mode
            self.delivery.before_reset(env_index, force=not self.mapping.trivial)

    def close(self) -> None:
        """Close the envs."""
        self.env_batch.close()
