"""Actor-critic: observation preprocessing, encoder + MLP (+ GRU) bodies, policy and value heads."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import gymnasium as gym
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from relayrl.config import ModelConfig
from relayrl.models.distributions import make_action_head
from relayrl.models.encoders import Leaf, Obs, ObsEncoder, ObsPreprocessor, flatten_obs_space
from relayrl.models.normalization import RunningMeanStd

_ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU, "elu": nn.ELU}
_ACTIVATION_FNS: dict[str, Callable[[Tensor], Tensor]] = {"tanh": torch.tanh, "relu": torch.relu, "elu": F.elu}


class ActResult(NamedTuple):
    actions: Tensor  # [B] int64 | [B, K] int64 | [B, D] float32 (unclipped)
    log_probs: Tensor  # [B]
    values: Tensor  # [B], return units (denormalized)
    rnn_state: Tensor | None  # [B, rnn_state_size]


class Evaluation(NamedTuple):
    """What ``ActorCritic.evaluate`` returns for a learner pass."""

    log_probs: Tensor  # [T, B]
    entropy: Tensor  # [T, B]
    values: Tensor  # [T, B], normalized return units


class Body(nn.Module):
    """Encoder + MLP + optional GRU cell; ``out_dim`` features per sample."""

    def __init__(self, leaves: list[Leaf], cfg: ModelConfig) -> None:
        super().__init__()
        self.leaves = leaves
        self.encoder = ObsEncoder(leaves)
        layers: list[nn.Module] = []
        dim = self.encoder.out_dim
        for size in cfg.hidden_sizes:
            layers += [nn.Linear(dim, size), _ACTIVATIONS[cfg.activation]()]
            dim = size
        self.mlp = nn.Sequential(*layers)
        self.gru = nn.GRUCell(dim, cfg.rnn_size) if cfg.use_rnn else None
        self.out_dim = cfg.rnn_size if cfg.use_rnn else dim
        self._linears = [m for m in self.mlp if isinstance(m, nn.Linear)]
        self._act_fn = _ACTIVATION_FNS[cfg.activation]

    @property
    def linears(self) -> list[nn.Linear]:
        """The MLP's linear layers in order (each followed by the activation)."""
        return self._linears

    def features(self, pre: list[Tensor]) -> Tensor:
        """Preprocessed leaves (N samples) -> ``[N, hidden]`` (before the GRU)."""
        x = self.encoder(pre)
        for lin in self._linears:  # functional calls: module-call overhead matters in ``act``
            x = self._act_fn(F.linear(x, lin.weight, lin.bias))
        return x


def _init_weights(module: nn.Module, gain: float) -> None:
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.orthogonal_(m.weight, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.GRUCell):
            for w in (m.weight_ih, m.weight_hh):
                nn.init.orthogonal_(w, 1.0)
            nn.init.zeros_(m.bias_ih)
            nn.init.zeros_(m.bias_hh)


def _keep_mask(starts: Tensor | None, like: Tensor) -> Tensor | None:
    """``starts [...]`` -> ``[..., 1]`` float mask that is 0 where a new episode starts."""
    if starts is None:
        return None
    return (1.0 - starts.to(like.dtype)).unsqueeze(-1)


