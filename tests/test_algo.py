"""Tests for relayrl.algo: GAE, V-trace, PPO loss and helpers, against hand-computed numbers."""

import math

import pytest
import torch

from relayrl.algo import explained_variance, gae, normalize_advantages, ppo_loss, vtrace


def test_gae_hand_computed():
    # gamma = 0.9, lam = 0.8 (gamma * lam = 0.72). Columns are envs.
    # env 0: r = [1, 2, 3], V = [0.5, 1.0, 1.5], done after step 1, bootstrap 2.0
    #   t=2: delta = 3 + 0.9*2.0 - 1.5 = 3.3                       A = 3.3
    #   t=1: done -> delta = 2 - 1.0 = 1.0, no carry               A = 1.0
    #   t=0: delta = 1 + 0.9*1.0 - 0.5 = 1.4;  A = 1.4 + 0.72*1.0  A = 2.12
    # env 1: r = [0, 1, 1], V = [1.0, 2.0, 0.5], done after step 2 (bootstrap 5.0 ignored)
    #   t=2: delta = 1 - 0.5 = 0.5                                  A = 0.5
    #   t=1: delta = 1 + 0.9*0.5 - 2.0 = -0.55; A = -0.55 + 0.72*0.5 A = -0.19
    #   t=0: delta = 0 + 0.9*2.0 - 1.0 = 0.8;  A = 0.8 + 0.72*(-0.19) A = 0.6632
    rewards = torch.tensor([[1.0, 0.0], [2.0, 1.0], [3.0, 1.0]])
    values = torch.tensor([[0.5, 1.0], [1.0, 2.0], [1.5, 0.5]])
    dones = torch.tensor([[False, False], [True, False], [False, True]])
    bootstrap = torch.tensor([2.0, 5.0])
    inputs = [x.clone() for x in (rewards, values, bootstrap, dones)]
    adv, ret = gae(rewards, values, bootstrap, dones, gamma=0.9, lam=0.8)
    expected_adv = torch.tensor([[2.12, 0.6632], [1.0, -0.19], [3.3, 0.5]])
    torch.testing.assert_close(adv, expected_adv)
    torch.testing.assert_close(ret, expected_adv + values)  # [[2.62, 1.6632], [2.0, 1.81], [4.8, 1.0]]
    assert adv.dtype == torch.float32 and ret.dtype == torch.float32
    for before, after in zip(inputs, (rewards, values, bootstrap, dones), strict=True):
        assert torch.equal(before, after)  # inputs untouched


def _random_rollout(gen, T=16, B=5):
    rewards = torch.randn(T, B, generator=gen)
    values = torch.randn(T, B, generator=gen)
    bootstrap = torch.randn(B, generator=gen)
    dones = (torch.rand(T, B, generator=gen) < 0.2).float()
    return rewards, values, bootstrap, dones


@pytest.mark.parametrize("gamma, lam", [(0.99, 0.95), (0.9, 0.5), (1.0, 1.0), (0.5, 0.0)])
def test_vtrace_on_policy_equals_gae(gamma, lam):
    gen = torch.Generator().manual_seed(0)
    rewards, values, bootstrap, dones = _random_rollout(gen)
    zeros = torch.zeros_like(rewards)
    adv_g, ret_g = gae(rewards, values, bootstrap, dones, gamma, lam)
    for rho_bar, c_bar in [(1.0, 1.0), (2.0, 1.5)]:
        adv_v, ret_v = vtrace(rewards, values, bootstrap, dones, zeros, gamma, lam, rho_bar, c_bar)
        torch.testing.assert_close(adv_v, adv_g)
        torch.testing.assert_close(ret_v, ret_g)


