"""Checkpoint files: atomic keep-N writes, best, fallback past corrupt files, the format version,
format-1 files, and files that would run code."""

import json
import logging
import os
import pickle
import shutil
from pathlib import Path

import pytest
import torch

from relayrl.config import Config, replace
from relayrl.errors import ConfigError
from relayrl.experiment import Experiment
from relayrl.learning.learner import Learner
from relayrl.trainer import checkpointer as checkpoints
from relayrl.trainer.checkpointer import Checkpointer, UnsafeCheckpointError
from relayrl.trainer.episode_stats import EpisodeStatsWindow
from relayrl.trainer.policy_set import Policy, PolicySet
from relayrl.trainer.state import PolicyState, TrainState
from relayrl.worker.report import EpisodeRecord

DATA = Path(__file__).parent / "data"


class _FakeLearner:
    def __init__(self, version: int) -> None:
        self.policy_version = version

    def state_dict(self) -> dict:
        return {"w": torch.full((3,), float(self.policy_version)), "policy_version": self.policy_version}


def _one_policy(learner, state: TrainState, window: int = 100) -> PolicySet:
    """A set of one policy around ``learner`` (weights unused: checkpoints never publish)."""
    state.policies[0] = PolicyState()
    return PolicySet([Policy(0, learner, None, state.policies[0], EpisodeStatsWindow(window))])  # type: ignore[arg-type]


def _checkpointer(tmp_path, keep=3, version=0):
    exp = Experiment(tmp_path, "e")
    state = TrainState()
    learner = _FakeLearner(version)
    cfg = replace(Config(), checkpointing__keep_checkpoints=keep)
    ck = Checkpointer(exp, cfg.checkpointing, {"env": "x"}, state, _one_policy(learner, state), dict)
    return exp, state, learner, ck


def test_keep_last_k_and_load_latest(tmp_path):
    exp, state, learner, ck = _checkpointer(tmp_path, keep=2)
    for v in range(1, 6):
        learner.policy_version, state.env_steps = v, v * 100
        ck.save()
    assert [p.name for p in exp.checkpoints()] == ["checkpoint_000000004_400.pt", "checkpoint_000000005_500.pt"]
    data = checkpoints.load_latest(exp)
    assert data["format_version"] == checkpoints.FORMAT_VERSION and data["env_steps"] == 500
    policy = data["policies"][0]
    assert policy["policy_version"] == 5 and torch.equal(policy["learner"]["w"], torch.full((3,), 5.0))
    assert not list(exp.checkpoint_dir.glob("*.tmp"))
    assert ck.last_path == str(exp.checkpoints()[-1])


def test_corrupt_latest_falls_back_with_warning(tmp_path, caplog):
    exp, state, learner, ck = _checkpointer(tmp_path)
    learner.policy_version = 1
    ck.save()
    learner.policy_version = 2
    ck.save()
    latest = exp.checkpoints()[-1]
    latest.write_bytes(latest.read_bytes()[:20])  # truncated
    with caplog.at_level(logging.WARNING, logger="relayrl.checkpoints"):
        data = checkpoints.load_latest(exp)
    assert data["policies"][0]["policy_version"] == 1
    assert "unreadable" in caplog.text


def test_best_rule_and_fallback_to_latest(tmp_path):
    exp, state, learner, ck = _checkpointer(tmp_path)
    assert checkpoints.load_checkpoint(exp, "best") is None
    learner.policy_version = 3
    ck.save()
    assert checkpoints.load_checkpoint(exp, "best")["policies"][0]["policy_version"] == 3  # no best yet: latest
    policy = ck.policies[0]

    def window_of(reward: float, episodes: int) -> EpisodeStatsWindow:
        window = EpisodeStatsWindow(100)
        window.add(EpisodeRecord(reward, 10) for _ in range(episodes))
        return window

    policy.window = window_of(10.0, 5)
    assert not ck.maybe_save_best(policy, window=100)  # too few episodes
    policy.window = window_of(float("nan"), 50)
    assert not ck.maybe_save_best(policy, window=100)
    learner.policy_version = 2
    policy.window = window_of(10.0, 50)
    assert ck.maybe_save_best(policy, window=100)
    policy.window = window_of(9.0, 50)
    assert not ck.maybe_save_best(policy, window=100)  # not better
    policy.window = window_of(3.0, 3)
    assert ck.maybe_save_best(policy, window=3) is False  # not better either, full window
    assert checkpoints.load_checkpoint(exp, "best")["policies"][0]["best_reward"] == 10.0
    assert checkpoints.load_checkpoint(exp, "best")["policies"][0]["policy_version"] == 2
    assert checkpoints.load_checkpoint(exp, "latest")["policies"][0]["policy_version"] == 3


def test_checkpoints_hold_only_tensors_and_plain_data(tmp_path):
    # what a real run writes loads with torch's weights-only unpickler and no allow-list
    cfg = replace(Config(env="CartPole-v1", train_dir=str(tmp_path)), training_info__reward_shaping={"a": {"b": 1.0}})
    exp = Experiment.of(cfg)
    learner = Learner(cfg, *_cartpole_spaces(), torch.device("cpu"))
    state = TrainState(curriculum_states={3: {"level": 2, "window": [1.0, 0.0]}})
    ck = Checkpointer(
        exp, cfg.checkpointing, cfg.to_dict(), state, _one_policy(learner, state), lambda: {"reward_mean": 1.0}
    )
    ck.save()
    data = torch.load(exp.checkpoints()[-1], weights_only=True)
    assert data["curriculum_states"][3]["level"] == 2 and data["policies"][0]["learner"]["optimizer"]["state"] == {}


