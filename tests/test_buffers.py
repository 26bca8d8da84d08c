import multiprocessing as mp

import gymnasium as gym
import numpy as np
import torch

from relayrl.shared.trajectories import TrajectoryBuffers
from relayrl.shared.weights import SharedWeights


def _alloc(shared=True):
    obs_space = gym.spaces.Dict({"img": gym.spaces.Box(0, 255, (3, 4, 4), np.uint8), "pos": gym.spaces.Discrete(5)})
    return TrajectoryBuffers.allocate(
        4, 3, 2, obs_space, gym.spaces.MultiDiscrete([2, 3]), rnn_state_size=0, shared=shared
    )


def test_layout_and_dtypes():
    b = _alloc()
    assert b.obs["img"].shape == (4, 4, 2, 3, 4, 4) and b.obs["img"].dtype == torch.uint8
    assert b.obs["pos"].shape == (4, 4, 2) and b.obs["pos"].dtype == torch.int64
    assert b.actions.shape == (4, 3, 2, 2) and b.actions.dtype == torch.int64
    assert b.rewards.shape == (4, 3, 2) and b.valid.all()
    assert b.rewards.is_shared() and b.obs["img"].is_shared()


def test_gather_puts_slots_side_by_side():
    b = _alloc(shared=False)
    for slot in range(4):
        b.rewards[slot] = torch.arange(6, dtype=torch.float32).reshape(3, 2) + 100 * slot
        b.bootstrap_value[slot] = torch.tensor([slot, slot + 0.5])
        b.policy_versions[slot] = 10 + slot
    batch = b.gather([2, 0])
    assert batch.rewards.shape == (3, 4) and (batch.num_steps, batch.num_columns) == (3, 4)
    # columns: slot 2 env 0, slot 2 env 1, slot 0 env 0, slot 0 env 1
    assert batch.rewards[1].tolist() == [202.0, 203.0, 2.0, 3.0]
    assert batch.bootstrap_value.tolist() == [2.0, 2.5, 0.0, 0.5]
    assert batch.policy_version.tolist() == [12, 12, 10, 10]  # per column
    assert batch.obs["img"].shape == (4, 4, 3, 4, 4)
    assert batch.obs_steps["img"].shape == (3, 4, 3, 4, 4)  # without the bootstrap row
    batch.rewards[0, 0] = -1.0
    assert b.rewards[2, 0, 0] == 200.0  # a copy, so slots can be reused at once


def _child_writes(buffers: TrajectoryBuffers, weights: SharedWeights) -> None:
    buffers.rewards[1].fill_(7.0)
    model = torch.nn.Linear(2, 1)
    assert weights.load_into(model, (-1, -1)) == (1, 5)
    buffers.values[0, 0, 0] = float(model.weight.sum())


def test_shared_memory_crosses_a_spawned_process():
    ctx = mp.get_context("spawn")
    b = _alloc()
    model = torch.nn.Linear(2, 1)
    weights = SharedWeights(model.state_dict(), ctx)
    with torch.no_grad():
        model.weight.fill_(0.25)
    weights.publish(model.state_dict(), 5)
    p = ctx.Process(target=_child_writes, args=(b, weights))
    p.start()
    p.join(timeout=60)
    assert p.exitcode == 0
    assert torch.all(b.rewards[1] == 7.0)
    assert b.values[0, 0, 0] == 0.5


def test_load_into_skips_when_the_held_weights_are_current():
    model = torch.nn.Linear(2, 1)
    weights = SharedWeights(model.state_dict())
    other = torch.nn.Linear(2, 1)
    weights.publish(other.state_dict(), 1)
    assert weights.load_into(model, (1, 1)) == (1, 1)  # serial 1 held: nothing copied
    assert not torch.equal(model.weight, other.weight)
    assert weights.load_into(model, (0, 0)) == (1, 1)
    assert torch.equal(model.weight, other.weight)


def test_weights_republished_under_the_same_version_are_loaded():
    # Mid-update publications keep the version of the last complete update but are new weights.
    model = torch.nn.Linear(2, 1)
    weights = SharedWeights(model.state_dict())
    weights.publish(model.state_dict(), 3)
    held = weights.load_into(model, (-1, -1))
    assert held == (1, 3)
    partial = torch.nn.Linear(2, 1)
    weights.publish(partial.state_dict(), 3)
    assert weights.load_into(model, held) == (2, 3)
    assert torch.equal(model.weight, partial.weight)


def test_a_module_is_published_and_loaded_through_its_own_tensors_as_they_change():
    """``publish_module`` / ``load_into`` look a module's tensors up once and copy them from then on:
    in-place updates (an optimizer step, ``load_state_dict``, a running statistic) reach the readers."""
    source = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    weights = SharedWeights(source.state_dict())
    reader = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    seen = []
    weights.subscribe(lambda tensors, version, serial: seen.append((version, serial)))
    held = (-1, -1)
    for version in range(1, 4):
        with torch.no_grad():
            source[0].weight.add_(1.0)  # in place, like an optimizer step
            source[1].running_mean.add_(0.5)  # a buffer
        weights.publish_module(source, version)
        held = weights.load_into(reader, held)
        assert held == (version, version)
        for key, value in source.state_dict().items():
            assert torch.equal(reader.state_dict()[key], value), key
    assert seen == [(1, 1), (2, 2), (3, 3)]
    other = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    weights.publish_module(other, 9)  # another module: its own tensors
    assert torch.equal(weights.tensors["0.weight"], other[0].weight.detach())


def test_a_module_of_other_keys_gets_load_state_dicts_error():
    weights = SharedWeights(torch.nn.Linear(2, 1).state_dict())
    weights.publish(torch.nn.Linear(2, 1).state_dict(), 1)
    wrong = torch.nn.Linear(3, 1)
    try:
        weights.load_into(wrong, (-1, -1))
    except RuntimeError as exc:
        assert "size mismatch" in str(exc)
    else:
        raise AssertionError("a module of another shape loaded the weights")