def test_vtrace_hand_computed_truncation():
    # gamma = 0.9, lam = 0.5, rho_bar = 1.0, c_bar = 0.8; one env, no dones.
    # ratios pi/mu = [2.0, 0.9, 0.5]
    #   rho = min(1.0, ratio)       = [1.0, 0.9, 0.5]     (t=0 truncated by rho_bar)
    #   c   = 0.5 * min(0.8, ratio) = [0.4, 0.4, 0.25]    (t=0, t=1 truncated by c_bar)
    # r = [1, 0, 2], V = [0.5, 1.0, 2.0], bootstrap V(x_3) = 4.0
    # delta = r + 0.9 V(x_{t+1}) - V(x_t) = [1.4, 0.8, 3.6]
    # value-target corrections v_t - V(x_t):
    #   t=2: 0.5*3.6 = 1.8
    #   t=1: 0.9*0.8 + 0.9*0.4*1.8 = 0.72 + 0.648 = 1.368
    #   t=0: 1.0*1.4 + 0.9*0.4*1.368 = 1.4 + 0.49248 = 1.89248
    # returns v = [2.39248, 2.368, 3.8]
    # advantages A_t = delta_t + 0.9*0.5*(v_{t+1} - V(x_{t+1})): no rho_t, no c_t of the own action
    #   t=2: 3.6 (+ 0: the bootstrap has no correction)
    #   t=1: 0.8 + 0.45*1.8 = 1.61
    #   t=0: 1.4 + 0.45*1.368 = 2.0156
    rewards = torch.tensor([[1.0], [0.0], [2.0]])
    values = torch.tensor([[0.5], [1.0], [2.0]])
    dones = torch.zeros(3, 1)
    bootstrap = torch.tensor([4.0])
    log_rhos = torch.tensor([[2.0], [0.9], [0.5]]).log()
    adv, ret = vtrace(
        rewards,
        values,
        bootstrap,
        dones,
        log_rhos,
        gamma=0.9,
        lam=0.5,
        rho_bar=1.0,
        c_bar=0.8,
    )
    torch.testing.assert_close(adv, torch.tensor([[2.0156], [1.61], [3.6]]))
    torch.testing.assert_close(ret, torch.tensor([[2.39248], [2.368], [3.8]]))


def test_vtrace_done_cuts_trace():
    # done after step 0: v_0 = V_0 + rho_0 * (r_0 - V_0) and A_0 = r_0 - V_0, whatever comes later.
    # rho_0 = min(1, 0.5) = 0.5.
    rewards = torch.tensor([[1.0], [10.0]])
    values = torch.tensor([[3.0], [0.0]])
    dones = torch.tensor([[1.0], [0.0]])
    log_rhos = torch.tensor([[0.5], [3.0]]).log()
    adv, ret = vtrace(rewards, values, torch.tensor([7.0]), dones, log_rhos, gamma=0.9, lam=1.0)
    assert adv[0, 0].item() == pytest.approx(1.0 - 3.0)
    assert ret[0, 0].item() == pytest.approx(3.0 + 0.5 * (1.0 - 3.0))


def test_vtrace_advantage_offset_is_the_same_for_every_action():
    # Every TD error equal (a value function off by a constant): the advantages must not depend on
    # how the current policy weighs the actions taken, or normalization turns the offset into a
    # push toward the actions the policy already prefers.
    gen = torch.Generator().manual_seed(1)
    T, B = 8, 64
    values = torch.zeros(T, B)
    rewards = torch.full((T, B), 0.1)
    log_rhos = torch.randn(T, B, generator=gen)
    adv, _ = vtrace(rewards, values, torch.zeros(B), torch.zeros(T, B), log_rhos, gamma=0.9, lam=0.95)
    # at the last step (no later corrections) every action gets exactly the TD error
    torch.testing.assert_close(adv[-1], torch.full((B,), 0.1))
    # earlier steps depend on the later actions' weights, never on their own
    own = torch.corrcoef(torch.stack([log_rhos[:-1].flatten(), adv[:-1].flatten()]))[0, 1]
    assert abs(float(own)) < 0.1


