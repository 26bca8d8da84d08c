"""``relayrl export``: load one policy of an experiment, write it as ONNX, check the file against torch.

The experiment, checkpoint and policy are chosen as in ``relayrl enjoy`` (cli/policy_choice.py); the
ONNX writing and the onnxruntime check are library code in ``relayrl/export/``.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import gymnasium as gym

from relayrl.cli.parsing import parse
from relayrl.cli.policy_choice import PolicyChoice, load_choice
from relayrl.config import ConfigError
from relayrl.envs.factory import probe_env
from relayrl.evaluation import policy_from_spaces
from relayrl.experiment import Experiment
from relayrl.export.check import ParityReport, check_parity
from relayrl.export.onnx import export_onnx, require_export_packages
from relayrl.models import ActorCritic
from relayrl.utils.logs import setup_logging

log = logging.getLogger("relayrl.export")


@dataclasses.dataclass(frozen=True)
class ExportConfig(PolicyChoice):
    """Export a trained relayrl policy (deterministic action and value) for inference without relayrl."""

    format: Literal["onnx"] = "onnx"
    """File format of the export."""

    output: str | None = None
    """Where to write the file (default: ``<experiment_dir>/policy.onnx``; ``policy_<k>.onnx`` for
    ``--policy k`` with k > 0)."""

    check_samples: int = 256
    """After writing, run the file with onnxruntime on this many observations sampled from the
    observation space and compare with the torch policy; a mismatch fails the command (0: skip)."""

    @property
    def output_path(self) -> Path:
        if self.output:
            return Path(self.output)
        return Experiment(self.train_dir, self.experiment).onnx_path_of(self.policy or 0)


@dataclasses.dataclass
class LoadedPolicy:
    """A trained model with its spaces and a description of where it came from."""

    model: ActorCritic
    obs_space: gym.Space
    action_space: gym.Space
    metadata: dict[str, str]
    checkpoint: str
    """The checkpoint file it was read from."""
    policy_id: int


@dataclasses.dataclass
class ExportResult:
    """What ``export_experiment`` returns."""

    path: Path
    seconds: float
    parity: ParityReport | None
    checkpoint: str = ""
    """The checkpoint file the policy came from."""
    policy_id: int = 0


class ExportCheckError(RuntimeError):
    """The written file does not reproduce the torch policy."""


def load_policy(cfg: ExportConfig) -> LoadedPolicy:
    """The chosen policy's model (from the experiment's config.json and checkpoint) and its env's spaces."""
    loaded = load_choice(cfg)
    train_cfg = loaded.train_cfg
    obs_space, action_space, _ = probe_env(train_cfg)  # a multi-agent env: its agents' (common) spaces
    model = policy_from_spaces(train_cfg, obs_space, action_space, loaded.data, loaded.policy_id)
    metadata = {
        "experiment": cfg.experiment,
        "env": train_cfg.env,
        "checkpoint": Path(loaded.path).name,
        "policy": str(loaded.policy_id),
        "policy_version": str(loaded.policy_version if loaded.policy_version is not None else ""),
        "env_steps": str(loaded.data.get("env_steps", "")),
    }
    return LoadedPolicy(model, obs_space, action_space, metadata, loaded.path, loaded.policy_id)


def export_experiment(cfg: ExportConfig) -> ExportResult:
    """Write the chosen policy to ``cfg.output_path``; raise ``ExportCheckError`` when the
    onnxruntime check finds a difference (ConfigError for bad input or missing packages)."""
    if cfg.check_samples < 0:
        raise ConfigError(f"--check-samples must be >= 0 (got {cfg.check_samples}).")
    require_export_packages()
    policy = load_policy(cfg)
    t0 = time.monotonic()
    path = export_onnx(policy.model, policy.obs_space, policy.action_space, cfg.output_path, policy.metadata)
    seconds = time.monotonic() - t0
    parity = None
    if cfg.check_samples:
        parity = check_parity(policy.model, policy.obs_space, policy.action_space, path, cfg.check_samples)
        if not parity.ok():
            raise ExportCheckError(f"{path} does not reproduce the torch policy: {parity.describe()}")
        log.info("onnxruntime matches torch on %s", parity.describe())
    return ExportResult(path, seconds, parity, policy.checkpoint, policy.policy_id)


def format_export(result: ExportResult) -> str:
    """The block the CLI prints."""
    lines = [
        f"onnx file:    {result.path}",
        f"exported:     policy {result.policy_id} of {result.checkpoint}",
        f"export time:  {result.seconds:.1f} s",
    ]
    if result.parity is not None:
        lines.append(f"check:        {result.parity.describe()}")
    lines.append("run it:       see docs/export.md (onnxruntime only)")
    return "\n".join(lines)


def run(argv: Sequence[str]) -> int:
    """``relayrl export`` flags -> the file; exit 1 when the written file fails its check."""
    cfg = parse(ExportConfig, argv, "export")
    setup_logging("main")
    try:
        result = export_experiment(cfg)
    except ExportCheckError as exc:
        print(f"relayrl: export failed: {exc}", file=sys.stderr)
        return 1
    print(format_export(result))
    return 0
