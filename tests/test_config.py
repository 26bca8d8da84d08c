import dataclasses

import pytest

from relayrl.config import Config, ConfigError, replace, validate


def test_defaults_validate_and_derive():
    cfg = replace(Config(), sampling__num_workers=2)
    validate(cfg)
    assert cfg.rollout_steps == 16 * 32
    assert cfg.batch_size == 2 * 16 * 32
    assert cfg.rollouts_per_batch == 2
    assert cfg.experiment_name == "CartPole-v1"
    assert replace(cfg, env="my_pkg.envs:make").experiment_name == "my_pkg.envs_make"


def test_round_trip_through_dict():
    cfg = replace(Config(seed=3), model__hidden_sizes=(32, 16), environment__env_kwargs={"a": 1})
    assert Config.from_dict(cfg.to_dict()) == cfg


def test_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Config().env = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    "changes, needle",
    [
        ({"sampling__num_workers": 0}, "--num-workers"),
        ({"sampling__num_envs_per_worker": 0}, "--num-envs-per-worker"),
        ({"algorithm__lr": -1.0}, "--lr"),
        ({"algorithm__batch_size": 1000}, "not a multiple of one rollout"),
        ({"algorithm__gamma": 1.5}, "--gamma"),
        ({"train_for_env_steps": 0}, "--train-for-env-steps"),
        ({"device": "gpu"}, "--device"),
        ({"experiment": "a/b"}, "--experiment"),
        ({"algorithm__num_minibatches": 10**9}, "--num-minibatches"),
        ({"algorithm__advantage_std_floor": -0.1}, "--advantage-std-floor"),
    ],
)
def test_invalid_values_name_the_flag(changes, needle):
    with pytest.raises(ConfigError, match=needle):
        validate(replace(Config(), **changes))


def test_sync_batch_must_cover_all_workers():
    cfg = replace(Config(), sampling__num_workers=2, sampling__mode="sync", algorithm__batch_size=16 * 32)
    with pytest.raises(ConfigError, match="sync mode"):
        validate(cfg)
    validate(replace(cfg, sampling__mode="async"))


@pytest.mark.parametrize(
    ("workers", "rollouts", "mode", "buffers", "per_worker", "slots"),
    [
        (2, 2, "async", 2, 1, 2),  # default: one rollout per worker per batch, double-buffered
        (2, 3, "async", 2, 2, 4),  # uneven: rounded up, so the slots always cover a batch
        (2, 16, "async", 2, 8, 16),
        (2, 16, "async", 1, 8, 8),
        (2, 16, "sync", 2, 8, 8),  # sync: one batch's worth whatever num_buffers_per_worker says
        (4, 2, "async", 3, 1, 3),  # fewer rollouts per batch than workers
    ],
)
def test_slots_per_worker_cover_a_batch(workers, rollouts, mode, buffers, per_worker, slots):
    cfg = replace(
        Config(),
        sampling__num_workers=workers,
        sampling__num_envs_per_worker=4,
        sampling__rollout_length=8,
        sampling__mode=mode,
        sampling__num_buffers_per_worker=buffers,
        algorithm__batch_size=rollouts * 32,
    )
    assert cfg.rollouts_per_batch == rollouts
    assert cfg.rollouts_per_worker == per_worker
    assert cfg.num_slots_per_worker == slots
    assert workers * cfg.num_slots_per_worker >= rollouts


@pytest.mark.parametrize(
    ("cores", "workers", "serial", "large", "expected"),
    [
        (2, 2, False, False, 1),  # small model: the cores the workers leave free, at least 1
        (2, 2, False, True, 2),  # large model: all cores
        (16, 2, False, False, 8),  # at most 8
        (16, 8, False, False, 8),
        (16, 12, False, False, 4),
        (16, 12, False, True, 8),
        (4, 2, True, False, 1),  # serial, small model: one thread (a second only synchronizes)
        (4, 2, True, True, 4),  # serial, large model: all cores (no worker processes)
        (1, 2, False, True, 1),
    ],
)
def test_default_learner_threads(monkeypatch, cores, workers, serial, large, expected):
    from relayrl.config import LARGE_MODEL_MULTIPLY_ADDS

    monkeypatch.setattr("os.cpu_count", lambda: cores)
    cfg = replace(replace(Config(), sampling__backend=("serial" if serial else "local")), sampling__num_workers=workers)
    cost = LARGE_MODEL_MULTIPLY_ADDS if large else LARGE_MODEL_MULTIPLY_ADDS - 1
    assert cfg.learner_threads(cost) == expected
    assert replace(cfg, algorithm__learner_threads=3).learner_threads(cost) == 3