# PPO hand case, clip_coef = 0.2 (clip range [0.8, 1.2]):
#   ratio  A   -A*ratio  -A*clip(ratio)   max    note
#   1.5   +2   -3.0      -2.4            -2.4    clipped (above range, A > 0)
#   0.5   -1    0.5       0.8             0.8    clipped (below range, A < 0)
#   1.1   +1   -1.1      -1.1            -1.1    inside the range
#   0.7   +3   -2.1      -2.4            -2.1    below range, A > 0: unclipped is pessimistic
#   1.5   -1    1.5       1.2             1.5    above range, A < 0: unclipped is pessimistic
#   pg_loss = (-2.4 + 0.8 - 1.1 - 2.1 + 1.5) / 5 = -3.3 / 5 = -0.66
#   clipfrac: |ratio - 1| > 0.2 for 1.5, 0.5, 0.7, 1.5 -> 4/5 = 0.8
# Values: V = [1, 2, 3, 0, 0], R = [0, 2, 1, 0, 1], V_old = [0.5, 4, 2.5, 0, 0.5]
#   (V-R)^2 = [1, 0, 4, 0, 1] -> v_loss = 0.5 * 6/5 = 0.6
#   V_clip = V_old + clamp(V - V_old, -0.2, 0.2) = [0.7, 3.8, 2.7, 0, 0.3]
#   (V_clip-R)^2 = [0.49, 3.24, 2.89, 0, 0.49]; max with unclipped = [1, 3.24, 4, 0, 1]
#   -> clipped v_loss = 0.5 * 9.24 / 5 = 0.924
# entropy mean = 0.3; loss = pg - 0.01*0.3 + 0.5*v_loss
RATIOS = [1.5, 0.5, 1.1, 0.7, 1.5]
ADV = [2.0, -1.0, 1.0, 3.0, -1.0]
NEW_V = [1.0, 2.0, 3.0, 0.0, 0.0]
OLD_V = [0.5, 4.0, 2.5, 0.0, 0.5]
RET = [0.0, 2.0, 1.0, 0.0, 1.0]
ENT = [0.1, 0.2, 0.3, 0.4, 0.5]


def _hand_inputs():
    old = torch.tensor([-1.0, -0.5, -2.0, -0.3, -1.2])
    new = old + torch.tensor(RATIOS).log()
    return {
        "new_log_probs": new,
        "old_log_probs": old,
        "advantages": torch.tensor(ADV),
        "new_values": torch.tensor(NEW_V),
        "old_values": torch.tensor(OLD_V),
        "returns": torch.tensor(RET),
        "entropy": torch.tensor(ENT),
    }


def test_ppo_loss_hand_computed():
    terms = ppo_loss(**_hand_inputs(), clip_coef=0.2, vf_coef=0.5, ent_coef=0.01)
    assert terms.pg_loss.item() == pytest.approx(-0.66, abs=1e-6)
    assert terms.v_loss.item() == pytest.approx(0.6, abs=1e-6)
    assert terms.entropy_loss.item() == pytest.approx(0.3, abs=1e-6)
    assert terms.clipfrac.item() == pytest.approx(0.8, abs=1e-6)
    assert terms.loss.item() == pytest.approx(-0.66 - 0.01 * 0.3 + 0.5 * 0.6, abs=1e-6)
    kl = sum((r - 1) - math.log(r) for r in RATIOS) / 5
    assert terms.approx_kl.item() == pytest.approx(kl, abs=1e-6) and terms.approx_kl.item() > 0

    clipped = ppo_loss(
        **_hand_inputs(),
        clip_coef=0.2,
        vf_coef=0.5,
        ent_coef=0.01,
        clip_value_loss=True,
    )
    assert clipped.v_loss.item() == pytest.approx(0.924, abs=1e-6)
    assert clipped.pg_loss.item() == pytest.approx(-0.66, abs=1e-6)


def test_ppo_loss_on_policy_kl_zero():
    inputs = _hand_inputs()
    inputs["new_log_probs"] = inputs["old_log_probs"].clone()
    terms = ppo_loss(**inputs, clip_coef=0.2, vf_coef=0.5, ent_coef=0.0)
    assert terms.approx_kl.item() == 0.0
    assert terms.clipfrac.item() == 0.0
    assert terms.pg_loss.item() == pytest.approx(-sum(ADV) / 5, abs=1e-6)  # ratio = 1: pg_loss = -mean(A)


