"""The learner's Adam: torch's fused Adam kernel without ``torch.optim``.

``torch.optim.Adam`` imports ``torch._dynamo`` the first time one of its methods runs, its constructor
included: about 1.2 s of CPU at the start of every run, beside the rollout workers starting on the
same cores. ``FusedAdam`` runs the kernel of ``torch.optim.Adam(params, lr=lr, eps=eps, fused=True)``
(``torch._fused_adam_``, after adding 1 to each ``step``) on the same state, so the same arithmetic bit
for bit, and reads and writes the same ``state_dict`` (checkpoints load in either). It also skips the
Python work that ``Optimizer.step`` repeats at every call (about 0.2 ms, a tenth of a small MLP's
closed-form minibatch step on CPU). ``build_adam`` falls back to ``torch.optim.Adam`` where this torch
has no fused kernel for the parameters' device and dtype.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

UNSUPPORTED = ("amsgrad", "weight_decay", "maximize", "capturable", "differentiable", "decoupled_weight_decay")
"""``torch.optim.Adam`` options ``FusedAdam`` does not have (all off in its state dicts)."""


class FusedAdam:
    """``torch.optim.Adam(params, lr=lr, eps=eps, fused=True)`` with one parameter group: ``param_groups``,
    ``state``, ``step``, ``zero_grad``, ``state_dict`` and ``load_state_dict`` as torch has them."""

    def __init__(self, params: Sequence[Tensor], lr: float, eps: float, betas: tuple[float, float] = (0.9, 0.999)):
        group: dict[str, Any] = {"lr": lr, "betas": betas, "eps": eps, "foreach": None, "fused": True}
        group.update({name: 0 if name == "weight_decay" else False for name in UNSUPPORTED})
        group["params"] = list(params)
        self.param_groups = [group]
        self.state: dict[Tensor, dict[str, Tensor]] = {}
        self._lists: tuple[list[Tensor], ...] | None = None
        """Every parameter's ``exp_avg``, ``exp_avg_sq`` and ``step``, once all have state on one device
        and dtype (then a step is one call of the kernel)."""

    def _state_of(self, p: Tensor) -> dict[str, Tensor]:
        state = self.state.get(p)
        if state is None:  # created at a parameter's first step, as torch does
            state = self.state[p] = {
                "step": torch.zeros((), dtype=torch.float32, device=p.device),
                "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
            }
        return state

    @torch.no_grad()
    def step(self) -> None:
        """One Adam step of every parameter that has a gradient."""
        params = self.param_groups[0]["params"]
        grads = [p.grad for p in params]
        if self._lists is not None and all(g is not None for g in grads):  # the usual step: the lists kept
            self._kernel(params, grads, *self._lists)  # type: ignore[arg-type]
            return
        kinds: dict[tuple[torch.device, torch.dtype], tuple[list[Tensor], ...]] = {}
        for p, grad in zip(params, grads, strict=True):
            if grad is None:
                continue
            state = self._state_of(p)
            lists = kinds.setdefault((p.device, p.dtype), ([], [], [], [], []))
            for into, tensor in zip(
                lists, (p, grad, state["exp_avg"], state["exp_avg_sq"], state["step"]), strict=True
            ):
                into.append(tensor)
        for lists in kinds.values():
            self._kernel(*lists)
        if len(kinds) == 1 and len(self.state) == len(params):
            states = [self.state[p] for p in params]
            self._lists = tuple([s[k] for s in states] for k in ("exp_avg", "exp_avg_sq", "step"))

    def _kernel(
        self,
        params: list[Tensor],
        grads: list[Tensor],
        exp_avgs: list[Tensor],
        exp_avg_sqs: list[Tensor],
        steps: list[Tensor],
    ) -> None:
        group = self.param_groups[0]
        beta1, beta2 = group["betas"]
        torch._foreach_add_(steps, 1)
        torch._fused_adam_(
            params,
            grads,
            exp_avgs,
            exp_avg_sqs,
            [],
            steps,
            amsgrad=False,
            lr=group["lr"],
            beta1=beta1,
            beta2=beta2,
            weight_decay=0.0,
            eps=group["eps"],
            maximize=False,
            grad_scale=None,
            found_inf=None,
        )

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.param_groups[0]["params"]:
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.detach_().requires_grad_(False).zero_()

    def state_dict(self) -> dict[str, Any]:
        """``torch.optim.Adam``'s format: the state by parameter index, the group with indices for
        parameters (the state tensors themselves, not copies)."""
        params = self.param_groups[0]["params"]
        index = {id(p): i for i, p in enumerate(params)}
        group = {k: v for k, v in self.param_groups[0].items() if k != "params"}
        group["params"] = list(range(len(params)))
        return {"state": {index[id(p)]: s for p, s in self.state.items()}, "param_groups": [group]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """A state dict of this class or of ``torch.optim.Adam`` over the same parameters. As torch does,
        the saved hyperparameters (``lr``, ``betas``, ``eps``) replace the current ones and the state
        tensors move to their parameter's device and dtype (``step``: float32), shared when already there."""
        groups = state_dict["param_groups"]
        params = self.param_groups[0]["params"]
        if len(groups) != 1 or len(groups[0]["params"]) != len(params):
            raise ValueError("the loaded optimizer state is of a different set of parameters than this model's")
        saved = groups[0]
        if any(saved.get(name) for name in UNSUPPORTED):
            on = [name for name in UNSUPPORTED if saved.get(name)]
            raise ValueError(f"the loaded optimizer state uses Adam options this learner does not have: {on}")
        by_index = dict(zip(saved["params"], params, strict=True))
        self.state, self._lists = {}, None
        for i, state in state_dict["state"].items():
            p = by_index[i]
            self.state[p] = {
                "step": state["step"].to(dtype=torch.float32, device=p.device),
                "exp_avg": state["exp_avg"].to(dtype=p.dtype, device=p.device),
                "exp_avg_sq": state["exp_avg_sq"].to(dtype=p.dtype, device=p.device),
            }
        group = self.param_groups[0]
        for key in ("lr", "betas", "eps"):
            group[key] = saved[key]
        group["betas"] = tuple(group["betas"])


def fused_kernel_runs(params: Sequence[Tensor]) -> bool:
    """Whether this torch's ``torch._fused_adam_`` runs on the parameters' devices and dtypes (tried once
    on a one-element tensor of each)."""
    for device, dtype in {(p.device, p.dtype) for p in params}:
        if not dtype.is_floating_point or not hasattr(torch, "_fused_adam_"):
            return False
        probe = torch.zeros(1, dtype=dtype, device=device)
        probe.grad = torch.zeros_like(probe)
        try:
            FusedAdam([probe], lr=0.0, eps=1e-8).step()
        except (RuntimeError, NotImplementedError, TypeError):
            return False
    return True


def build_adam(params: Sequence[Tensor], lr: float, eps: float) -> FusedAdam | torch.optim.Adam:
    """``FusedAdam`` where the fused kernel runs; else ``torch.optim.Adam`` (fused where torch has it for
    these parameters, its per-parameter loop otherwise: with small networks that loop was 18% of the
    learner's time, by py-spy on CartPole)."""
    if fused_kernel_runs(params):
        return FusedAdam(params, lr=lr, eps=eps)
    try:
        return torch.optim.Adam(params, lr=lr, eps=eps, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr, eps=eps)
