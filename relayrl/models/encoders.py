"""Per-observation-space feature extraction.

``ObsPreprocessor`` (one per model) turns raw observations into float tensors with one batch dim:
images -> ``[N, C, H, W]`` scaled to [0, 1] when uint8, vector Boxes -> ``[N, D]`` (normalized by
running statistics), Discrete -> one-hot ``[N, n]``. ``ObsEncoder`` (one per actor/critic body)
runs a CNN on each image and concatenates everything into ``[N, F]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, cast

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor, nn

from relayrl.config import ConfigError
from relayrl.models.normalization import RunningMeanStd

Obs = Tensor | dict[str, Any]


@dataclass(frozen=True)
class Leaf:
    """One non-Dict observation component: its key path and how it is turned into features."""

    path: tuple[str, ...]
    kind: str  # "image" | "vector" | "discrete"
    shape: tuple[int, ...]  # space shape (raw layout)
    hwc: bool = False  # images only
    uint8: bool = False  # images only: scale by 1/255
    n: int = 0  # discrete: number of values (Discrete spaces start at 0: envs/factory.py checks)

    @property
    def size(self) -> int:
        """Flat feature width for vector / discrete leaves."""
        return self.n if self.kind == "discrete" else int(math.prod(self.shape))

    @property
    def chw(self) -> tuple[int, int, int]:
        s = self.shape
        return (s[2], s[0], s[1]) if self.hwc else (s[0], s[1], s[2])


def _unsupported(space: gym.Space, path: tuple[str, ...]) -> ConfigError:
    where = f" at key '{'.'.join(path)}'" if path else ""
    return ConfigError(
        f"unsupported observation space {space!r}{where}: relayrl supports Box (1-3 dims), Discrete and Dict of those"
    )


def flatten_obs_space(space: gym.Space, path: tuple[str, ...] = ()) -> list[Leaf]:
    """The leaves of an observation space in sorted-key order; raises ConfigError for others."""
    if isinstance(space, gym.spaces.Dict):
        if not space.spaces:
            raise _unsupported(space, path)
        return [leaf for key in sorted(space.spaces) for leaf in flatten_obs_space(space.spaces[key], path + (key,))]
    if isinstance(space, gym.spaces.Discrete):
        return [Leaf(path, "discrete", (), n=int(space.n))]
    if isinstance(space, gym.spaces.Box):
        shape = tuple(int(d) for d in space.shape)
        if len(shape) == 3:
            hwc = shape[-1] in (1, 3, 4) and shape[0] > 4
            return [Leaf(path, "image", shape, hwc=hwc, uint8=space.dtype == np.uint8)]
        if len(shape) <= 2:
            return [Leaf(path, "vector", shape)]
    raise _unsupported(space, path)


def get_leaf(obs: Obs, path: tuple[str, ...]) -> Tensor:
    """The tensor at ``path`` inside a (nested) dict observation."""
    node: Obs = obs
    for key in path:
        node = cast(dict[str, Any], node)[key]
    return cast(Tensor, node)


class ObsPreprocessor(nn.Module):
    """Raw observations -> list of float tensors (one per leaf), shared by actor and critic."""

    def __init__(self, leaves: list[Leaf], normalize_obs: bool) -> None:
        super().__init__()
        self.leaves = leaves
        self.normalizers = nn.ModuleDict(
            {
                str(i): RunningMeanStd((leaf.size,))
                for i, leaf in enumerate(leaves)
                if normalize_obs and leaf.kind == "vector"
            }
        )
        self.images_channels_last = False
        """Return images in channels-last layout (set by a CPU learner whose convolutions use it)."""
        # plain list (not registered twice) for the hot path: (leaf, its normalizer or None)
        self._plan: list[tuple[Leaf, RunningMeanStd | None]] = [
            (leaf, cast(RunningMeanStd, self.normalizers[str(i)]) if str(i) in self.normalizers else None)
            for i, leaf in enumerate(leaves)
        ]

    def forward(self, obs: Obs) -> list[Tensor]:
        """``obs``: raw tensors ``[*lead, ...]``; returns one float tensor per leaf with ``lead`` flattened to N."""
        out = []
        for leaf, norm in self._plan:
            x = get_leaf(obs, leaf.path)
            if leaf.kind == "image":
                x = x.reshape((-1,) + leaf.shape)
                if leaf.hwc:
                    x = x.permute(0, 3, 1, 2)
                if self.images_channels_last:  # the copy on the raw bytes; the conversion below keeps the layout
                    x = x.contiguous(memory_format=torch.channels_last)
                x = x.float() * (1.0 / 255.0) if leaf.uint8 else x.float()
            elif leaf.kind == "vector":
                x = x.reshape(-1, leaf.size).float()
                if norm is not None:
                    x = norm.normalize(x)
            else:
                idx = x.reshape(-1, 1).long()
                x = torch.zeros(idx.shape[0], leaf.n, device=idx.device).scatter_(1, idx, 1.0)
            out.append(x)
        return out

    @torch.no_grad()
    def update(self, obs: Obs) -> None:
        """Update the running statistics of normalized vector leaves with a raw batch."""
        for leaf, norm in self._plan:
            if norm is not None:
                norm.update(get_leaf(obs, leaf.path).reshape(-1, leaf.size))


def nature_cnn(channels: int) -> nn.Sequential:
    """Nature DQN convolutions (for images of at least 36x36), flattened, then Linear 512 + ReLU."""
    return nn.Sequential(
        nn.Conv2d(channels, 32, 8, stride=4),
        nn.ReLU(),
        nn.Conv2d(32, 64, 4, stride=2),
        nn.ReLU(),
        nn.Conv2d(64, 64, 3, stride=1),
        nn.ReLU(),
        nn.Flatten(),
    )


def small_cnn(channels: int, height: int, width: int) -> nn.Sequential:
    """Three 3x3 convolutions (16/32/64) for small images, flattened.

    While the image is larger than 10 pixels a convolution halves it (stride 2, padded); below that
    it is unpadded and shrinks the image by 2 (down to 1), so a MiniGrid 7x7 view ends as 64
    features rather than 64x7x7. Keeps both the learner and worker inference cheap on tiny images.
    """
    layers: list[nn.Module] = []
    size = min(height, width)
    for out in (16, 32, 64):
        if size > 10:
            layers += [nn.Conv2d(channels, out, 3, stride=2, padding=1), nn.ReLU()]
            size = (size - 1) // 2 + 1
        elif size >= 3:
            layers += [nn.Conv2d(channels, out, 3), nn.ReLU()]
            size -= 2
        else:
            layers += [nn.Conv2d(channels, out, 1), nn.ReLU()]
        channels = out
    layers.append(nn.Flatten())
    return nn.Sequential(*layers)


class ObsEncoder(nn.Module):
    """Preprocessed leaves -> concatenated features ``[N, out_dim]`` (CNN per image leaf)."""

    def __init__(self, leaves: list[Leaf]) -> None:
        super().__init__()
        self.cnns = nn.ModuleDict()
        dim = 0
        for i, leaf in enumerate(leaves):
            if leaf.kind != "image":
                dim += leaf.size
                continue
            c, h, w = leaf.chw
            cnn = nature_cnn(c) if min(h, w) >= 36 else small_cnn(c, h, w)
            with torch.no_grad():
                n_flat = cnn(torch.zeros(1, c, h, w)).shape[1]
            if min(h, w) >= 36:
                cnn.append(nn.Linear(n_flat, 512))
                cnn.append(nn.ReLU())
                n_flat = 512
            self.cnns[str(i)] = cnn
            dim += n_flat
        self.out_dim = dim
        self._cnn_list = [self.cnns[str(i)] if str(i) in self.cnns else None for i in range(len(leaves))]
        self._passthrough = len(leaves) == 1 and self._cnn_list[0] is None

    def forward(self, xs: list[Tensor]) -> Tensor:
        """``xs``: output of ``ObsPreprocessor``; returns ``[N, out_dim]``."""
        if self._passthrough:
            return xs[0]
        feats = [x if cnn is None else cnn(x) for cnn, x in zip(self._cnn_list, xs, strict=True)]
        return feats[0] if len(feats) == 1 else torch.cat(feats, dim=1)
