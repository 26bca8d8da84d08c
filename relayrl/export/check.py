"""Run an exported file with onnxruntime next to the torch policy and measure how far they differ.

``relayrl export`` calls ``check_parity`` right after writing a file, on observations sampled from
the observation space, so a file that does not reproduce the policy is reported at once.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from relayrl.export.spaces import nest_obs, obs_inputs
from relayrl.models import ActorCritic


@dataclass(frozen=True)
class ParityReport:
    """Largest differences between onnxruntime and torch over ``samples`` observations."""

    samples: int
    continuous_actions: bool  # a Box action space
    action_max_abs_error: float  # continuous actions (both outputs); 0 for discrete ones
    action_mismatches: int  # discrete actions: rows whose action differs
    value_max_abs_error: float
    value_max_abs: float  # scale of the values (float32 resolution grows with it)
    rnn_state_max_abs_error: float  # 0 for feed-forward models

    def ok(self, tol: float = 1e-4) -> bool:
        """No discrete mismatch; continuous differences within ``tol`` (relative to the values' scale for values)."""
        value_tol = tol * max(1.0, self.value_max_abs)
        return (
            self.action_mismatches == 0
            and self.action_max_abs_error <= tol
            and self.value_max_abs_error <= value_tol
            and self.rnn_state_max_abs_error <= tol
        )

    def describe(self) -> str:
        if self.continuous_actions:
            actions = f"action max abs error {self.action_max_abs_error:.2e}"
        else:
            actions = f"action mismatches {self.action_mismatches}"
        text = (
            f"{self.samples} observations: {actions}, value max abs error "
            f"{self.value_max_abs_error:.2e} (values up to {self.value_max_abs:.3g})"
        )
        if self.rnn_state_max_abs_error:
            text += f", rnn state max abs error {self.rnn_state_max_abs_error:.2e}"
        return text


def sample_observations(obs_space: gym.Space, n: int, seed: int) -> dict[str, np.ndarray]:
    """``n`` observations drawn from ``obs_space``, as ``{input name: [n, ...] array}``."""
    obs_space.seed(seed)
    samples = [obs_space.sample() for _ in range(n)]
    out: dict[str, np.ndarray] = {}
    for spec in obs_inputs(obs_space):
        rows = []
        for sample in samples:
            for key in spec.path:
                sample = sample[key]
            rows.append(np.asarray(sample))
        out[spec.name] = np.stack(rows).astype(torch.empty(0, dtype=spec.dtype).numpy().dtype)
    return out


def _max_abs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max()) if a.size else 0.0


def check_parity(
    model: ActorCritic,
    obs_space: gym.Space,
    action_space: gym.Space,
    path: str | os.PathLike[str],
    samples: int = 256,
    steps: int = 3,
    seed: int = 0,
) -> ParityReport:
    """Compare the file at ``path`` with ``model.act(..., deterministic=True)`` on ``samples`` sampled
    observations; a recurrent model runs ``steps`` steps from a zero state, feeding its state back."""
    import onnxruntime as ort

    session = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    model = model.cpu().eval()
    specs = obs_inputs(obs_space)
    recurrent = model.rnn_state_size > 0
    box = isinstance(action_space, gym.spaces.Box)
    state = np.zeros((samples, model.rnn_state_size), np.float32)
    errors = {"action": 0.0, "value": 0.0, "state": 0.0, "scale": 0.0}
    mismatches = 0
    for step in range(steps if recurrent else 1):
        feed: dict[str, Any] = sample_observations(obs_space, samples, seed + step)
        obs = nest_obs(specs, tuple(torch.from_numpy(feed[s.name]) for s in specs))
        with torch.no_grad():
            ref = model.act(obs, torch.from_numpy(state) if recurrent else None, None, deterministic=True)
        if recurrent:
            feed["rnn_state"] = state
        got = dict(zip(names, session.run(None, feed), strict=True))
        actions = ref.actions.numpy()
        if box:
            assert isinstance(action_space, gym.spaces.Box)
            clipped = np.clip(actions, action_space.low, action_space.high)
            errors["action"] = max(
                errors["action"],
                _max_abs(got["action"], clipped),
                _max_abs(got["action_unclipped"], actions),
            )
        else:
            mismatches += int((got["action"].reshape(samples, -1) != actions.reshape(samples, -1)).any(-1).sum())
        values = ref.values.numpy()
        errors["value"] = max(errors["value"], _max_abs(got["value"], values))
        errors["scale"] = max(errors["scale"], float(np.abs(values).max()))
        if recurrent:
            assert ref.rnn_state is not None
            errors["state"] = max(errors["state"], _max_abs(got["rnn_state_out"], ref.rnn_state.numpy()))
            state = ref.rnn_state.numpy()
    for key, value in errors.items():
        if math.isnan(value):
            errors[key] = math.inf
    return ParityReport(
        samples=samples,
        continuous_actions=box,
        action_max_abs_error=errors["action"],
        action_mismatches=mismatches,
        value_max_abs_error=errors["value"],
        value_max_abs=errors["scale"],
        rnn_state_max_abs_error=errors["state"],
    )
