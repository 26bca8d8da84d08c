"""``--device cuda``: training, resuming across devices, and evaluating a GPU-trained policy.

Skipped on machines without CUDA; run them where there is a GPU with ``pytest tests/test_cuda.py``.
"""

from __future__ import annotations

import pytest
import torch
from conftest import fast_config

import relayrl
from relayrl.cli.enjoy import EnjoyConfig, enjoy
from relayrl.config import Config
from relayrl.envs.factory import probe_spaces
from relayrl.learning.learner import Learner

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def small(tmp_path, device: str, steps: int, **changes) -> Config:
    """This module's runs: two workers on ``device`` for ``steps`` env steps."""
    return fast_config(tmp_path, device=device, train_for_env_steps=steps, sampling__num_workers=2, **changes)


def _saved_learner(summary) -> dict:
    return torch.load(summary.checkpoint, map_location="cpu", weights_only=True)["policies"][0]["learner"]


@pytest.mark.timeout(180)
@pytest.mark.parametrize("serial", [True, False])
def test_cuda_run_learns_and_saves_cpu_loadable_checkpoint(tmp_path, serial):
    cfg = small(
        tmp_path,
        "cuda",
        40_000,
        sampling__backend=("serial" if serial else "local"),
        sampling__num_envs_per_worker=8,
        sampling__rollout_length=32,
    )
    summary = relayrl.train(cfg)
    assert summary.env_steps >= 40_000
    assert summary.stats["reward_mean"] > 100, summary.stats  # random play averages about 22
    learner = _saved_learner(summary)
    assert learner["return_stats"]["count"] > 1000  # the advantage floor's statistics were updated on the GPU
    # The checkpoint was written from CUDA tensors; it must load into a CPU learner without a GPU.
    cpu = Learner(cfg, *probe_spaces(cfg), torch.device("cpu"))
    cpu.load_state_dict(learner)
    assert all(p.device.type == "cpu" for p in cpu.model.parameters())
    assert all(s["exp_avg"].device.type == "cpu" for s in cpu.optimizer.state.values())


@pytest.mark.timeout(180)
def test_resume_moves_between_cpu_and_cuda(tmp_path):
    first = relayrl.train(small(tmp_path, "cpu", 2048, sampling__backend="serial"))
    second = relayrl.train(small(tmp_path, "cuda", 4096, sampling__backend="serial"))
    # evaluation (on the CPU) of the policy the cuda learner saved
    result = enjoy(EnjoyConfig(experiment="e", train_dir=str(tmp_path), num_episodes=2, checkpoint="latest"))
    assert len(result.returns) == 2
    third = relayrl.train(small(tmp_path, "cpu", 6144, sampling__backend="serial"))
    assert (first.env_steps, second.env_steps, third.env_steps) == (2048, 4096, 6144)
    assert second.policy_version == 2 * first.policy_version
    assert third.policy_version == 3 * first.policy_version
    # A CPU-written checkpoint loads into a CUDA learner with Adam's moments on the GPU.
    cfg = small(tmp_path, "cuda", 6144)
    gpu = Learner(cfg, *probe_spaces(cfg), torch.device("cuda"))
    gpu.load_state_dict(_saved_learner(third))
    assert gpu.optimizer.state and all(s["exp_avg"].is_cuda for s in gpu.optimizer.state.values())
    assert gpu.return_stats.var.is_cuda


@pytest.mark.timeout(180)
def test_recurrent_and_image_models_train_on_cuda(tmp_path):
    rnn = relayrl.train(small(tmp_path / "rnn", "cuda", 4096, model__use_rnn=True))
    assert rnn.env_steps >= 4096 and rnn.stats["episodes"] > 0
    pytest.importorskip("minigrid")
    grid = relayrl.train(small(tmp_path / "grid", "cuda", 4096, env="MiniGrid-Empty-5x5-v0"))
    assert grid.env_steps >= 4096 and grid.stats["episodes"] > 0