def _cartpole_spaces():
    from relayrl.envs import probe_spaces

    return probe_spaces(Config(env="CartPole-v1"))


def test_format_1_checkpoint_loads_and_resumes(tmp_path):
    # written by relayrl before checkpoints were keyed by policy id (numpy RNG state inside)
    exp = Experiment(tmp_path, "old")
    exp.checkpoint_dir.mkdir(parents=True)
    shutil.copy(DATA / "format1_cartpole.pt", exp.checkpoint_dir / "checkpoint_000000016_2048.pt")
    shutil.copy(DATA / "format1_cartpole_config.json", exp.config_path)
    data = checkpoints.load_latest(exp)
    assert data["format_version"] == checkpoints.FORMAT_VERSION and data["env_steps"] == 2048
    policy = data["policies"][0]
    assert policy["policy_version"] == 16 and policy["reward_shaping"] == {"bonus": 0.5}
    assert policy["learner"]["policy_version"] == 16
    restored = TrainState.from_dict(data)
    assert restored.env_steps == 2048 and restored.policies[0].reward_shaping == {"bonus": 0.5}

    import relayrl

    saved = json.loads(exp.config_path.read_text())
    cfg = Config.from_dict(saved)
    cfg = replace(cfg, train_dir=str(tmp_path), train_for_env_steps=2048 + 512, logging__tensorboard=False)
    summary = relayrl.train(cfg)
    assert summary.env_steps == 2048 + 512 and summary.policy_version == 20


class _Payload:
    """Unpickling this creates the marker file: what a malicious checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    exp = Experiment(tmp_path, "e")
    exp.checkpoint_dir.mkdir(parents=True)
    path = exp.checkpoint_dir / "checkpoint_000000001_100.pt"
    torch.save({"format_version": 2, "payload": _Payload(marker)}, path, pickle_protocol=2)
    with pytest.raises(UnsafeCheckpointError, match=r"refusing to load checkpoint .* would import .*system"):
        checkpoints.load_latest(exp)
    assert not marker.exists()
    # a plain pickle file (not a torch zip) is refused too
    path.write_bytes(pickle.dumps(_Payload(marker), protocol=2))
    with pytest.raises((UnsafeCheckpointError, ConfigError)):
        checkpoints.load_checkpoint(exp, str(path))
    assert not marker.exists()


def test_a_newer_format_is_refused_with_a_message(tmp_path):
    exp = Experiment(tmp_path, "e")
    exp.checkpoint_dir.mkdir(parents=True)
    torch.save({"format_version": 99}, exp.checkpoint_dir / "checkpoint_000000001_100.pt")
    with pytest.raises(ConfigError, match="format 99, newer than this relayrl reads"):
        checkpoints.load_latest(exp)


def test_curriculum_states_with_numpy_values_round_trip_and_objects_are_left_out(tmp_path, caplog):
    exp, state, learner, ck = _checkpointer(tmp_path)
    import numpy as np

    good = {"level": np.int64(3), "window": np.array([0.5, 1.0], dtype=np.float32), "rng": {"state": 2**70}}
    with caplog.at_level(logging.WARNING, logger="relayrl.trainer"):
        state.update_curricula({0: good, 1: {"level": 1, "obj": object()}})
        state.update_curricula({2: {"obj": object()}})
    assert caplog.text.count("holds a object") == 1  # one warning per type
    ck.save()
    data = checkpoints.load_latest(exp)
    saved = data["curriculum_states"]
    assert set(saved) == {0}
    assert saved[0]["level"] == 3 and saved[0]["window"].tolist() == [0.5, 1.0] and saved[0]["rng"]["state"] == 2**70


def test_the_cli_refuses_a_crafted_checkpoint_with_exit_2_and_runs_nothing(tmp_path, capsys):
    from relayrl.cli.main import main

    marker = tmp_path / "pwned"
    train_dir = tmp_path / "runs"
    args = ["--env", "CartPole-v1", "--backend", "serial", "--num-workers", "1", "--num-envs-per-worker", "4"]
    args += ["--rollout-length", "16", "--train-for-env-steps", "256", "--train-dir", str(train_dir)]
    args += ["--experiment", "e", "--no-tensorboard", "--no-progress-bar"]
    assert main(["train", *args]) == 0
    exp = Experiment(train_dir, "e")
    crafted = {"format_version": 2, "payload": _Payload(marker)}
    torch.save(crafted, exp.best_checkpoint, pickle_protocol=2)  # a swapped best.pt
    torch.save(crafted, exp.checkpoint_path(99, 999_999), pickle_protocol=2)  # and a newer "latest"
    capsys.readouterr()
    assert main(["enjoy", "--experiment", "e", "--train-dir", str(train_dir)]) == 2
    err = capsys.readouterr().err
    assert "refusing to load checkpoint" in err and "system" in err and len(err.strip().splitlines()) == 1
    assert main(["train", *args, "--train-for-env-steps", "512"]) == 2  # the resume refuses it too
    assert "refusing to load checkpoint" in capsys.readouterr().err
    assert not marker.exists()
