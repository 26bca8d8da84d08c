"""FusedAdam: torch.optim.Adam(fused=True)'s arithmetic and state dicts, without importing torch._dynamo."""

import copy
import subprocess
import sys
import textwrap

import pytest
import torch

from relayrl.learning.adam import FusedAdam, build_adam


def run(optimizer_cls, loads, steps=7):
    """``steps`` Adam steps from the same weights and gradients; after step 3 the optimizer is rebuilt
    from a state dict (``loads``: "own" from its own, "torch" / "fused" through the other class)."""
    torch.manual_seed(0)
    params = [
        torch.nn.Parameter(torch.randn(4, 3)),
        torch.nn.Parameter(torch.randn(5)),
        torch.nn.Parameter(torch.randn(2)),
    ]
    make = {
        "fused": lambda: FusedAdam(params, lr=0.01, eps=1e-5),
        "torch": lambda: torch.optim.Adam(params, lr=0.01, eps=1e-5, fused=True),
    }
    optimizer = make[optimizer_cls]()
    g = torch.Generator().manual_seed(1)
    for i in range(steps):
        for k, p in enumerate(params):
            # the last parameter has no gradient in the first steps: no state, no update, as in torch
            p.grad = None if (k == 2 and i < 2) else torch.randn(p.shape, generator=g)
        optimizer.step()
        if i == 3:
            through = make[optimizer_cls if loads == "own" else loads]()
            through.load_state_dict(copy.deepcopy(optimizer.state_dict()))
            optimizer = make[optimizer_cls]()
            optimizer.load_state_dict(copy.deepcopy(through.state_dict()))
    return [p.detach().clone() for p in params], optimizer.state_dict()


def assert_same(a, b):
    (params_a, state_a), (params_b, state_b) = a, b
    for x, y in zip(params_a, params_b, strict=True):
        assert torch.equal(x, y)
    assert state_a["param_groups"] == state_b["param_groups"]
    assert state_a["state"].keys() == state_b["state"].keys()
    for key, per_param in state_b["state"].items():
        assert per_param.keys() == state_a["state"][key].keys()
        for name, tensor in per_param.items():
            mine = state_a["state"][key][name]
            assert torch.equal(mine, tensor) and mine.dtype == tensor.dtype and mine.shape == tensor.shape, name


@pytest.mark.parametrize("loads", ["own", "torch"])
def test_fused_adam_is_torch_fused_adam_bit_for_bit(loads):
    """The same weights and the same state dict as torch's fused Adam, also across a checkpoint round
    trip through either class (checkpoints written by one load into the other)."""
    reference = run("torch", "own")
    assert_same(run("fused", loads), reference)
    assert_same(run("torch", "fused"), reference)


def test_load_takes_the_saved_hyperparameters_as_torch_does():
    p = [torch.nn.Parameter(torch.ones(2))]
    saved = torch.optim.Adam(p, lr=0.5, eps=1e-3, betas=(0.8, 0.9), fused=True).state_dict()
    mine = FusedAdam(p, lr=0.1, eps=1e-8)
    mine.load_state_dict(saved)
    group = mine.param_groups[0]
    assert (group["lr"], group["eps"], group["betas"]) == (0.5, 1e-3, (0.8, 0.9)) and group["params"] == p


def test_load_refuses_other_parameters_and_options():
    p = [torch.nn.Parameter(torch.ones(2))]
    with pytest.raises(ValueError, match="different set of parameters"):
        FusedAdam(p, lr=0.1, eps=1e-8).load_state_dict(FusedAdam(p + p, lr=0.1, eps=1e-8).state_dict())
    with pytest.raises(ValueError, match="amsgrad"):
        FusedAdam(p, lr=0.1, eps=1e-8).load_state_dict(torch.optim.Adam(p, amsgrad=True).state_dict())


def test_build_adam_falls_back_to_torch_without_a_fused_kernel(monkeypatch):
    params = [torch.nn.Parameter(torch.ones(2))]
    assert isinstance(build_adam(params, 0.1, 1e-8), FusedAdam)

    def no_kernel(*args, **kwargs):
        raise NotImplementedError("no fused Adam for this device")

    monkeypatch.setattr(torch, "_fused_adam_", no_kernel)
    assert isinstance(build_adam(params, 0.1, 1e-8), torch.optim.Adam)


def test_a_learner_update_and_checkpoint_do_not_import_torch_dynamo():
    """torch.optim.Adam imports torch._dynamo (about 1.2 s of CPU) on its first method call; the learner's
    optimizer must not, through a whole update and a state dict (a fresh interpreter)."""
    code = textwrap.dedent(
        """
        import sys, gymnasium as gym, torch
        from relayrl.config import Config
        from relayrl.learning.learner import Learner
        learner = Learner(Config(env="CartPole-v1"), gym.spaces.Box(-1, 1, (4,)), gym.spaces.Discrete(2), torch.device("cpu"))
        for p in learner.params:
            p.grad = torch.ones_like(p)
        learner.optimizer.step()
        learner.load_state_dict(learner.state_dict())
        print("torch._dynamo" in sys.modules)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
