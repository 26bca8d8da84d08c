"""Lightweight action distributions and the policy heads that produce them.

Written with plain tensor ops (no ``torch.distributions``): ``act`` runs every env step on small
batches, where the per-call overhead of distribution objects dominates.
"""

from __future__ import annotations

import math

import gymnasium as gym
import torch
from torch import Tensor, nn

from relayrl.config import ConfigError

LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_MASKED = -1e9  # logit of padded (nonexistent) choices in a MultiDiscrete head


def categorical_sample(log_p: Tensor, deterministic: bool = False) -> Tensor:
    """Sample indices ``[...]`` from normalized log-probs ``[..., n]`` (argmax when deterministic).

    Gumbel-max trick: ``argmax(log_p - log(-log(u)))`` with ``u ~ U[0, 1)`` (cheaper than multinomial).
    """
    if deterministic:
        return log_p.argmax(dim=-1)
    return gumbel_argmax(log_p, torch.rand_like(log_p))


def gumbel_argmax(log_p: Tensor, u: Tensor) -> Tensor:
    """``argmax(log_p - log(-log(u)))`` over the last dim, for uniform noise ``u`` (overwritten)."""
    return (log_p - u.log_().neg_().log_()).argmax(dim=-1)


def categorical_log_prob(log_p: Tensor, idx: Tensor) -> Tensor:
    """Log-prob ``[...]`` of indices ``[...]`` under normalized log-probs ``[..., n]``."""
    return log_p.gather(-1, idx.unsqueeze(-1)).squeeze(-1)


def categorical_entropy(log_p: Tensor) -> Tensor:
    """Entropy ``[...]`` of normalized log-probs ``[..., n]``."""
    return -(log_p.exp() * log_p).sum(-1)


def gaussian_log_prob(mean: Tensor, log_std: Tensor, x: Tensor) -> Tensor:
    """Log-density ``[N]`` of ``x [N, D]`` under a diagonal Gaussian, summed over D."""
    z = (x - mean) * torch.exp(-log_std)
    return (-0.5 * z.square() - log_std - LOG_SQRT_2PI).sum(-1)


def gaussian_entropy(log_std: Tensor) -> Tensor:
    """Entropy (scalar) of a diagonal Gaussian with state-independent ``log_std [D]``."""
    return (0.5 + LOG_SQRT_2PI + log_std).sum()


class CategoricalHead(nn.Module):
    """Discrete(n): actions ``[N]`` int64 in ``[0, n)`` (spaces with another start are refused up front)."""

    def __init__(self, in_dim: int, n: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_dim, n)

    def sample(self, h: Tensor, deterministic: bool = False) -> tuple[Tensor, Tensor]:
        """``h [N, in]`` -> (actions ``[N]``, log_probs ``[N]``)."""
        log_p = torch.log_softmax(self.linear(h), dim=-1)
        idx = categorical_sample(log_p, deterministic)
        return idx, categorical_log_prob(log_p, idx)

    def log_prob_entropy(self, h: Tensor, actions: Tensor) -> tuple[Tensor, Tensor]:
        """``h [N, in]``, ``actions [N]`` -> (log_probs ``[N]``, entropy ``[N]``)."""
        log_p = torch.log_softmax(self.linear(h), dim=-1)
        idx = actions.reshape(-1).long()
        return categorical_log_prob(log_p, idx), categorical_entropy(log_p)


class MultiCategoricalHead(nn.Module):
    """MultiDiscrete(nvec): K independent categoricals; actions ``[N, K]`` int64 (starts at 0).

    Logits are laid out as ``[N, K, max(nvec)]``; choices beyond ``nvec[k]`` get a -1e9 logit.
    """

    mask: Tensor

    def __init__(self, in_dim: int, nvec: list[int]) -> None:
        super().__init__()
        self.k, self.n = len(nvec), max(nvec)
        self.linear = nn.Linear(in_dim, self.k * self.n)
        mask = torch.zeros(self.k, self.n)
        for i, n in enumerate(nvec):
            mask[i, n:] = _MASKED
        self.padded = any(n != self.n for n in nvec)
        self.register_buffer("mask", mask, persistent=False)

    def _log_p(self, h: Tensor) -> Tensor:
        logits = self.linear(h).view(-1, self.k, self.n)
        if self.padded:
            logits = logits + self.mask
        return torch.log_softmax(logits, dim=-1)

    def sample(self, h: Tensor, deterministic: bool = False) -> tuple[Tensor, Tensor]:
        """``h [N, in]`` -> (actions ``[N, K]``, log_probs ``[N]`` summed over K)."""
        log_p = self._log_p(h)
        idx = categorical_sample(log_p, deterministic)
        return idx, categorical_log_prob(log_p, idx).sum(-1)

    def log_prob_entropy(self, h: Tensor, actions: Tensor) -> tuple[Tensor, Tensor]:
        """``h [N, in]``, ``actions [N, K]`` -> (log_probs ``[N]``, entropy ``[N]``), summed over K."""
        log_p = self._log_p(h)
        idx = actions.reshape(-1, self.k).long()
        return categorical_log_prob(log_p, idx).sum(-1), categorical_entropy(log_p).sum(-1)


class GaussianHead(nn.Module):
    """1-D Box(D): diagonal Gaussian, learned state-independent log-std (init ``log_std_init``); actions
    ``[N, D]`` float32."""

    def __init__(self, in_dim: int, dim: int, log_std_init: float = 0.0) -> None:
        super().__init__()
        self.linear = nn.Linear(in_dim, dim)
        self.log_std = nn.Parameter(torch.full((dim,), float(log_std_init)))

    def sample(self, h: Tensor, deterministic: bool = False) -> tuple[Tensor, Tensor]:
        """``h [N, in]`` -> (unclipped actions ``[N, D]``, log_probs ``[N]``)."""
        mean = self.linear(h)
        const = -self.log_std - LOG_SQRT_2PI
        if deterministic:
            return mean, const.sum().expand(mean.shape[0])
        noise = torch.randn_like(mean)
        actions = torch.addcmul(mean, noise, self.log_std.exp())
        return actions, (const - 0.5 * noise.square()).sum(-1)

    def log_prob_entropy(self, h: Tensor, actions: Tensor) -> tuple[Tensor, Tensor]:
        """``h [N, in]``, ``actions [N, D]`` -> (log_probs ``[N]``, entropy ``[N]``)."""
        mean = self.linear(h)
        lp = gaussian_log_prob(mean, self.log_std, actions.reshape(mean.shape).to(mean.dtype))
        return lp, gaussian_entropy(self.log_std).expand(mean.shape[0])


ActionHead = CategoricalHead | MultiCategoricalHead | GaussianHead


def make_action_head(space: gym.Space, in_dim: int, log_std_init: float = 0.0) -> ActionHead:
    """The policy head for ``space`` (``log_std_init``: a Gaussian head's initial log-std); raises
    ConfigError for unsupported action spaces."""
    if isinstance(space, gym.spaces.Discrete):
        return CategoricalHead(in_dim, int(space.n))
    if isinstance(space, gym.spaces.MultiDiscrete) and len(space.nvec.shape) == 1 and space.nvec.size > 0:
        return MultiCategoricalHead(in_dim, [int(n) for n in space.nvec])
    if isinstance(space, gym.spaces.Box) and len(space.shape) == 1:
        return GaussianHead(in_dim, int(space.shape[0]), log_std_init)
    raise ConfigError(f"unsupported action space {space!r}: relayrl supports Discrete, MultiDiscrete (1-D) and 1-D Box")
