"""ONNX export of a trained policy: the deterministic action and the value, normalization folded in.

The exported graph runs the same ``ActorCritic.act(..., deterministic=True)`` the trainer and
``relayrl enjoy`` run, traced by ``torch.onnx.export`` (the torch.export-based exporter, which
needs ``onnx`` and ``onnxscript``), so the running observation statistics, uint8 scaling, one-hot
encoding of Discrete observations and the denormalization of the value are inside the file.

Inputs (batch dim first; see ``relayrl/export/spaces.py``): ``obs`` or one ``obs.<key>`` per leaf
of a Dict space, in the env's dtype; recurrent models also take ``rnn_state [B, S]``.
Outputs:

- ``action``: what ``env.step`` gets. Discrete ``[B]`` int64 (argmax of the logits; relayrl
  trains only spaces that start at 0), MultiDiscrete ``[B, K]`` int64, Box ``[B, D]`` float32: the Gaussian mean
  clipped to the space's bounds, as the rollout workers clip it before stepping the env;
- ``action_unclipped`` (Box only): the Gaussian mean itself;
- ``value``: ``[B]`` float32, the critic's estimate in return units (denormalized);
- ``rnn_state_out`` (recurrent only): ``[B, S]``, the state to feed back at the next step. The
  caller zeroes a row at the start of each episode (the trainer's ``starts`` flag does exactly that).

Argmax ties resolve to the lowest index in both torch and ONNX (``ArgMax`` with
``select_last_index=0``); two logits equal to within float rounding may still resolve differently.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import time
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path

import gymnasium as gym
import torch
from torch import Tensor, nn

from relayrl.config import ConfigError
from relayrl.export.spaces import ObsInput, nest_obs, obs_inputs, space_to_json
from relayrl.models import ActorCritic

log = logging.getLogger("relayrl.export")

OPSET = 18
"""ONNX opset of exported files (onnxruntime 1.14 and newer run it)."""

EXPORT_PACKAGES = ("onnx", "onnxscript", "onnxruntime")
INSTALL_HINT = "pip install 'relayrl[export]'"
_EXAMPLE_BATCH = 2  # torch.export specializes a dim of size 1, so the example batch has 2 rows


def require_export_packages() -> None:
    """Raise ``ConfigError`` with the install hint when a package the export needs is missing."""
    missing = []
    for name in EXPORT_PACKAGES:
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise ConfigError(f"ONNX export needs the packages {', '.join(missing)}; install them with {INSTALL_HINT}.")
    if not _torch_has_dynamo_export():
        raise ConfigError(f"ONNX export needs torch 2.6 or newer (found {torch.__version__}); upgrade torch.")


def _torch_has_dynamo_export() -> bool:
    major, minor = (int(p) for p in torch.__version__.split(".")[:2])
    return (major, minor) >= (2, 6)


class ExportedPolicy(nn.Module):
    """``ActorCritic`` -> deterministic policy with flat named tensor inputs and outputs (see module doc)."""

    low: Tensor
    high: Tensor

    def __init__(self, model: ActorCritic, obs_space: gym.Space, action_space: gym.Space) -> None:
        super().__init__()
        self.model = model
        self.inputs: list[ObsInput] = obs_inputs(obs_space)
        self.recurrent = model.rnn_state_size > 0
        self.box = isinstance(action_space, gym.spaces.Box)
        if self.box:
            assert isinstance(action_space, gym.spaces.Box)
            self.register_buffer("low", torch.as_tensor(action_space.low, dtype=torch.float32))
            self.register_buffer("high", torch.as_tensor(action_space.high, dtype=torch.float32))

    @property
    def input_names(self) -> list[str]:
        return [spec.name for spec in self.inputs] + (["rnn_state"] if self.recurrent else [])

    @property
    def output_names(self) -> list[str]:
        names = ["action", "action_unclipped"] if self.box else ["action"]
        return names + ["value"] + (["rnn_state_out"] if self.recurrent else [])

    def forward(self, *tensors: Tensor) -> tuple[Tensor, ...]:
        """``tensors`` in ``input_names`` order -> outputs in ``output_names`` order."""
        n = len(self.inputs)
        obs = nest_obs(self.inputs, tensors[:n])
        state = tensors[n] if self.recurrent else None
        res = self.model.act(obs, state, None, deterministic=True)
        outs: list[Tensor] = []
        if self.box:
            outs += [torch.maximum(torch.minimum(res.actions, self.high), self.low), res.actions]
        else:
            outs.append(res.actions)
        outs.append(res.values)
        if self.recurrent:
            assert res.rnn_state is not None
            outs.append(res.rnn_state)
        return tuple(outs)

    def example_inputs(self, batch: int = _EXAMPLE_BATCH) -> tuple[Tensor, ...]:
        """Zero tensors of the input shapes and dtypes, ``batch`` rows each."""
        xs = [torch.zeros((batch,) + spec.shape, dtype=spec.dtype) for spec in self.inputs]
        if self.recurrent:
            xs.append(torch.zeros(batch, self.model.rnn_state_size))
        return tuple(xs)


def export_metadata(
    policy: ExportedPolicy, obs_space: gym.Space, action_space: gym.Space, extra: Mapping[str, str] | None
) -> dict[str, str]:
    """The ``metadata_props`` of an exported file: spaces (JSON), relayrl version, inputs, outputs."""
    from relayrl.version import __version__

    action = "mean clipped to the Box bounds" if policy.box else "argmax"
    props = {
        "relayrl_version": __version__,
        "observation_space": json.dumps(space_to_json(obs_space)),
        "action_space": json.dumps(space_to_json(action_space)),
        "inputs": json.dumps(policy.input_names),
        "outputs": json.dumps(policy.output_names),
        "action": action,
        "recurrent": json.dumps(policy.recurrent),
        "rnn_state_size": str(policy.model.rnn_state_size),
    }
    for key, value in (extra or {}).items():
        props[str(key)] = str(value)
    return props


def export_onnx(
    model: ActorCritic,
    obs_space: gym.Space,
    action_space: gym.Space,
    path: str | os.PathLike[str],
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write ``model``'s deterministic policy and value to ``path`` as one self-contained ONNX file.

    ``model`` is not changed (a CPU copy is exported); the batch dim of every input and output is
    dynamic. ``metadata`` entries are added to the file's ``metadata_props`` next to the spaces and
    the relayrl version. Raises ``ConfigError`` when the export packages are missing.
    """
    require_export_packages()
    import onnx

    policy = ExportedPolicy(copy.deepcopy(model).cpu().eval(), obs_space, action_space).eval()
    args = policy.example_inputs()
    batch = torch.export.Dim("batch")
    t0 = time.monotonic()
    try:
        with torch.no_grad(), _quiet_exporter():
            program = torch.onnx.export(
                policy,
                args,
                dynamo=True,
                input_names=policy.input_names,
                output_names=policy.output_names,
                dynamic_shapes=(tuple({0: batch} for _ in args),),  # one entry: the varargs of forward
                opset_version=OPSET,
                external_data=False,
                verbose=False,
            )
    except ModuleNotFoundError as exc:  # e.g. onnxscript 0.5 lacks the module for torch 2.11+
        if not (exc.name or "").startswith("onnxscript"):
            raise
        import onnxscript

        raise ConfigError(
            f"onnxscript {onnxscript.__version__} is too old for torch {torch.__version__} (no module {exc.name}); "
            "upgrade it: pip install -U onnxscript"
        ) from exc
    assert program is not None
    proto = program.model_proto
    onnx.helper.set_model_props(proto, export_metadata(policy, obs_space, action_space, metadata))
    proto.doc_string = "relayrl policy: deterministic action and value; see metadata_props"
    onnx.checker.check_model(proto)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    try:
        onnx.save_model(proto, str(tmp))
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("exported %s (%.0f kB) in %.1f s", out, out.stat().st_size / 1024, time.monotonic() - t0)
    return out


_EXPORTER_LOGGERS = ("torch.onnx", "torch.export", "torch._export", "onnxscript", "onnx_ir")


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Lowers the exporter's loggers to errors and mutes its warnings while it runs: they are about
    the exporter itself (absent torchvision ops, renamed axes, deprecations), nothing a user can act on."""
    loggers = [logging.getLogger(name) for name in _EXPORTER_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
