"""A rollout worker's ``act`` for one or several actor-critics of one MLP architecture, in numpy.

A rollout worker acts on a few dozen rows per step. For the small MLPs that CPU runs train, one
``ActorCritic.act`` is about 30 torch ops of 2-5 microseconds each whatever the rows (about 115 us
for 16 CartPole rows), and with several controllers (policies, self-play snapshots) one call per
controller costs that many times one. ``StackedActorCritic`` keeps the models' parameters stacked
along a leading controller dimension (``[C, ...]``), puts the rows of the ``G`` controllers present
in a step into a ``[G, width, ...]`` batch (``StackLayout``: padded to the largest group, built once
per change of the controllers; one controller needs no padding), and runs every layer as one
batched matrix product for all of them; with separate actor and critic bodies both run in the same
products (``2G`` networks). Observation and return normalization use each model's own statistics.
The arithmetic runs in numpy on views of the stacked tensors: numpy's per-call cost is a fraction of
torch's on arrays this small, and its ``tanh`` is several times faster (about 35 us for the same 16
rows; ``benchmarks/stacked_inference.py``). A worker limits numpy's BLAS to one thread, as torch's.

The results are those of ``ActorCritic.act`` on each controller's rows: the same formulas, and the
same random draws in the same order (the rows of each controller in turn, lowest id first, as the
separate calls draw them), so the same actions; log-probs and values differ only by the rounding of
the batched products (about 1e-7). It covers MLP models: vector and discrete observation leaves (no
CNN), no GRU, categorical, multi-categorical or Gaussian heads (``supports``). A model's parameters
and statistics are copied in by ``refresh`` after its weights change; it reads the tensors the models
held when stacked, so new weights must be loaded into them in place (``load_state_dict``, as a
worker's weight readers do).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from relayrl.models.actor_critic import ActorCritic, ActResult
from relayrl.models.cpu_ops import NUMPY_ACTIVATIONS, gumbel_argmax, log_softmax
from relayrl.models.distributions import (
    LOG_SQRT_2PI,
    CategoricalHead,
    GaussianHead,
    MultiCategoricalHead,
)
from relayrl.models.encoders import Leaf, Obs, get_leaf
from relayrl.models.normalization import RunningMeanStd


@dataclasses.dataclass(frozen=True)
class StackLayout:
    """Where each row of a step goes in the padded ``[G, width]`` batch of its controllers."""

    ids: tuple[int, ...]
    """The controllers present, ascending (``G`` of them)."""
    width: int
    """Rows of the largest group."""
    gather: np.ndarray | None
    """``[G * width]`` the row at each padded position (padding repeats its group's first row);
    None with one controller (this and the fields below: the rows as they are)."""
    position: np.ndarray | None
    """``[N]`` each row's padded position."""
    rank: np.ndarray | None
    """``[N]`` each row's index in group order (the rows of ``ids[0]``, then ``ids[1]`` ...): the order of
    the random draws of separate calls."""
    group: np.ndarray | None
    """``[N]`` each row's index in ``ids``."""
    counts: tuple[int, ...]
    """Rows per controller (in ``ids`` order)."""

    @staticmethod
    def single(controller: int, rows: int) -> StackLayout:
        """Controller ``controller`` acts on all ``rows`` rows."""
        return StackLayout((controller,), rows, None, None, None, None, (rows,))

    @staticmethod
    def build(controller: np.ndarray) -> StackLayout:
        """The layout of the row controllers ``controller`` (``[N]`` non-negative ids)."""
        n = len(controller)
        counts_all = np.bincount(controller)
        present = counts_all > 0
        ids = np.flatnonzero(present)
        if len(ids) == 1:
            return StackLayout.single(int(ids[0]), n)
        counts = counts_all[ids]
        group = (np.cumsum(present) - 1)[controller]
        order = np.argsort(group, kind="stable")  # group order, rows ascending within a group
        first = np.cumsum(counts) - counts  # each group's start in group order
        width = int(counts.max())
        ordered_group, arange = group[order], np.arange(n)
        position = np.empty(n, dtype=np.int64)
        position[order] = ordered_group * width + (arange - first[ordered_group])
        gather = np.repeat(order[first], width)
        gather[position] = arange
        rank = np.empty(n, dtype=np.int64)
        rank[order] = arange
        return StackLayout(tuple(ids.tolist()), width, gather, position, rank, group, tuple(counts.tolist()))


class StackedActorCritic:
    """``act`` of several ``ActorCritic`` of one MLP architecture in one pass (module docstring)."""

    @staticmethod
    def supports(model: ActorCritic) -> bool:
        """An MLP actor-critic: vector / discrete observation leaves, no GRU, a known head and activation."""
        return (
            model.rnn_size == 0
            and all(leaf.kind in ("vector", "discrete") for leaf in model.actor_body.leaves)
            and model.cfg.activation in NUMPY_ACTIVATIONS
            and isinstance(model.policy_head, (CategoricalHead, MultiCategoricalHead, GaussianHead))
        )

    @classmethod
    def stackable(cls, models: Sequence[ActorCritic]) -> bool:
        """Every model is supported and they share one architecture (the same parameter shapes,
        observation leaves, activation and body sharing)."""

        def shape(m: ActorCritic) -> tuple:
            sizes = tuple((k, tuple(v.shape)) for k, v in m.state_dict().items())
            return sizes, m.cfg.activation, m.critic_body is None, tuple(m.actor_body.leaves)

        return len(models) > 0 and all(cls.supports(m) for m in models) and len({shape(m) for m in models}) == 1

    def __init__(self, models: Sequence[ActorCritic]) -> None:
        assert self.stackable(models), "StackedActorCritic.stackable(models) is false"
        self.models = list(models)
        m = self.models[0]
        c = self.num_models = len(self.models)
        self.shared = m.critic_body is None
        self.activation = NUMPY_ACTIVATIONS[m.cfg.activation]
        self.head = m.policy_head
        self.tensors: list[Tensor] = []
        """The stacked tensors ``act`` reads; the fields below are indices into it."""
        self.body: set[int] = set()
        """The tensors of the bodies' layers: ``[2C, ...]`` (actors, then critics) with separate bodies."""
        self._copies: list[list[tuple[Tensor, Tensor]]] = [[] for _ in range(c)]
        """Per model: ``(its entry of a stacked tensor, the model's tensor that refresh copies into it)``."""
        self._derived: list[Callable[[], None]] = []
        """Recompute the tensors derived from stacked statistics (e.g. ``1 / std``), for every model."""
        names = ["actor_body"] if self.shared else ["actor_body", "critic_body"]
        self.layers: list[tuple[int, int]] = []
        """Per layer: ``(weight [C or 2C, in, out], bias [C or 2C, 1, out])``."""
        for i, lin in enumerate(m.actor_body.linears):
            w = self._stack(torch.empty(c * len(names), lin.in_features, lin.out_features), body=True)
            b = self._stack(torch.empty(c * len(names), 1, lin.out_features), body=True)
            for k, name in enumerate(names):
                self._fill(w, functools.partial(_body_weight, body=name, layer=i), k * c)
                self._fill(b, functools.partial(_body_bias, body=name, layer=i), k * c)
            self.layers.append((w, b))
        head, value = m.policy_head.linear, m.value_head
        self.head_w = self._fill(self._stack(self._like(head.weight.t())), lambda x: x.policy_head.linear.weight.t())
        self.head_b = self._fill(self._stack(self._like(head.bias[None])), lambda x: x.policy_head.linear.bias)
        self.value_w = self._fill(self._stack(self._like(value.weight.t())), lambda x: x.value_head.weight.t())
        self.value_b = self._fill(self._stack(self._like(value.bias[None])), lambda x: x.value_head.bias)
        self.leaves: list[tuple[Leaf, int, int, float]] = []
        """Per observation leaf: ``(leaf, mean [C, 1, size], 1 / std [C, 1, size], clip)``; -1 without
        normalization."""
        for i, leaf in enumerate(m.actor_body.leaves):
            norm = m.obs_preprocessor.normalizers[str(i)] if str(i) in m.obs_preprocessor.normalizers else None
            if not isinstance(norm, RunningMeanStd):
                self.leaves.append((leaf, -1, -1, 0.0))
                continue
            mean = self._fill(
                self._stack(self._like(norm.mean[None])), functools.partial(_normalizer_stat, leaf=i, stat="mean")
            )
            var = self._fill(self._like(norm.var[None]), functools.partial(_normalizer_stat, leaf=i, stat="var"))
            scale = self._stack(torch.empty_like(var))
            self._derive(functools.partial(_rsqrt_into, var, norm.eps, self.tensors[scale]))
            self.leaves.append((leaf, mean, scale, norm.clip))
        self.returns: tuple[int, int] | None = None
        """``(mean [C, 1], std [C, 1])`` of the return normalizers (float32, as ``denormalize`` applies them)."""
        if m.return_normalizer is not None:
            stats = self._returns(m)
            raw_mean = self._fill(self._like(stats.mean[None]), lambda x: self._returns(x).mean)
            raw_var = self._fill(self._like(stats.var[None]), lambda x: self._returns(x).var)
            self.returns = (self._stack(torch.empty(c, 1)), self._stack(torch.empty(c, 1)))
            mean, std = (self.tensors[k] for k in self.returns)
            self._derive(functools.partial(mean.copy_, raw_mean))
            self._derive(functools.partial(_sqrt_into, raw_var, stats.eps, std))
        self.gaussian: tuple[int, int] | None = None
        """``(std [C, D], -log_std - log(sqrt(2 pi)) [C, D])`` of Gaussian heads."""
        if isinstance(self.head, GaussianHead):
            log_std = self._fill(torch.empty(c, self.head.log_std.shape[0]), self._log_std)
            self.gaussian = (self._stack(torch.empty_like(log_std)), self._stack(torch.empty_like(log_std)))
            gaussian_std, const = (self.tensors[k] for k in self.gaussian)
            self._derive(functools.partial(torch.exp, log_std, out=gaussian_std))
            self._derive(functools.partial(_neg_minus_into, log_std, LOG_SQRT_2PI, const))
        self.head_mask = self.head.mask.numpy() if isinstance(self.head, MultiCategoricalHead) else None
        self._selected: dict[tuple[int, ...], list[np.ndarray]] = {}
        """``_arrays`` of controller subsets, until the next ``refresh``."""
        self._all = [t.numpy() for t in self.tensors]
        self.refresh(range(c))

    # ----- parameters -----

    def _like(self, x: Tensor) -> Tensor:
        """An empty ``[C, *x.shape]`` tensor of ``x``'s dtype."""
        return torch.empty((self.num_models, *x.shape), dtype=x.dtype)

    def _stack(self, tensor: Tensor, body: bool = False) -> int:
        """Add ``tensor`` to the ones ``act`` reads; its index."""
        self.tensors.append(tensor)
        if body:
            self.body.add(len(self.tensors) - 1)
        return len(self.tensors) - 1

    def _fill(self, at: int | Tensor, get: Callable[[ActorCritic], Tensor], offset: int = 0) -> Any:
        """``refresh`` copies ``get(model c)`` (a tensor the model holds, or a view of one) into entry
        ``offset + c`` of ``at`` (a tensor, or the index of one in ``tensors``); returns ``at``."""
        tensor = self.tensors[at] if isinstance(at, int) else at
        for c, copies in enumerate(self._copies):
            entry = tensor[offset + c]
            copies.append((entry, get(self.models[c]).detach().view(entry.shape)))
        return at

    def _derive(self, compute: Callable[[], Any]) -> None:
        self._derived.append(compute)

    @staticmethod
    def _normalizer(model: ActorCritic, i: int) -> RunningMeanStd:
        norm = model.obs_preprocessor.normalizers[str(i)]
        assert isinstance(norm, RunningMeanStd)
        return norm

    @staticmethod
    def _returns(model: ActorCritic) -> RunningMeanStd:
        assert model.return_normalizer is not None
        return model.return_normalizer

    @staticmethod
    def _log_std(model: ActorCritic) -> Tensor:
        head = model.policy_head
        assert isinstance(head, GaussianHead)
        return head.log_std.detach()

    @torch.no_grad()
    def refresh(self, controllers: Iterable[int]) -> None:
        """Copy the current parameters and normalizer statistics of these models in (after their
        weights were loaded)."""
        for c in controllers:
            for entry, source in self._copies[c]:
                entry.copy_(source)
        for compute in self._derived:
            compute()
        self._selected.clear()

    def _arrays(self, ids: tuple[int, ...]) -> list[np.ndarray]:
        """Every stacked tensor (``self.tensors`` order) for the controllers ``ids`` only, as numpy
        arrays (views of ``self.tensors`` when every controller is present)."""
        if len(ids) == self.num_models:  # every controller present: ids == 0 .. C-1
            return self._all
        picked = self._selected.get(ids)
        if picked is None:
            idx = torch.tensor(ids)
            body = idx if self.shared else torch.cat([idx, idx + self.num_models])
            picked = [t.index_select(0, body if i in self.body else idx).numpy() for i, t in enumerate(self.tensors)]
            if len(self._selected) >= 64:  # many snapshot combinations: keep the cache small
                self._selected.clear()
            self._selected[ids] = picked
        return picked

    # ----- inference -----

    def act(self, obs: Obs, layout: StackLayout) -> ActResult:
        """``ActorCritic.act`` of each row's controller (``layout``: ``StackLayout.build`` of them) on
        raw ``obs [N, ...]`` (CPU tensors)."""
        p = self._arrays(layout.ids)
        actor, critic = self._bodies(obs, layout, p, actor=True)
        assert actor is not None
        out = np.matmul(actor, p[self.head_w])
        out += p[self.head_b]
        out = out.reshape(-1, out.shape[-1])
        if layout.position is not None:
            out = out[layout.position]
        actions, log_probs = self._sample(out, layout, p)
        values = self._values(critic, layout, p)
        return ActResult(torch.from_numpy(actions), torch.from_numpy(log_probs), torch.from_numpy(values), None)

    def get_value(self, obs: Obs, layout: StackLayout) -> Tensor:
        """``ActorCritic.get_value`` of each row's controller on raw ``obs [N, ...]`` (the critics only)."""
        p = self._arrays(layout.ids)
        return torch.from_numpy(self._values(self._bodies(obs, layout, p, actor=False)[1], layout, p))

    def _bodies(
        self, obs: Obs, layout: StackLayout, p: list[np.ndarray], actor: bool
    ) -> tuple[np.ndarray | None, np.ndarray]:
        """The last layer's features ``[G, width, hidden]`` of the actors (None unless ``actor``) and
        of the critics."""
        g, width = len(layout.ids), layout.width
        xs = []
        for leaf, mean, scale, clip in self.leaves:
            raw = get_leaf(obs, leaf.path).numpy()
            if layout.gather is not None:
                raw = raw[layout.gather]
            if leaf.kind == "vector":
                x = raw.reshape(g, width, leaf.size)
                if mean >= 0:  # in the statistics' float64, as RunningMeanStd.normalize
                    x = (x - p[mean]) * p[scale]
                    np.clip(x, -clip, clip, out=x)
                x = x.astype(np.float32, copy=False)
            else:
                idx = raw.reshape(-1).astype(np.int64, copy=False)
                x = np.zeros((idx.shape[0], leaf.n), dtype=np.float32)
                x[np.arange(idx.shape[0]), idx] = 1.0
                x = x.reshape(g, width, leaf.n)
            xs.append(x)
        h = xs[0] if len(xs) == 1 else np.concatenate(xs, axis=-1)
        # separate bodies: actors are entries [0, G) of the body tensors, critics [G, 2G)
        both = actor and not self.shared
        part = slice(None) if self.shared or both else slice(g, None)
        if both:
            h = np.concatenate([h, h])
        for w, b in self.layers:
            h = np.matmul(h, p[w][part])
            h += p[b][part]
            self.activation(h)
        if self.shared:
            return (h if actor else None), h
        return (h[:g], h[g:]) if both else (None, h)

    def _values(self, critic: np.ndarray, layout: StackLayout, p: list[np.ndarray]) -> np.ndarray:
        """Return-unit values ``[N]`` (row order) from the critics' features."""
        values = np.matmul(critic, p[self.value_w])
        values += p[self.value_b]
        values = values.reshape(critic.shape[0], -1)
        if self.returns is not None:
            values = values * p[self.returns[1]] + p[self.returns[0]]
        values = values.reshape(-1)
        return values if layout.position is None else values[layout.position]

    def _sample(self, out: np.ndarray, layout: StackLayout, p: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Actions and log-probs from the heads' outputs ``out [N, ...]`` (row order), the noise
        drawn from torch's generator in group order, as separate calls draw it."""
        head = self.head
        if self.gaussian is not None:
            std, const = (p[i] if layout.group is None else p[i][layout.group] for i in self.gaussian)
            # one draw per controller, as separate calls make (normal draws of different sizes
            # do not concatenate into one draw of the total size, uniform ones do)
            d = out.shape[1]
            noise = torch.cat([torch.randn(k, d) for k in layout.counts]).numpy()
            if layout.rank is not None:
                noise = noise[layout.rank]
            return out + noise * std, (const - 0.5 * np.square(noise)).sum(-1)
        if isinstance(head, MultiCategoricalHead):
            logits = out.reshape(out.shape[0], head.k, head.n)
            if self.head_mask is not None and head.padded:
                logits = logits + self.head_mask
            log_p = log_softmax(logits)
            idx = gumbel_argmax(log_p, self._uniform(log_p.shape, layout))
            return idx, np.take_along_axis(log_p, idx[..., None], -1)[..., 0].sum(-1)
        log_p = log_softmax(out)
        idx = gumbel_argmax(log_p, self._uniform(log_p.shape, layout))
        return idx, log_p[np.arange(idx.shape[0]), idx]

    @staticmethod
    def _uniform(shape: tuple[int, ...], layout: StackLayout) -> np.ndarray:
        """``torch.rand(shape)`` (the draws ``ActorCritic.act`` makes), put in row order."""
        u = torch.rand(shape).numpy()
        return u if layout.rank is None else u[layout.rank]


def _body_weight(model: ActorCritic, body: str, layer: int) -> Tensor:
    """Layer ``layer``'s weight of ``model``'s ``body`` (``actor_body`` / ``critic_body``), as ``[in, out]``."""
    return getattr(model, body).linears[layer].weight.t()


def _body_bias(model: ActorCritic, body: str, layer: int) -> Tensor:
    return getattr(model, body).linears[layer].bias


def _normalizer_stat(model: ActorCritic, leaf: int, stat: str) -> Tensor:
    """``mean`` or ``var`` of ``model``'s observation normalizer of leaf ``leaf``."""
    return getattr(StackedActorCritic._normalizer(model, leaf), stat)


def _rsqrt_into(var: Tensor, eps: float, out: Tensor) -> None:
    torch.rsqrt(var + eps, out=out)


def _sqrt_into(var: Tensor, eps: float, out: Tensor) -> None:
    out.copy_(torch.sqrt(var + eps))


def _neg_minus_into(x: Tensor, c: float, out: Tensor) -> None:
    torch.sub(-x, c, out=out)
