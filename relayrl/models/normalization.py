"""Running mean / variance statistics kept as float64 buffers (they travel with the weights)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class RunningMeanStd(nn.Module):
    """Running mean and (population) variance of a stream of ``shape``-sized samples.

    ``mean``, ``var`` and ``count`` are float64 buffers, so they are in ``state_dict`` and
    checkpoints. Batches are merged with the parallel-variance formula of Chan et al., which
    gives exactly the statistics of the concatenated batches (count starts at 0).
    """

    mean: Tensor
    var: Tensor
    count: Tensor

    def __init__(self, shape: tuple[int, ...] = (), eps: float = 1e-8, clip: float = 10.0) -> None:
        super().__init__()
        self.shape = tuple(shape)
        self.eps = eps
        self.clip = clip
        self.register_buffer("mean", torch.zeros(self.shape, dtype=torch.float64))
        self.register_buffer("var", torch.ones(self.shape, dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))

    @torch.no_grad()
    def update(self, x: Tensor) -> None:
        """Merge a batch ``x [M, *shape]`` (any leading dims are flattened) into the statistics."""
        x = x.detach().reshape((-1,) + self.shape).to(device=self.mean.device, dtype=torch.float64)
        n = x.shape[0]
        if n == 0:
            return
        batch_mean = x.mean(dim=0)
        batch_var = x.var(dim=0, unbiased=False)
        count = self.count
        total = count + n
        delta = batch_mean - self.mean
        new_mean = self.mean + delta * (n / total)
        m2 = self.var * count + batch_var * n + delta.square() * (count * n / total)
        self.mean.copy_(new_mean)
        self.var.copy_(m2 / total)
        self.count.copy_(total)

    def normalize(self, x: Tensor) -> Tensor:
        """``(x - mean) / sqrt(var + eps)`` clipped to ``[-clip, clip]``, in ``x``'s dtype."""
        # computed in float64 (fewer casts than converting the statistics; exact for 0-dim statistics)
        return ((x - self.mean) * torch.rsqrt(self.var + self.eps)).clamp_(-self.clip, self.clip).to(x.dtype)

    def denormalize(self, x: Tensor) -> Tensor:
        """Inverse of ``normalize`` (without clipping): ``x * sqrt(var + eps) + mean``."""
        # with 0-dim float64 statistics type promotion keeps x's dtype, saving two casts
        return torch.addcmul(self.mean, x, torch.sqrt(self.var + self.eps)).to(x.dtype)

    def extra_repr(self) -> str:
        return f"shape={self.shape}, clip={self.clip}"
