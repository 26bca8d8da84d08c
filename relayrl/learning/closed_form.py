"""PPO gradients of an MLP actor-critic in closed form, without autograd.

On the CPU, a minibatch step of a small MLP (64x64, a few hundred samples) is a few hundred tensor
ops of a few microseconds each, and the autograd graph that records and replays them costs as much
as the arithmetic. ``ClosedFormPPO`` computes the same loss (``relayrl.algo.ppo_loss``) and writes
its gradient with respect to every parameter straight into one flat buffer (the parameters'
``.grad`` are views of it), from the forward pass's saved activations: two matrix products per
layer and a handful of elementwise ops for the loss. Gradient clipping then reads one buffer.

It covers the models most CPU runs train: one vector observation (no CNN, no GRU), tanh or ReLU
layers, a categorical or diagonal Gaussian policy head, separate or shared actor and critic.
``ClosedFormPPO.supports`` says whether a model is one; the learner uses autograd otherwise.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from relayrl.algo import PPOLossTerms, ppo_loss
from relayrl.models.actor_critic import ActorCritic, Body
from relayrl.models.cpu_ops import tanh_
from relayrl.models.distributions import LOG_SQRT_2PI, CategoricalHead, GaussianHead

_ACTIVATIONS = ("tanh", "relu")


def _tiny(x: Tensor) -> float:
    return float(torch.finfo(x.dtype).tiny)


class ClosedFormPPO:
    """Closed-form PPO gradients for ``model`` (see the module docstring); ``params`` is the
    optimizer's parameter list, whose ``.grad`` become views of one flat buffer."""

    def __init__(self, model: ActorCritic, params: list[torch.nn.Parameter]) -> None:
        assert self.supports(model), "ClosedFormPPO.supports(model) is false"
        self.model = model
        self.params = params
        self.grad = torch.zeros(sum(p.numel() for p in params), device=params[0].device, dtype=params[0].dtype)
        self._views: dict[int, Tensor] = {}
        offset = 0
        for p in params:
            view = self.grad[offset : offset + p.numel()].view_as(p)
            self._views[id(p)] = view
            offset += p.numel()
        head = model.policy_head
        self.gaussian = isinstance(head, GaussianHead)
        owned = [*self._body_params(model.actor_body), head.linear.weight, head.linear.bias]
        owned += [head.log_std] if isinstance(head, GaussianHead) else []
        owned += [model.value_head.weight, model.value_head.bias]
        if model.critic_body is not None:
            owned += self._body_params(model.critic_body)
        assert {id(p) for p in owned} == set(self._views), "the model has parameters the closed form does not train"

    @staticmethod
    def supports(model: ActorCritic) -> bool:
        """True for an MLP actor-critic on one vector observation with tanh/ReLU layers and a
        categorical or Gaussian head (no CNN, no GRU)."""
        leaves = model.actor_body.leaves
        return (
            model.rnn_size == 0
            and len(leaves) == 1
            and leaves[0].kind == "vector"
            and model.cfg.activation in _ACTIVATIONS
            and isinstance(model.policy_head, (CategoricalHead, GaussianHead))
        )

    @staticmethod
    def _body_params(body: Body) -> list[Tensor]:
        return [t for lin in body.linears for t in (lin.weight, lin.bias)]

    def attach(self) -> None:
        """Point every parameter's ``.grad`` at its view of the flat buffer (again after anything
        reset them, e.g. ``zero_grad``)."""
        for p in self.params:
            if p.grad is not self._views[id(p)]:
                p.grad = self._views[id(p)]

    @torch.no_grad()
    def step(
        self,
        x: Tensor,
        actions: Tensor,
        old_log_probs: Tensor,
        advantages: Tensor,
        old_values: Tensor,
        returns: Tensor,
        *,
        clip_coef: float,
        vf_coef: float,
        ent_coef: float,
        clip_value_loss: bool,
        mask: Tensor | None,
    ) -> PPOLossTerms:
        """The loss terms of ``ppo_loss`` on preprocessed observations ``x [M, D]`` (the other
        arguments as ``ppo_loss``'s, flat ``[M]``; ``actions [M, ...]``), with the gradient of the
        loss written into every parameter's ``.grad``."""
        model = self.model
        relu = model.cfg.activation == "relu"
        actor_hs = self._forward(model.actor_body, x, relu)
        critic_hs = actor_hs if model.critic_body is None else self._forward(model.critic_body, x, relu)
        head = model.policy_head
        out = F.linear(actor_hs[-1], head.linear.weight, head.linear.bias)
        values = F.linear(critic_hs[-1], model.value_head.weight, model.value_head.bias).squeeze(-1)
        if isinstance(head, GaussianHead):
            inv_std = torch.exp(-head.log_std)
            z = (actions.reshape(out.shape).to(out.dtype) - out) * inv_std
            log_probs = (-0.5 * z.square() - head.log_std - LOG_SQRT_2PI).sum(-1)
            entropy = (0.5 + LOG_SQRT_2PI + head.log_std).sum().expand(out.shape[0])
        else:
            log_p = torch.log_softmax(out, dim=-1)
            idx = actions.reshape(-1, 1).long()
            log_probs = log_p.gather(-1, idx).squeeze(-1)
            p = log_p.exp()
            entropy = -(p * log_p).sum(-1)
        terms = ppo_loss(
            log_probs,
            old_log_probs,
            advantages,
            values,
            old_values,
            returns,
            entropy,
            clip_coef=clip_coef,
            vf_coef=vf_coef,
            ent_coef=ent_coef,
            clip_value_loss=clip_value_loss,
            mask=mask,
        )

        # d(mean)/d(element): 1/M, or weight/sum(weights) for a masked mean (ppo._masked_mean)
        if mask is None:
            scale: Tensor | float = 1.0 / log_probs.shape[0]
        else:
            w = mask.to(log_probs.dtype)
            scale = w / w.sum().clamp(min=_tiny(w))
        # policy term: max(-A r, -A clip(r)) passes -A r where the unclipped branch is the larger or
        # equal one (equal inside the clip range, where the clamp passes the gradient); 0 elsewhere
        ratio = (log_probs - old_log_probs).exp()
        pg1 = -advantages * ratio
        pg2 = -advantages * ratio.clamp(1.0 - clip_coef, 1.0 + clip_coef)
        g_lp = torch.where(pg1 >= pg2, pg1, 0.0) * scale
        g_v = self._value_grad(values, old_values, returns, clip_coef, clip_value_loss) * (vf_coef * scale)
        g_ent: Tensor | None = None
        if ent_coef != 0.0:
            g_ent = -ent_coef * (scale if isinstance(scale, Tensor) else torch.full_like(g_lp, scale))

        if isinstance(head, GaussianHead):
            g_out = (g_lp.unsqueeze(-1) * z) * inv_std
            g_log_std = g_lp @ (z.square() - 1.0)
            if g_ent is not None:
                g_log_std += g_ent.sum()
            self._views[id(head.log_std)].copy_(g_log_std)
        else:
            inner = g_lp.unsqueeze(-1)
            if g_ent is not None:
                inner = inner + g_ent.unsqueeze(-1) * (log_p + entropy.unsqueeze(-1))
            g_out = (-p * inner).scatter_add_(-1, idx, g_lp.unsqueeze(-1))
        g_actor = self._linear_backward(head.linear.weight, head.linear.bias, actor_hs[-1], g_out)
        g_v2 = g_v.unsqueeze(-1)
        g_critic = self._linear_backward(model.value_head.weight, model.value_head.bias, critic_hs[-1], g_v2)
        if model.critic_body is None:
            self._body_backward(model.actor_body, actor_hs, g_actor + g_critic, relu)
        else:
            self._body_backward(model.actor_body, actor_hs, g_actor, relu)
            self._body_backward(model.critic_body, critic_hs, g_critic, relu)
        self.attach()
        return terms

    @staticmethod
    def _value_grad(values: Tensor, old: Tensor, returns: Tensor, clip: float, clipped: bool) -> Tensor:
        """d/dV of 0.5 * (V - R)^2, or of its clipped form's elementwise max (ties split evenly, as
        ``torch.max``'s gradient)."""
        diff = values - returns
        if not clipped:
            return diff
        delta = values - old
        v_clipped = old + delta.clamp(-clip, clip)
        unclipped_sq, clipped_sq = diff.square(), (v_clipped - returns).square()
        share = torch.where(unclipped_sq > clipped_sq, 1.0, torch.where(unclipped_sq == clipped_sq, 0.5, 0.0))
        in_range = ((delta >= -clip) & (delta <= clip)).to(diff.dtype)
        return share * diff + (1.0 - share) * (v_clipped - returns) * in_range

    @staticmethod
    def _forward(body: Body, x: Tensor, relu: bool) -> list[Tensor]:
        """Input and every layer's activation."""
        hs = [x]
        for lin in body.linears:
            pre = torch.addmm(lin.bias, hs[-1], lin.weight.t())
            hs.append(torch.relu_(pre) if relu else tanh_(pre))
        return hs

    def _linear_backward(self, weight: Tensor, bias: Tensor, h: Tensor, g: Tensor) -> Tensor:
        """Writes the gradients of ``h @ weight.T + bias`` for output gradient ``g``; returns d/dh."""
        torch.mm(g.t(), h, out=self._views[id(weight)])
        torch.sum(g, 0, out=self._views[id(bias)])
        return g @ weight

    def _body_backward(self, body: Body, hs: list[Tensor], g: Tensor, relu: bool) -> None:
        for i in range(len(body.linears) - 1, -1, -1):
            lin = body.linears[i]
            g = (
                torch.ops.aten.threshold_backward(g, hs[i + 1], 0.0)
                if relu
                else torch.ops.aten.tanh_backward(g, hs[i + 1])
            )
            if i == 0:
                torch.mm(g.t(), hs[0], out=self._views[id(lin.weight)])
                torch.sum(g, 0, out=self._views[id(lin.bias)])
            else:
                g = self._linear_backward(lin.weight, lin.bias, hs[i], g)


def clip_flat_grad_(grad: Tensor, max_norm: float) -> Tensor:
    """``torch.nn.utils.clip_grad_norm_`` on one flat gradient buffer: scale it so that its norm is
    at most ``max_norm``; returns the norm before clipping."""
    norm = torch.linalg.vector_norm(grad)
    grad.mul_((max_norm / (norm + 1e-6)).clamp(max=1.0))
    return norm