@pytest.mark.parametrize("clip_value_loss", [False, True])
def test_ppo_loss_mask_equals_subset(clip_value_loss):
    gen = torch.Generator().manual_seed(1)
    M = 12
    inputs = {
        "new_log_probs": torch.randn(M, generator=gen),
        "old_log_probs": torch.randn(M, generator=gen),
        "advantages": torch.randn(M, generator=gen),
        "new_values": torch.randn(M, generator=gen),
        "old_values": torch.randn(M, generator=gen),
        "returns": torch.randn(M, generator=gen),
        "entropy": torch.rand(M, generator=gen),
    }
    inputs["new_log_probs"][3] = float("nan")  # a masked-out garbage entry must not leak
    mask = torch.rand(M, generator=gen) < 0.6
    mask[3] = False
    kw = {
        "clip_coef": 0.2,
        "vf_coef": 0.5,
        "ent_coef": 0.01,
        "clip_value_loss": clip_value_loss,
    }
    subset = ppo_loss(**{k: v[mask] for k, v in inputs.items()}, **kw)
    for m in (mask, mask.float()):
        masked = ppo_loss(**inputs, **kw, mask=m)
        for got, want in zip(masked, subset, strict=True):
            torch.testing.assert_close(got, want)

    empty = ppo_loss(**inputs, **kw, mask=torch.zeros(M, dtype=torch.bool))
    assert all(torch.isfinite(t) and t.item() == 0.0 for t in empty)


def test_ppo_loss_gradients():
    inputs = _hand_inputs()
    inputs["new_log_probs"].requires_grad_(True)
    inputs["new_values"].requires_grad_(True)
    terms = ppo_loss(**inputs, clip_coef=0.2, vf_coef=0.5, ent_coef=0.01, clip_value_loss=True)
    terms.loss.backward()
    g_logp = inputs["new_log_probs"].grad
    # d pg_loss / d logp_i = -A_i * ratio_i / M where the unclipped branch is active, 0 where clipped (rows 0, 1)
    expected = torch.tensor([0.0, 0.0, -1.0 * 1.1, -3.0 * 0.7, 1.0 * 1.5]) / 5
    torch.testing.assert_close(g_logp, expected)
    # d (0.5 * v_loss) / dV_i = 0.5 * 0.5 * 2 * (V - R) / M on rows where the unclipped term wins (not row 1)
    expected_v = 0.5 * torch.tensor([1.0, 0.0, 2.0, 0.0, -1.0]) / 5
    torch.testing.assert_close(inputs["new_values"].grad, expected_v)
    assert not terms.approx_kl.requires_grad and not terms.clipfrac.requires_grad


def test_normalize_advantages():
    adv = torch.tensor([1.0, 100.0, 2.0, 3.0, -50.0])
    mask = torch.tensor([True, False, True, True, False])
    out = normalize_advantages(adv, mask)
    # masked-in [1, 2, 3]: mean 2, unbiased std 1 -> [-1, 0, 1]
    torch.testing.assert_close(out, torch.tensor([-1.0, 0.0, 0.0, 1.0, 0.0]))
    assert adv[1].item() == 100.0  # not modified in place
    full = normalize_advantages(torch.tensor([1.0, 2.0, 3.0]))
    torch.testing.assert_close(full, torch.tensor([-1.0, 0.0, 1.0]))
    assert torch.equal(normalize_advantages(adv, torch.zeros(5)), torch.zeros(5))


def test_normalize_advantages_std_floor():
    noise = torch.tensor([1e-6, 2e-6, 3e-6])
    # divided by the floor, not by their own std: noise stays noise-sized
    torch.testing.assert_close(normalize_advantages(noise, min_std=1e-3), torch.tensor([-1e-3, 0.0, 1e-3]))
    torch.testing.assert_close(normalize_advantages(noise), torch.tensor([-1.0, 0.0, 1.0]), rtol=0, atol=0.02)
    # a floor below the std changes nothing
    signal = torch.tensor([1.0, 2.0, 3.0])
    torch.testing.assert_close(normalize_advantages(signal, min_std=0.5), torch.tensor([-1.0, 0.0, 1.0]))


def test_explained_variance():
    y = torch.tensor([1.0, 2.0, 4.0, 8.0])
    assert explained_variance(y, y) == pytest.approx(1.0)
    assert explained_variance(torch.full_like(y, y.mean().item()), y) == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(explained_variance(y, torch.ones(4)))
    mask = torch.tensor([True, True, False, False])
    assert explained_variance(torch.tensor([1.0, 2.0, 0.0, 0.0]), y, mask) == pytest.approx(1.0)
