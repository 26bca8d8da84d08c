"""The PPO learner: owns the model being trained, the optimizer and the policy version."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gymnasium as gym
import torch

from relayrl.algo import PPOLossTerms, explained_variance, gae, normalize_advantages, ppo_loss, vtrace
from relayrl.config import Config
from relayrl.learning.adam import FusedAdam, build_adam
from relayrl.learning.closed_form import ClosedFormPPO, clip_flat_grad_
from relayrl.models import build_actor_critic
from relayrl.models.normalization import RunningMeanStd
from relayrl.shared.trajectories import Batch
from relayrl.utils.obs_tree import map_obs


def _flat(x: torch.Tensor) -> torch.Tensor:
    """[T, B, ...] -> [T * B, ...]"""
    return x.reshape(-1, *x.shape[2:])


def own_minibatches(own_steps: int, batch_steps: int, num_minibatches: int) -> int:
    """Minibatches for a policy's ``own_steps`` of a ``batch_steps`` batch, at the minibatch size of the
    whole batch (``batch_steps / num_minibatches``): at least 1, at most ``num_minibatches``."""
    size = batch_steps / num_minibatches
    return int(min(num_minibatches, max(1, round(own_steps / size))))


class _Minibatches:
    """An update's training data laid out for cheap minibatch picks: the per-step scalars (old
    log-probs, advantages, value targets, old values and, when some steps are not training data,
    the mask) packed side by side, so that a minibatch takes one gather for all of them."""

    def __init__(self, by_columns: bool, obs: Any, actions: torch.Tensor, scalars: torch.Tensor, batch: Batch) -> None:
        self.by_columns = by_columns
        self.obs, self.actions, self.scalars, self.batch = obs, actions, scalars, batch
        self.features = torch.empty(0)
        """Flat steps, closed-form gradients: the preprocessed observations ``[T * B, D]``."""

    @staticmethod
    def _scalars(batch: Batch, dim: int, *xs: torch.Tensor, all_valid: bool) -> torch.Tensor:
        cols = [batch.log_probs, *xs] + ([] if all_valid else [batch.valid.to(batch.log_probs.dtype)])
        return torch.stack([x.float() for x in cols], dim=dim)

    @classmethod
    def flat(
        cls, batch: Batch, obs_t: Any, adv: torch.Tensor, target: torch.Tensor, old: torch.Tensor, all_valid: bool
    ) -> _Minibatches:
        """Steps drawn one by one: everything flattened to ``[T * B, ...]``."""
        scalars = cls._scalars(batch, 2, adv, target, old, all_valid=all_valid).flatten(0, 1)
        return cls(False, map_obs(obs_t, _flat), _flat(batch.actions), scalars, batch)

    @classmethod
    def columns(
        cls, batch: Batch, obs_t: Any, adv: torch.Tensor, target: torch.Tensor, old: torch.Tensor, all_valid: bool
    ) -> _Minibatches:
        """Whole env columns (recurrent models): ``[T, B, ...]`` kept."""
        return cls(True, obs_t, batch.actions, cls._scalars(batch, 2, adv, target, old, all_valid=all_valid), batch)

    def pick(
        self, idx: torch.Tensor
    ) -> tuple[Any, torch.Tensor, torch.Tensor | None, torch.Tensor | None, list[torch.Tensor]]:
        """``(obs, actions, rnn_state, starts, scalars)`` of the minibatch ``idx``: obs and actions
        ``[T, M, ...]`` (T = 1 for flat steps), the scalars flat ``[T * M]`` each."""
        if self.by_columns:

            def pick(x: torch.Tensor) -> torch.Tensor:
                return x.index_select(1, idx)

            scalars = pick(self.scalars).flatten(0, 1)
            state, starts = self.batch.rnn_state.index_select(0, idx), pick(self.batch.starts)
            return map_obs(self.obs, pick), pick(self.actions), state, starts, list(scalars.unbind(1))

        def pick_flat(x: torch.Tensor) -> torch.Tensor:
            return x.index_select(0, idx).unsqueeze(0)

        scalars = self.scalars.index_select(0, idx)
        return map_obs(self.obs, pick_flat), pick_flat(self.actions), None, None, list(scalars.unbind(1))


class Learner:
    """PPO updates on batches gathered from trajectory slots.

    ``train(batch)`` takes a ``Batch`` gathered from trajectory slots (tensors ``[T, B, ...]``; it is
    not changed), runs ``num_epochs`` passes of ``num_minibatches`` minibatches and increments
    ``policy_version``. All state that a resume needs is in ``state_dict``.
    """

    def __init__(
        self,
        cfg: Config,
        obs_space: gym.Space,
        action_space: gym.Space,
        device: torch.device,
        closed_form: bool = True,
    ) -> None:
        """``closed_form``: compute the gradients of MLP models without autograd
        (``relayrl.learning.closed_form``; the same loss, about 2x the learner's speed on CPU)."""
        self.cfg = cfg
        self.device = device
        self.model = build_actor_critic(obs_space, action_space, cfg.model).to(device)
        large_images = any(leaf.kind == "image" and min(leaf.chw[1:]) >= 36 for leaf in self.model.actor_body.leaves)
        if device.type == "cpu" and large_images:
            # convolution weights and images in channels-last layout: oneDNN's convolutions (forward and
            # backward) run in it without reordering: the Nature CNN's update 1.3x faster, the small CNN's
            # (images below 36 pixels) 0.9x, so only for large images (docs/benchmarks.md, "Learner speed")
            self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
            self.model.obs_preprocessor.images_channels_last = True
        # the list once, not a walk of the module tree at every minibatch
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        supported = closed_form and ClosedFormPPO.supports(self.model)
        self.closed_form = ClosedFormPPO(self.model, self.params) if supported else None
        """The closed-form gradients in use, or None (autograd)."""
        self._optimizer: FusedAdam | torch.optim.Adam | None = None
        self._building: threading.Thread | None = None
        self.policy_version = 0
        normalizer = self.model.return_normalizer
        self.return_stats = normalizer if normalizer is not None else RunningMeanStd(()).to(device)
        """Running statistics of the value targets (returns) of all batches: the scale of the
        advantage std floor (``advantage_std_floor``). The model's return normalizer keeps exactly
        these; the learner has its own only when returns are not normalized."""

    @property
    def optimizer(self) -> FusedAdam | torch.optim.Adam:
        """Created on first use (``relayrl.learning.adam.build_adam``): where it falls back to
        ``torch.optim.Adam``, building it imports ``torch._dynamo`` (about 1 s of CPU), which the
        trainer overlaps with the workers' start-up (``prepare_in_background``)."""
        if self._building is not None:  # started in the background: wait for it, never build twice
            self._building.join()
            self._building = None
        if self._optimizer is None:
            self._build_optimizer()
        assert self._optimizer is not None
        return self._optimizer

    def _build_optimizer(self) -> None:
        self._optimizer = build_adam(self.params, self.cfg.algorithm.lr, self.cfg.algorithm.adam_eps)

    def prepare(self) -> None:
        """Do the one-off set-up work now (the optimizer) rather than in the first update."""
        _ = self.optimizer

    def prepare_in_background(self) -> None:
        """Start building the optimizer on a thread: its imports run while the trainer waits for its
        workers and their first rollouts (mostly blocked on queues, so the GIL is free). The first use
        of ``optimizer`` waits for the thread; if the build failed there, it is tried again (and raises)
        in the caller's thread."""
        if self._optimizer is None and self._building is None:
            self._building = threading.Thread(target=self._build_optimizer, name="relayrl-optimizer", daemon=True)
            self._building.start()

    # ----- per-policy hyperparameters (population-based training) -----

    def hyperparameters(self, names: Sequence[str]) -> dict[str, float]:
        """This learner's current values of the ``AlgorithmConfig`` fields ``names``."""
        return {name: float(getattr(self.cfg.algorithm, name)) for name in names}

    def set_hyperparameters(self, values: Mapping[str, float]) -> None:
        """Use these ``AlgorithmConfig`` values (e.g. ``lr``, ``ent_coef``, ``clip_coef``, ``vf_coef``,
        ``gamma``) from the next update on; only this learner's copy of the config changes."""
        changes: dict[str, Any] = {k: float(v) for k, v in values.items()}
        algorithm = dataclasses.replace(self.cfg.algorithm, **changes)
        self.cfg = dataclasses.replace(self.cfg, algorithm=algorithm)

    # ----- schedule -----

    def lr_at(self, env_steps: int) -> float:
        a = self.cfg.algorithm
        if a.lr_schedule == "linear":
            return a.lr * max(0.0, 1.0 - env_steps / self.cfg.train_for_env_steps)
        return a.lr

    # ----- the update -----

    def _rnn_state0(self, batch: Batch) -> torch.Tensor | None:
        return batch.rnn_state if self.cfg.model.use_rnn else None

    def _advantages(self, batch: Batch, obs_t: Any) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        """Advantages and value targets in return units, [T, B] each."""
        a = self.cfg.algorithm
        args = (batch.rewards, batch.values, batch.bootstrap_value, batch.dones.float())
        lag = self.policy_version - batch.policy_version
        stats = {"policy_lag_mean": float(lag.float().mean()), "policy_lag_max": float(lag.max())}
        if a.off_policy_correction == "vtrace" and bool((lag > 0).any()):
            with torch.no_grad():
                cur = self.model.evaluate(obs_t, batch.actions, self._rnn_state0(batch), batch.starts)
            log_rhos = (cur.log_probs - batch.log_probs) * batch.valid
            adv, ret = vtrace(*args, log_rhos, a.gamma, a.gae_lambda, a.vtrace_rho_bar, a.vtrace_c_bar)
            # mean of min(rho_bar, pi/mu): 1 means no truncation (the plain mean of pi/mu is ~1 always)
            stats["vtrace_truncated_rho_mean"] = float(log_rhos.exp().clamp(max=a.vtrace_rho_bar)[batch.valid].mean())
        else:
            adv, ret = gae(*args, a.gamma, a.gae_lambda)
        return adv, ret, stats

    def train(self, batch: Batch, env_steps: int, after_epoch: Callable[[], None] | None = None) -> dict[str, float]:
        """One PPO update on ``batch``; returns scalar statistics (losses, KL, policy lag ...).

        ``after_epoch``: called after every epoch but the last (e.g. to publish the partly updated
        weights to the workers); ``policy_version`` still names the last complete update then.
        """
        a = self.cfg.algorithm
        T, B = batch.num_steps, batch.num_columns
        obs_t = batch.obs_steps
        mask = batch.valid

        self.model.update_obs_normalizer(map_obs(obs_t, lambda x: _flat(x)[_flat(mask)]))
        advantages, returns, stats = self._advantages(batch, obs_t)
        self.model.update_return_normalizer(returns[mask])
        if self.return_stats is not self.model.return_normalizer:
            self.return_stats.update(returns[mask])
        adv_floor = a.advantage_std_floor * float(self.return_stats.var.sqrt())
        target = self.model.normalize_returns(returns)
        old_values = self.model.normalize_returns(batch.values)

        lr = self.lr_at(env_steps)
        for group in self.optimizer.param_groups:
            group["lr"] = lr

        # Per-minibatch statistics stay on the device and are averaged once at the end: one host
        # read per update instead of one per statistic per minibatch (only --target-kl reads one).
        rows: list[torch.Tensor] = []
        stop_early = False
        # One mask-free path when every step a minibatch draws is training data: every step of the
        # batch (one policy), or only this policy's own steps (flat minibatches when policies share
        # the slots, ``_minibatches``). The masked means and the boolean indexing of the advantages
        # cost a dozen small ops per minibatch for nothing.
        all_valid = bool(mask.all()) or (self.cfg.policies_share_rows and not self.cfg.model.use_rnn)
        if self.cfg.model.use_rnn:
            data = _Minibatches.columns(batch, obs_t, advantages, target, old_values, all_valid)
        else:
            data = _Minibatches.flat(batch, obs_t, advantages, target, old_values, all_valid)
        closed_form = self.closed_form
        step: Callable[[], Any] = self.optimizer.step
        if closed_form is not None:
            with torch.no_grad():  # normalized once per update, not per minibatch (the same statistics)
                data.features = self.model.obs_preprocessor(data.obs)[0]
        for epoch in range(a.num_epochs):
            if epoch > 0 and after_epoch is not None:
                after_epoch()
            for idx in self._minibatches(T, B, mask):
                if closed_form is not None:
                    terms = self._closed_form_step(closed_form, data, idx, adv_floor)
                    grad_norm = clip_flat_grad_(closed_form.grad, a.max_grad_norm)
                else:
                    terms = self._minibatch_loss(data, idx, adv_floor)
                    self.optimizer.zero_grad(set_to_none=True)
                    terms.loss.backward()
                    grad_norm = torch.nn.utils.clip_grad_norm_(self.params, a.max_grad_norm, foreach=True)
                step()
                rows.append(torch.stack([*(v.detach() for v in terms), grad_norm.detach()]))
                if a.target_kl is not None and float(terms.approx_kl) > a.target_kl:
                    stop_early = True
                    break
            if stop_early:
                break
        self.policy_version += 1

        count = len(rows)
        means = torch.stack(rows).mean(0).tolist()
        stats.update(dict(zip([*PPOLossTerms._fields, "grad_norm"], means, strict=True)))
        stats["lr"] = lr
        stats["num_minibatch_steps"] = float(count)
        stats["explained_variance"] = explained_variance(old_values.flatten(), target.flatten(), mask.flatten())
        stats["advantage_mean"] = float(advantages[mask].mean())
        stats["advantage_std"] = float(advantages[mask].std()) if int(mask.sum()) > 1 else 0.0
        stats["advantage_std_floor"] = adv_floor
        stats["value_mean"] = float(batch.values[mask].mean())
        return stats

    def _minibatches(self, T: int, B: int, mask: torch.Tensor) -> list[torch.Tensor]:
        """Index sets: flat step indices, or env columns (whole sequences) with an RNN. When policies
        share the slots (several policies, self-play), only this policy's own steps are drawn, in
        minibatches of the size the whole batch's would have: N policies together take as many
        gradient steps per update as one policy on the same batch (no more learner time per sample)."""
        a = self.cfg.algorithm
        if self.cfg.model.use_rnn:
            perm = torch.randperm(B)
            return list(torch.tensor_split(perm, a.num_minibatches))
        if self.cfg.policies_share_rows:
            own = torch.nonzero(_flat(mask).flatten().cpu()).flatten()
            count = own_minibatches(len(own), T * B, a.num_minibatches)
            perm = own[torch.randperm(len(own))]
            return [idx for idx in torch.tensor_split(perm, count) if len(idx)]
        perm = torch.randperm(T * B)
        # tensor_split splits as np.array_split does (the first parts one longer), without numpy round trips
        return list(torch.tensor_split(perm, a.num_minibatches))

    def _minibatch_loss(self, data: _Minibatches, idx: torch.Tensor, adv_floor: float) -> PPOLossTerms:
        a = self.cfg.algorithm
        obs, actions, rnn_state, starts, cols = data.pick(idx.to(self.device))
        out = self.model.evaluate(obs, actions, rnn_state, starts)
        old_log_probs, adv, target, old_values = cols[:4]
        mask = cols[4] if len(cols) > 4 else None
        if a.normalize_advantages:
            adv = normalize_advantages(adv, mask, min_std=adv_floor)
        return ppo_loss(
            out.log_probs.flatten(),
            old_log_probs,
            adv,
            out.values.flatten(),
            old_values,
            target,
            out.entropy.flatten(),
            clip_coef=a.clip_coef,
            vf_coef=a.vf_coef,
            ent_coef=a.ent_coef,
            clip_value_loss=a.clip_value_loss,
            mask=mask,
        )

    def _closed_form_step(
        self, closed_form: ClosedFormPPO, data: _Minibatches, idx: torch.Tensor, adv_floor: float
    ) -> PPOLossTerms:
        a = self.cfg.algorithm
        idx = idx.to(self.device)
        old_log_probs, adv, target, old_values, *rest = data.scalars.index_select(0, idx).unbind(1)
        mask = rest[0] if rest else None
        if a.normalize_advantages:
            adv = normalize_advantages(adv, mask, min_std=adv_floor)
        return closed_form.step(
            data.features.index_select(0, idx),
            data.actions.index_select(0, idx),
            old_log_probs,
            adv,
            old_values,
            target,
            clip_coef=a.clip_coef,
            vf_coef=a.vf_coef,
            ent_coef=a.ent_coef,
            clip_value_loss=a.clip_value_loss,
            mask=mask,
        )

    # ----- state -----

    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "policy_version": self.policy_version,
            "return_stats": self.return_stats.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.policy_version = int(state["policy_version"])
        if "return_stats" in state:  # absent in checkpoints written before the floor existed
            self.return_stats.load_state_dict(state["return_stats"])
