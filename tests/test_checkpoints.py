import logging

import torch

from relayrl.learning import checkpoints


def _state(version, steps):
    return {"policy_version": version, "env_steps": steps, "w": torch.full((3,), float(version))}


def test_keep_last_k_and_load_latest(tmp_path):
    for v in range(1, 6):
        checkpoints.save_checkpoint(tmp_path, _state(v, v * 100), keep=2)
    names = [p.name for p in checkpoints.list_checkpoints(tmp_path)]
    assert names == ["checkpoint_000000004_400.pt", "checkpoint_000000005_500.pt"]
    state = checkpoints.load_latest(tmp_path)
    assert state["policy_version"] == 5 and torch.equal(state["w"], torch.full((3,), 5.0))
    assert not list(checkpoints.checkpoint_dir(tmp_path).glob("*.tmp"))


def test_corrupt_latest_falls_back_with_warning(tmp_path, caplog):
    checkpoints.save_checkpoint(tmp_path, _state(1, 100), keep=3)
    latest = checkpoints.save_checkpoint(tmp_path, _state(2, 200), keep=3)
    latest.write_bytes(latest.read_bytes()[:20])  # truncated
    with caplog.at_level(logging.WARNING, logger="relayrl.checkpoints"):
        state = checkpoints.load_latest(tmp_path)
    assert state["policy_version"] == 1
    assert "unreadable" in caplog.text


def test_best_and_fallback_to_latest(tmp_path):
    assert checkpoints.load_checkpoint(tmp_path, "best") is None
    checkpoints.save_checkpoint(tmp_path, _state(3, 300), keep=3)
    assert checkpoints.load_checkpoint(tmp_path, "best")["policy_version"] == 3
    checkpoints.save_best(tmp_path, _state(2, 200))
    assert checkpoints.load_checkpoint(tmp_path, "best")["policy_version"] == 2
    assert checkpoints.load_checkpoint(tmp_path, "latest")["policy_version"] == 3
