"""End-to-end runs: serial and multi-process, resume, reproducibility, worker failures."""

import json
import time

import pytest
import torch
from conftest import fast_config

import relayrl
from relayrl.config import replace
from relayrl.shared.progress import SharedBlob, StepCounters
from relayrl.shared.trajectories import TrajectoryBuffers
from relayrl.shared.weights import SharedWeights
from relayrl.worker.context import WorkerContexts
from relayrl.worker.rollout import RolloutWorker


def progress_rows(summary):
    with open(f"{summary.experiment_dir}/progress.jsonl") as f:
        return [json.loads(line) for line in f]


def test_serial_run_learns_cartpole(tmp_path):
    # 96 rollouts of 8 envs x 32 steps: the windowed mean return passes 100 at about 12k env steps, ends near 225
    cfg = fast_config(
        tmp_path,
        sampling__backend="serial",
        train_for_env_steps=24_576,
        sampling__num_envs_per_worker=8,
        sampling__rollout_length=32,
    )
    summary = relayrl.train(cfg)
    assert summary.env_steps >= 24_576
    assert summary.stats["reward_mean"] > 100, summary.stats  # random play averages about 22
    assert summary.checkpoint is not None


def test_serial_runs_are_reproducible(tmp_path):
    a = relayrl.train(fast_config(tmp_path / "a", sampling__backend="serial"))
    b = relayrl.train(fast_config(tmp_path / "b", sampling__backend="serial"))
    assert a.stats == b.stats
    sa = torch.load(a.checkpoint, weights_only=True)["policies"][0]["learner"]["model"]
    sb = torch.load(b.checkpoint, weights_only=True)["policies"][0]["learner"]["model"]
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_resume_continues_counts(tmp_path):
    first = relayrl.train(fast_config(tmp_path, sampling__backend="serial", train_for_env_steps=2048))
    second = relayrl.train(fast_config(tmp_path, sampling__backend="serial", train_for_env_steps=4096))
    assert first.env_steps == 2048 and second.env_steps == 4096
    assert second.policy_version == 2 * first.policy_version
    assert second.train_seconds > first.train_seconds
    steps = [row["env_steps"] for row in progress_rows(second)]
    assert steps == sorted(steps) and steps[0] <= 2048 < steps[-1]


def test_no_resume_refuses_existing_experiment(tmp_path):
    relayrl.train(fast_config(tmp_path, sampling__backend="serial", train_for_env_steps=1024))
    with pytest.raises(relayrl.ConfigError, match="--no-resume"):
        relayrl.train(fast_config(tmp_path, sampling__backend="serial", checkpointing__resume=False))


def test_vectorized_env_batch_trains(tmp_path):
    cfg = fast_config(tmp_path, sampling__backend="serial", environment__vectorized=True, train_for_env_steps=4096)
    summary = relayrl.train(cfg)
    assert summary.env_steps == 4096 and summary.stats["episodes"] > 0


@pytest.mark.multiprocess
@pytest.mark.timeout(120)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_multiprocess_run(tmp_path, mode):
    cfg = fast_config(
        tmp_path,
        sampling__num_workers=2,
        sampling__mode=mode,
        train_for_env_steps=16_384,
        logging__tensorboard=True,
    )
    trainer = relayrl.Trainer(cfg)
    summary = trainer.run()
    assert summary.env_steps >= 16_384
    rows = progress_rows(summary)
    assert rows[-1]["episodes"] > 0
    # weights go out once at the start and after every update; in async mode also after every
    # epoch but the last (workers sample while the learner trains)
    per_update = cfg.algorithm.num_epochs if mode == "async" else 1
    assert int(trainer.policies[0].weights.serial[0]) == 1 + summary.policy_version * per_update
    if mode == "sync":
        assert all(row["policy_lag_max"] == 0 for row in rows)
    assert (tmp_path / "e" / "tensorboard").is_dir()
    assert (tmp_path / "e" / "config.json").is_file()


@pytest.mark.multiprocess
@pytest.mark.timeout(120)
def test_async_lag_stays_about_one_when_the_learner_is_the_bottleneck(tmp_path):
    # A large MLP on a fast env: the workers could run ahead of the learner. Slots return to the
    # workers only with new weights published, so samples are about one version old (they were
    # two versions old when slots went back before training).
    cfg = fast_config(
        tmp_path,
        sampling__num_workers=2,
        model__hidden_sizes=(512, 512),
        algorithm__num_epochs=8,
        train_for_env_steps=12_288,
    )
    summary = relayrl.train(cfg)
    lags = [row["learner/policy_lag_mean"] for row in progress_rows(summary) if "learner/policy_lag_mean" in row]
    assert lags and sum(lags) / len(lags) < 1.5, lags


@pytest.mark.multiprocess
@pytest.mark.timeout(120)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_batch_of_many_rollouts_per_worker_trains(tmp_path, mode):
    # 8 rollouts per batch from 2 workers: each worker needs 4 slots per batch (8 in async mode to
    # keep sampling during the update); with a fixed 2 slots per worker this run used to hang.
    cfg = fast_config(tmp_path, sampling__num_workers=2, sampling__mode=mode, algorithm__batch_size=8 * 64)
    assert cfg.rollouts_per_worker == 4
    assert cfg.num_slots_per_worker == (4 if mode == "sync" else 8)
    summary = relayrl.train(replace(cfg, train_for_env_steps=4 * 512))
    assert summary.env_steps >= 4 * 512
    assert max(row["policy_version"] for row in progress_rows(summary)) >= 3


