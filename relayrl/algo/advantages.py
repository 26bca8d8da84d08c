"""Advantage and value-target estimators: GAE and V-trace (with lambda).

Time-major tensors: ``[T, B]`` (T steps of B envs). All computation is float32 under ``no_grad``.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _check_shapes(rewards: Tensor, values: Tensor, bootstrap_value: Tensor, dones: Tensor) -> None:
    if rewards.dim() != 2:
        raise ValueError(f"rewards must be [T, B], got shape {tuple(rewards.shape)}")
    if values.shape != rewards.shape or dones.shape != rewards.shape:
        raise ValueError(
            f"rewards, values, dones must share shape [T, B]: got {tuple(rewards.shape)}, "
            f"{tuple(values.shape)}, {tuple(dones.shape)}"
        )
    if bootstrap_value.shape != rewards.shape[1:]:
        raise ValueError(
            f"bootstrap_value must be [B] = {tuple(rewards.shape[1:])}, got {tuple(bootstrap_value.shape)}"
        )


@torch.no_grad()
def vtrace(
    rewards: Tensor,
    values: Tensor,
    bootstrap_value: Tensor,
    dones: Tensor,
    log_rhos: Tensor,
    gamma: float,
    lam: float,
    rho_bar: float = 1.0,
    c_bar: float = 1.0,
) -> tuple[Tensor, Tensor]:
    """V-trace value targets (Espeholt et al. 2018, with lambda on the traces) and the matching
    policy advantages for a PPO learner.

    rewards, values, dones, log_rhos: ``[T, B]``; bootstrap_value: ``[B]`` = V(x_T).
    ``dones[t] = 1`` (float or bool) means the episode ended after step t (no bootstrapping from t+1).
    ``log_rhos = log pi(a|x) - log mu(a|x)`` (target minus behaviour policy).

    rho_t = min(rho_bar, exp(log_rho_t)); c_t = lam * min(c_bar, exp(log_rho_t));
    delta_t = r_t + gamma * (1 - d_t) * V(x_{t+1}) - V(x_t);
    value targets: v_t - V(x_t) = rho_t * delta_t + gamma * (1 - d_t) * c_t * (v_{t+1} - V(x_{t+1}));
    advantages:    A_t = delta_t + gamma * (1 - d_t) * lam * (v_{t+1} - V(x_{t+1})), with v_T = V(x_T).

    The advantage of step t corrects only the later steps: the action a_t itself is importance
    weighted by the PPO ratio pi_theta / mu, so it gets neither rho_t nor c_t. (Scaling A_t by the
    truncated weight of its own action, as ``v_t - V(x_t)`` does, biases the policy gradient toward
    the actions the last update made more likely whenever the advantages share a nonzero offset,
    e.g. a value function that under- or overestimates everywhere early in training: after
    normalization that offset becomes a rich-get-richer push that collapsed the entropy on sparse
    rewards.)

    Returns ``(advantages, returns = v_t)``, both float32 ``[T, B]``.
    With ``log_rhos == 0`` and ``rho_bar, c_bar >= 1`` both equal ``gae(...)``.
    """
    _check_shapes(rewards, values, bootstrap_value, dones)
    if log_rhos.shape != rewards.shape:
        raise ValueError(f"log_rhos must be [T, B] = {tuple(rewards.shape)}, got {tuple(log_rhos.shape)}")
    r = rewards.float()
    v = values.float()
    ratios = log_rhos.float().exp()
    rhos = ratios.clamp(max=rho_bar)
    cs = lam * ratios.clamp(max=c_bar)
    next_values = torch.cat([v[1:], bootstrap_value.float().reshape(1, -1)], dim=0)
    discounts = gamma * (1.0 - dones.float())
    deltas = r + discounts * next_values - v

    corrections = torch.empty_like(v)  # v_t - V(x_t)
    advantages = torch.empty_like(v)
    carry = torch.zeros_like(v[0])  # v_{t+1} - V(x_{t+1}); 0 at the bootstrap
    for t in range(v.shape[0] - 1, -1, -1):
        advantages[t] = deltas[t] + discounts[t] * lam * carry
        carry = rhos[t] * deltas[t] + discounts[t] * cs[t] * carry
        corrections[t] = carry
    return advantages, corrections + v


@torch.no_grad()
def gae(
    rewards: Tensor,
    values: Tensor,
    bootstrap_value: Tensor,
    dones: Tensor,
    gamma: float,
    lam: float,
) -> tuple[Tensor, Tensor]:
    """Generalized advantage estimation (Schulman et al. 2016).

    rewards, values, dones: ``[T, B]``; bootstrap_value: ``[B]`` = V(obs_T).
    ``dones[t] = 1`` (float or bool) means the episode ended after step t (no bootstrapping from t+1).
    Returns ``(advantages [T, B], returns [T, B] = advantages + values)``, float32.
    """
    _check_shapes(rewards, values, bootstrap_value, dones)
    r = rewards.float()
    v = values.float()
    discounts = gamma * (1.0 - dones.float())
    next_values = torch.cat([v[1:], bootstrap_value.float().reshape(1, -1)], dim=0)
    deltas = r + discounts * next_values - v

    advantages = torch.empty_like(v)
    carry = torch.zeros_like(v[0])
    for t in range(v.shape[0] - 1, -1, -1):
        carry = deltas[t] + discounts[t] * lam * carry
        advantages[t] = carry
    return advantages, advantages + v