class ActorCritic(nn.Module):
    """PPO actor-critic; see ``docs/architecture.md`` for who calls what."""

    def __init__(self, obs_space: gym.Space, action_space: gym.Space, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        leaves = flatten_obs_space(obs_space)
        self.obs_preprocessor = ObsPreprocessor(leaves, cfg.normalize_obs)
        self.actor_body = Body(leaves, cfg)
        self.critic_body = None if cfg.shared_actor_critic else Body(leaves, cfg)
        self.policy_head = make_action_head(action_space, self.actor_body.out_dim, cfg.log_std_init)
        self.value_head = nn.Linear(self.actor_body.out_dim, 1)
        self.return_normalizer = RunningMeanStd(()) if cfg.normalize_returns else None
        self.rnn_size = cfg.rnn_size if cfg.use_rnn else 0
        self.rnn_state_size: int = self.rnn_size * (1 if cfg.shared_actor_critic else 2)

        _init_weights(self, math.sqrt(2.0))
        _init_weights(self.policy_head, 0.01)
        _init_weights(self.value_head, 1.0)

    def multiply_adds_per_sample(self) -> int:
        """Multiply-adds of one forward pass for one sample (convolutions, linear layers, GRU cells);
        decides the learner's default thread count (``Config.learner_threads``)."""
        total = 0

        def on_conv(module: nn.Module, _inputs: tuple, out: Tensor) -> None:
            nonlocal total
            assert isinstance(module, nn.Conv2d)
            kh, kw = module.kernel_size
            total += out[0].numel() * (module.in_channels // module.groups) * kh * kw

        for body in (self.actor_body, self.critic_body):
            if body is None:
                continue
            for key, cnn in body.encoder.cnns.items():
                c, h, w = body.leaves[int(key)].chw
                handles = [m.register_forward_hook(on_conv) for m in cnn.modules() if isinstance(m, nn.Conv2d)]
                try:
                    with torch.no_grad():
                        cnn(torch.zeros(1, c, h, w, device=next(cnn.parameters()).device))
                finally:
                    for handle in handles:
                        handle.remove()
        for m in self.modules():
            if isinstance(m, nn.Linear):
                total += m.in_features * m.out_features
            elif isinstance(m, nn.GRUCell):
                total += 3 * (m.input_size + m.hidden_size) * m.hidden_size
        return total

    # ----- internals -----

    def _split(self, rnn_state: Tensor | None, batch: int, like: Tensor) -> tuple[Tensor | None, Tensor | None]:
        if not self.rnn_size:
            return None, None
        if rnn_state is None:
            rnn_state = torch.zeros(batch, self.rnn_state_size, dtype=like.dtype, device=like.device)
        if self.critic_body is None:
            return rnn_state, None
        return rnn_state[:, : self.rnn_size], rnn_state[:, self.rnn_size :]

    @staticmethod
    def _step(body: Body, pre: list[Tensor], h: Tensor | None, keep: Tensor | None) -> tuple[Tensor, Tensor | None]:
        x = body.features(pre)
        if body.gru is None:
            return x, None
        if keep is not None:
            assert h is not None, "a reset mask needs a recurrent state"
            h = h * keep
        h = body.gru(x, h)
        return h, h

    @staticmethod
    def _sequence(body: Body, pre: list[Tensor], h: Tensor | None, keep: Tensor | None, t: int) -> Tensor:
        """Features for ``T*B`` flattened samples, the GRU looped over T; returns ``[T*B, out]``."""
        x = body.features(pre)
        if body.gru is None:
            return x
        x = x.view(t, -1, x.shape[-1])
        outs = []
        for i in range(t):
            if keep is not None:
                assert h is not None, "a reset mask needs a recurrent state"
                h = h * keep[i]
            h = body.gru(x[i], h)
            outs.append(h)
        return torch.stack(outs).flatten(0, 1)

    # ----- public API -----

    def act(self, obs: Obs, rnn_state: Tensor | None, starts: Tensor | None, deterministic: bool = False) -> ActResult:
        """One step for B envs: raw ``obs [B, ...]``, ``rnn_state [B, S]``, ``starts [B]``."""
        pre = self.obs_preprocessor(obs)
        like = pre[0]
        ha, hc = self._split(rnn_state, like.shape[0], like)
        keep = _keep_mask(starts, like) if self.rnn_size else None
        xa, ha = self._step(self.actor_body, pre, ha, keep)
        actions, log_probs = self.policy_head.sample(xa, deterministic)
        if self.critic_body is None:
            xc = xa
        else:
            xc, hc = self._step(self.critic_body, pre, hc, keep)
        values = self.denormalize_values(self.value_head(xc).squeeze(-1))
        new_state = None
        if self.rnn_size:
            assert ha is not None  # _split gives the actor a state whenever rnn_size > 0
            new_state = ha if hc is None else torch.cat((ha, hc), dim=1)
        return ActResult(actions, log_probs, values, new_state)

    def evaluate(self, obs: Obs, actions: Tensor, rnn_state: Tensor | None, starts: Tensor | None) -> Evaluation:
        """Learner pass over ``obs [T, B, ...]``, ``actions [T, B, ...]``, ``rnn_state [B, S]`` (t=0),
        ``starts [T, B]``; returns log_probs / entropy / normalized values ``[T, B]``."""
        t, b = actions.shape[0], actions.shape[1]
        pre = self.obs_preprocessor(obs)
        like = pre[0]
        ha, hc = self._split(rnn_state, b, like)
        keep = _keep_mask(starts, like) if self.rnn_size else None
        xa = self._sequence(self.actor_body, pre, ha, keep, t)
        log_probs, entropy = self.policy_head.log_prob_entropy(xa, actions.flatten(0, 1))
        xc = xa if self.critic_body is None else self._sequence(self.critic_body, pre, hc, keep, t)
        values = self.value_head(xc).squeeze(-1)
        return Evaluation(log_probs.view(t, b), entropy.view(t, b), values.view(t, b))

    @torch.no_grad()
    def get_value(self, obs: Obs, rnn_state: Tensor | None, starts: Tensor | None) -> Tensor:
        """Denormalized values ``[B]`` for raw ``obs [B, ...]`` (critic only)."""
        pre = self.obs_preprocessor(obs)
        like = pre[0]
        ha, hc = self._split(rnn_state, like.shape[0], like)
        keep = _keep_mask(starts, like) if self.rnn_size else None
        if self.critic_body is None:
            x, _ = self._step(self.actor_body, pre, ha, keep)
        else:
            x, _ = self._step(self.critic_body, pre, hc, keep)
        return self.denormalize_values(self.value_head(x).squeeze(-1))

    def update_obs_normalizer(self, obs: Obs) -> None:
        """Update the running statistics of vector observations from a raw batch ``[M, ...]``."""
        self.obs_preprocessor.update(obs)

    @torch.no_grad()
    def update_return_normalizer(self, returns: Tensor) -> None:
        """Update the return statistics with ``returns`` (any shape)."""
        if self.return_normalizer is not None:
            self.return_normalizer.update(returns.reshape(-1))

    def normalize_returns(self, x: Tensor) -> Tensor:
        """Returns -> normalized units (clipped to [-10, 10]); identity without return normalization."""
        return x if self.return_normalizer is None else self.return_normalizer.normalize(x)

    def denormalize_values(self, x: Tensor) -> Tensor:
        """Normalized values -> return units; identity without return normalization."""
        return x if self.return_normalizer is None else self.return_normalizer.denormalize(x)


def build_actor_critic(obs_space: gym.Space, action_space: gym.Space, cfg: ModelConfig) -> ActorCritic:
    """Build the model for these spaces; raises ``ConfigError`` for unsupported spaces."""
    return ActorCritic(obs_space, action_space, cfg)