@pytest.mark.multiprocess
@pytest.mark.timeout(120)
def test_worker_exception_stops_the_run_with_traceback(tmp_path):
    cfg = fast_config(
        tmp_path,
        env="envs_for_tests:make_counting_env",
        sampling__num_workers=2,
        environment__env_kwargs={"fail_after": 300},
        train_for_env_steps=10**7,
        faults__env_error_policy="raise",
    )
    t0 = time.monotonic()
    with pytest.raises(relayrl.WorkerError, match="injected failure in CountingEnv.step"):
        relayrl.train(cfg)
    assert time.monotonic() - t0 < 60
    assert list((tmp_path / "e" / "checkpoints").glob("checkpoint_*.pt"))


@pytest.mark.multiprocess
@pytest.mark.timeout(120)
def test_worker_that_dies_is_noticed(tmp_path):
    cfg = fast_config(
        tmp_path,
        env="envs_for_tests:make_counting_env",
        sampling__num_workers=2,
        environment__env_kwargs={"exit_after": 300},
        train_for_env_steps=10**7,
        faults__max_worker_restarts=0,
    )
    t0 = time.monotonic()
    with pytest.raises(relayrl.WorkerError, match="exit code 3"):
        relayrl.train(cfg)
    assert time.monotonic() - t0 < 60


def _one_worker(cfg):
    from relayrl.envs import probe_spaces
    from relayrl.models import build_actor_critic

    obs_space, action_space = probe_spaces(cfg)
    model = build_actor_critic(obs_space, action_space, cfg.model)
    buffers = TrajectoryBuffers.allocate(
        1,
        cfg.sampling.rollout_length,
        cfg.sampling.num_envs_per_worker,
        obs_space,
        action_space,
        model.rnn_state_size,
        shared=False,
    )
    weights = SharedWeights(model.state_dict())
    weights.publish(model.state_dict(), 0)
    counters, blob = StepCounters(1), SharedBlob(capacity=1 << 16)
    contexts = WorkerContexts(cfg, buffers, (weights,), counters, blob, base_seed=0, curriculum_states=lambda w: {})
    return RolloutWorker(contexts(0)), buffers


def test_truncation_is_bootstrapped_same_step(tmp_path):
    cfg = fast_config(
        tmp_path,
        env="envs_for_tests:make_counting_env",
        environment__env_kwargs={"horizon": 3},
        sampling__num_envs_per_worker=2,
        sampling__rollout_length=7,
    )
    worker, b = _one_worker(cfg)
    report = worker.collect(0)
    gamma = cfg.algorithm.gamma
    with torch.no_grad():
        v_final = float(worker.policies.model.get_value(torch.tensor([[1.0], [1.0]]), None, None)[0])
    rewards, dones = b.rewards[0, :, 0], b.dones[0, :, 0]
    assert dones.tolist() == [False, False, True, False, False, True, False]
    assert rewards[2] == pytest.approx(1.0 + gamma * v_final, abs=1e-5)
    assert rewards[0] == 1.0 and rewards[3] == 1.0
    assert b.starts[0, :, 0].tolist() == [True, False, False, True, False, False, True]
    assert [ep.length for ep in report.episodes] == [3, 3, 3, 3]


def test_truncation_is_bootstrapped_next_step(tmp_path):
    cfg = fast_config(
        tmp_path,
        environment__vectorized=True,
        environment__env_kwargs={"max_episode_steps": 3},
        sampling__num_envs_per_worker=2,
        sampling__rollout_length=8,
    )
    worker, b = _one_worker(cfg)
    worker.collect(0)
    gamma = cfg.algorithm.gamma
    rewards, values, valid = b.rewards[0, :, 0], b.values[0, :, 0], b.valid[0, :, 0]
    # steps 0-2 are the episode (truncated at step 2), step 3 is the autoreset transition
    assert valid.tolist() == [True, True, True, False, True, True, True, False]
    assert rewards[2] == pytest.approx(1.0 + gamma * float(values[3]), abs=1e-5)
    assert rewards[6] == pytest.approx(1.0 + gamma * float(values[7]), abs=1e-5)
    assert rewards[3] == 0.0
    assert b.starts[0, :, 0].tolist() == [True, False, False, False, True, False, False, False]


@pytest.mark.parametrize(
    "env, changes",
    [
        ("CartPole-v1", {"model__use_rnn": True, "model__rnn_size": 16, "algorithm__num_minibatches": 2}),
        ("CartPole-v1", {"model__shared_actor_critic": True, "algorithm__clip_value_loss": True}),
        ("Pendulum-v1", {}),  # Box actions: Gaussian head, clipped to the bounds
        ("MiniGrid-Empty-5x5-v0", {}),  # Dict obs: small image + Discrete direction
    ],
)
def test_serial_run_other_spaces_and_models(tmp_path, env, changes):
    cfg = fast_config(tmp_path, env=env, sampling__backend="serial", train_for_env_steps=1024, **changes)
    summary = relayrl.train(cfg)
    assert summary.env_steps == 1024 and summary.policy_version == 16
    state = torch.load(summary.checkpoint, weights_only=True)
    assert all(
        torch.isfinite(v).all() for v in state["policies"][0]["learner"]["model"].values() if v.is_floating_point()
    )
