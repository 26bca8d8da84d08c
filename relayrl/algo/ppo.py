"""PPO clipped-surrogate loss and helpers (Schulman et al. 2017; names follow CleanRL).

All inputs are flat ``[M]`` tensors (M = minibatch elements). An optional ``mask`` (bool or float
``[M]``) restricts every mean to the masked-in elements.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor


class PPOLossTerms(NamedTuple):
    """The PPO loss and its components (all scalar tensors)."""

    loss: Tensor
    """Total to backprop: ``pg_loss - ent_coef * entropy_loss + vf_coef * v_loss``."""
    pg_loss: Tensor
    v_loss: Tensor
    entropy_loss: Tensor
    """Mean entropy (a positive number)."""
    approx_kl: Tensor
    """``mean((ratio - 1) - logratio)``, detached."""
    clipfrac: Tensor
    """Fraction of elements with ``|ratio - 1| > clip_coef``, detached."""


def _masked_mean(x: Tensor, weights: Tensor | None) -> Tensor:
    """Mean of ``x``, or its ``weights``-weighted mean (0 when all weights are 0)."""
    if weights is None:
        return x.mean()
    x = torch.where(weights > 0, x, torch.zeros_like(x))  # keep nan/inf in masked-out entries from leaking
    return (x * weights).sum() / weights.sum().clamp(min=torch.finfo(weights.dtype).tiny)


def ppo_loss(
    new_log_probs: Tensor,
    old_log_probs: Tensor,
    advantages: Tensor,
    new_values: Tensor,
    old_values: Tensor,
    returns: Tensor,
    entropy: Tensor,
    *,
    clip_coef: float,
    vf_coef: float,
    ent_coef: float,
    clip_value_loss: bool = False,
    mask: Tensor | None = None,
) -> PPOLossTerms:
    """PPO loss terms. All inputs flat ``[M]``; gradients flow through new_log_probs, new_values, entropy.

    ratio = exp(new_log_probs - old_log_probs);
    pg_loss = mean(max(-A * ratio, -A * clip(ratio, 1 - c, 1 + c)));
    v_loss = 0.5 * mean((V - R)^2), or with ``clip_value_loss``
    0.5 * mean(max((V - R)^2, (V_old + clamp(V - V_old, -c, c) - R)^2)).
    ``mask`` (bool or float ``[M]``, optional): means are weighted means over masked-in elements
    (0 when the mask is all zero).
    """
    shape = new_log_probs.shape
    for name, t in (
        ("old_log_probs", old_log_probs),
        ("advantages", advantages),
        ("new_values", new_values),
        ("old_values", old_values),
        ("returns", returns),
        ("entropy", entropy),
    ):
        if t.shape != shape:
            raise ValueError(f"{name} has shape {tuple(t.shape)}, expected {tuple(shape)} like new_log_probs")
    weights = None
    if mask is not None:
        if mask.shape != shape:
            raise ValueError(f"mask has shape {tuple(mask.shape)}, expected {tuple(shape)}")
        weights = mask.to(new_log_probs.dtype)

    old_log_probs = old_log_probs.detach()
    advantages = advantages.detach()
    returns = returns.detach()
    old_values = old_values.detach()

    logratio = new_log_probs - old_log_probs
    ratio = logratio.exp()
    pg_loss1 = -advantages * ratio
    pg_loss2 = -advantages * ratio.clamp(1.0 - clip_coef, 1.0 + clip_coef)
    pg_loss = _masked_mean(torch.max(pg_loss1, pg_loss2), weights)

    v_loss_unclipped = (new_values - returns) ** 2
    if clip_value_loss:
        v_clipped = old_values + (new_values - old_values).clamp(-clip_coef, clip_coef)
        v_loss_clipped = (v_clipped - returns) ** 2
        v_loss = 0.5 * _masked_mean(torch.max(v_loss_unclipped, v_loss_clipped), weights)
    else:
        v_loss = 0.5 * _masked_mean(v_loss_unclipped, weights)

    entropy_loss = _masked_mean(entropy, weights)
    loss = pg_loss - ent_coef * entropy_loss + vf_coef * v_loss

    with torch.no_grad():
        approx_kl = _masked_mean((ratio - 1.0) - logratio, weights)
        clipfrac = _masked_mean(((ratio - 1.0).abs() > clip_coef).to(ratio.dtype), weights)
    return PPOLossTerms(loss, pg_loss, v_loss, entropy_loss, approx_kl, clipfrac)


def normalize_advantages(
    advantages: Tensor, mask: Tensor | None = None, eps: float = 1e-8, min_std: float = 0.0
) -> Tensor:
    """``(A - mean) / (max(std, min_std) + eps)`` over masked-in elements (unbiased std, as
    ``Tensor.std``; 0 for one element).

    advantages: any shape; mask (bool or float, same shape, nonzero = in): masked-out entries are set to 0.
    ``min_std`` keeps advantages far smaller than it small (noise stays noise-sized instead of being
    scaled up to unit size). Returns a new tensor; the input is not modified.
    """
    if mask is None:
        selected = advantages.reshape(-1)
    else:
        if mask.shape != advantages.shape:
            raise ValueError(f"mask has shape {tuple(mask.shape)}, expected {tuple(advantages.shape)}")
        keep = mask != 0
        selected = advantages[keep]
    if selected.numel() == 0:
        return torch.zeros_like(advantages)
    mean = selected.mean()
    std = selected.std() if selected.numel() > 1 else torch.zeros_like(mean)
    normalized = (advantages - mean) / (std.clamp(min=min_std) + eps)
    if mask is None:
        return normalized
    return torch.where(keep, normalized, torch.zeros_like(normalized))


@torch.no_grad()
def explained_variance(y_pred: Tensor, y_true: Tensor, mask: Tensor | None = None) -> float:
    """``1 - Var[y_true - y_pred] / Var[y_true]`` over masked-in elements; nan when ``Var[y_true] == 0``.

    y_pred, y_true (and mask, bool or float, nonzero = in): same shape. 1 is a perfect prediction,
    0 is no better than predicting the mean, negative is worse.
    """
    if y_pred.shape != y_true.shape:
        raise ValueError(f"y_pred {tuple(y_pred.shape)} and y_true {tuple(y_true.shape)} differ in shape")
    y_pred, y_true = y_pred.double(), y_true.double()
    if mask is not None:
        keep = mask != 0
        y_pred, y_true = y_pred[keep], y_true[keep]
    if y_true.numel() == 0:
        return float("nan")
    var_y = y_true.var(unbiased=False)
    if var_y.item() == 0.0:
        return float("nan")
    return float(1.0 - (y_true - y_pred).var(unbiased=False) / var_y)
