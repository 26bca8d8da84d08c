"""trainer -> env (training_info) and env -> trainer (episode_extra_stats), unit and end to end."""

import json
import logging
import pickle

import gymnasium as gym
import numpy as np
import pytest
import torch
from conftest import fast_config
from envs_for_tests import EpisodeEnv, Recorder, load_records

import relayrl
from relayrl import TrainingInfoInterface, find_training_info_interface, info_schema
from relayrl.config import Config, replace
from relayrl.envs.episode_stats import flatten_extra_stats
from relayrl.envs.info_interface import vector_training_info_targets
from relayrl.errors import TrainingInfoError
from relayrl.shared.progress import SharedBlob, StepCounters
from relayrl.trainer.episode_stats import EpisodeStatsWindow
from relayrl.trainer.info_publisher import TrainingInfoPublisher
from relayrl.trainer.state import PolicyState, TrainState
from relayrl.worker.report import EpisodeRecord


class Plain(gym.Wrapper):
    pass


class DuckTyped(gym.Wrapper):
    def set_training_info(self, training_info):
        self.got = training_info


def test_find_unwraps_from_the_outside_in(tmp_path):
    middle = Recorder(Plain(EpisodeEnv()), str(tmp_path))
    chain = Plain(middle)
    assert find_training_info_interface(chain) is middle
    assert find_training_info_interface(Plain(EpisodeEnv())) is None
    outer = DuckTyped(middle)
    assert find_training_info_interface(outer) is outer  # first implementer wins, duck typing counts
    assert middle.training_info == {}  # empty until the first delivery


def test_interface_default_stores_the_dict():
    class Env(TrainingInfoInterface):
        pass

    env = Env()
    env.set_training_info({"approx_total_training_steps": 5})
    assert env.training_info == {"approx_total_training_steps": 5}


def test_vector_fan_out_skips_only_the_subenvs_without_it(tmp_path):
    envs = [
        lambda: Recorder(EpisodeEnv(), str(tmp_path)),
        lambda: EpisodeEnv(),
        lambda: Recorder(EpisodeEnv(), str(tmp_path)),
    ]
    vec = gym.vector.SyncVectorEnv(envs)
    whole, per_env = vector_training_info_targets(vec)
    assert whole is None
    assert [t is not None for t in per_env] == [True, False, True]


def test_flatten_extra_stats_paths_types_and_skips():
    skipped = []
    out = flatten_extra_stats(
        {
            "a": {"b": {"c": 1}},
            "ok": True,
            "f": np.float32(0.25),
            "z": np.array(3),
            "t": torch.tensor(2.0),
            "s": "text",
            "v": np.arange(3),
        },
        lambda key, value: skipped.append(key),
    )
    assert out == {"a/b/c": 1.0, "ok": 1.0, "f": 0.25, "z": 3.0, "t": 2.0}
    assert skipped == ["s", "v"]


def test_stats_window_reports_from_the_first_episode_and_per_key():
    w = EpisodeStatsWindow(window=3)
    assert w.summary()["episode_extra_stats"] == {} and "reward" not in w.summary()
    w.add([EpisodeRecord(1.0, 2, {"success": 1.0})])
    s = w.summary()
    assert s["reward"]["mean"] == 1.0 and s["episode_extra_stats"]["success"]["mean"] == 1.0
    w.add([EpisodeRecord(float(r), 1) for r in range(5)])  # no "success" in these
    s = w.summary()
    assert s["reward"]["count"] == 3 and s["reward"]["mean"] == 3.0
    assert s["episode_extra_stats"]["success"]["count"] == 1  # not diluted by episodes without it
    assert w.flat()["episode_extra_stats/success/mean"] == 1.0


def test_counters_and_blob():
    counters = StepCounters(2, base=100)
    counters.add(0, 16)
    counters.add(1, 4)
    assert counters.total() == 120
    assert counters.policy_totals() == [20]  # one policy, one agent per env: it took every env step
    blob = SharedBlob(capacity=1024)
    assert blob.read() == (0, None)
    blob.publish({"a": 1})
    assert blob.read() == (1, {"a": 1})
    with pytest.raises(ValueError, match="training-info-fn"):
        blob.publish({"big": "x" * 4096})


def test_counters_count_each_policys_agent_steps_from_its_resume_base():
    counters = StepCounters(2, base=100, policy_base=[50, 70])
    counters.add(0, 4, np.array([6, 2]))  # 4 two-agent envs: 6 agents of policy 0, 2 of policy 1
    counters.add(1, 4, np.array([0, 8]))
    assert counters.total() == 108 and counters.policy_totals() == [56, 80]
    assert pickle.loads(pickle.dumps(counters)).policy_totals() == [56, 80]  # what a worker process gets


def test_delivered_policy_table_carries_the_live_counts_and_single_agent_views_are_per_policy():
    table = {
        0: {"policy_version": 3, "env_steps": 10, "stats": {"episodes": 1}},
        1: {"policy_version": 5, "env_steps": 20, "stats": {"episodes": 2}, "reward_shaping": {"x": 1.0}},
    }
    part = info_schema.trainer_part(1.0, table)
    info = info_schema.complete(part, 500, [11, 25])
    assert info["approx_total_training_steps"] == 500
    assert [info["policies"][k]["env_steps"] for k in (0, 1)] == [11, 25]
    assert part["policies"][1]["env_steps"] == 20  # the published part is left as it was
    one = info_schema.for_policy(info, 1)
    assert (one["policy_id"], one["policy_version"], one["stats"], one["reward_shaping"]) == (
        1,
        5,
        {"episodes": 2},
        {"x": 1.0},
    )
    assert "env_steps" not in one and one["policies"] == info["policies"]
    zero = info_schema.for_policy(info, 0)  # policy 0 gets its own keys the same way (no reward shaping set)
    assert (zero["policy_id"], zero["policy_version"], "reward_shaping" in zero) == (0, 3, False)
    assert info_schema.policy_entry(info, 1)["env_steps"] == 25
    assert info_schema.snapshot_entry(2, 7) == {"policy_id": None, "snapshot_slot": 2, "snapshot_version": 7}


def _publisher(fn):
    cfg = replace(Config(), training_info__fn=fn)
    view = lambda: relayrl.TrainerView(10, 2, 1.5, {}, {}, cfg)  # noqa: E731
    state = TrainState(policies={0: PolicyState(reward_shaping={"k": 1.0})})
    table = lambda: {0: {"policy_version": 2, "stats": {}, "reward_shaping": state.policies[0].reward_shaping}}  # noqa: E731
    return TrainingInfoPublisher(cfg, SharedBlob(capacity=1 << 16), state, view, table)


def test_publisher_keys_and_user_function():
    pub = _publisher(lambda view: {"level": view.policy_version * 10})
    part = pub.compose()
    assert part["train_seconds"] == 1.5 and part["level"] == 20 and part["policies"][0]["policy_version"] == 2
    info = info_schema.for_policy(part, 0)  # what an env of policy 0 gets
    assert info["reward_shaping"] == {"k": 1.0} and info["policy_id"] == 0 and "stats" in info
    assert info["policy_version"] == 2
    pub.set_reward_shaping({"k": 2.0}, 0)
    assert pub.maybe_publish() and pub.blob.read()[1]["policies"][0]["reward_shaping"] == {"k": 2.0}
    assert pub.state.policies[0].reward_shaping == {"k": 2.0}  # the train state owns it (checkpoints)


@pytest.mark.parametrize(
    "fn, needle",
    [
        (lambda view: 1 / 0, "raised ZeroDivisionError"),
        (lambda view: [1], "returned list"),
        (lambda view: {"policy_version": 3}, "reserved key"),
    ],
)
def test_publisher_rejects_bad_user_functions(fn, needle):
    with pytest.raises(TrainingInfoError, match=needle):
        _publisher(fn).compose()


def test_unimportable_training_info_fn_is_a_config_error():
    with pytest.raises(relayrl.ConfigError, match="--training-info-fn"):
        relayrl.config.validate(replace(Config(), training_info__fn="nosuch.module:fn"))


# ----- end to end -----


def _cfg(tmp_path, env, **changes):
    """This module's runs, into ``tmp_path/runs``: two workers, seed 3, 4,096 env steps, TensorBoard, training
    info from ``extra_training_info`` before every step, envs of 8 steps that log to ``tmp_path/records``."""
    settings = dict(
        seed=3,
        train_for_env_steps=4096,  # 64 episodes of each of the 8 envs
        sampling__num_workers=2,
        logging__tensorboard=True,
        environment__env_kwargs={"log_dir": str(tmp_path / "records"), "horizon": 8},
        training_info__fn="envs_for_tests:extra_training_info",
        training_info__interval=0.0,
    )
    return fast_config(tmp_path / "runs", env, **{**settings, **changes})


def _check_deliveries(records, expect_envs, min_steps=0):
    records = [r for r in records if r["episodes"]]  # the trainer's space probe builds an env it never resets
    assert len(records) == expect_envs
    for rec in records:
        steps = [d["approx_total_training_steps"] for d in rec["deliveries"]]
        assert steps, "an env instance received nothing"
        assert steps == sorted(steps), "approx_total_training_steps went backwards"
        assert min(steps) >= min_steps
        assert rec["episodes"][0]["info_at_reset"], "the first episode had no training info"
        assert all(d["my_key"] == 42 and d["has_stats"] and "policy_version" in d for d in rec["deliveries"])
    return [d["approx_total_training_steps"] for rec in records for d in rec["deliveries"]]


@pytest.mark.parametrize("serial", [True, pytest.param(False, marks=pytest.mark.multiprocess)])
@pytest.mark.timeout(120)
def test_every_env_in_every_worker_gets_training_info(tmp_path, serial):
    summary = relayrl.train(
        _cfg(tmp_path, "envs_for_tests:make_recorded_env", sampling__backend=("serial" if serial else "local"))
    )
    values = _check_deliveries(load_records(tmp_path / "records"), expect_envs=8)
    assert max(values) >= summary.env_steps // 2  # the live count tracks the run
    # Staleness at arrival, as reported: a delivery happens within the batch step it was read for, so
    # the true total moved on by at most the other worker's in-flight steps (4 envs per batch step).
    rows = [json.loads(line) for line in (tmp_path / "runs" / "e" / "progress.jsonl").read_text().splitlines()]
    rows = [row for row in rows if "training_info_staleness_steps" in row]
    assert rows, "no report carried staleness samples"
    assert all(row["training_info_staleness_steps"] <= 8 for row in rows)  # medians
    assert all(0.0 <= row["training_info_staleness_seconds"] < 0.5 for row in rows)


@pytest.mark.parametrize("serial", [True, pytest.param(False, marks=pytest.mark.multiprocess)])
@pytest.mark.timeout(120)
def test_vector_env_with_some_subenvs_implementing(tmp_path, serial):
    cfg = _cfg(
        tmp_path,
        "envs_for_tests:make_mixed_vector_env",
        sampling__backend=("serial" if serial else "local"),
        environment__vectorized=True,
    )
    summary = relayrl.train(cfg)
    _check_deliveries(load_records(tmp_path / "records"), expect_envs=4)  # 2 of 4 sub-envs x 2 workers
    # the vector info layout (dict of arrays with "_key" masks) carries each episode's own values
    stats = summary.stats
    assert stats["episode_extra_stats/nested/a/b/mean"] == 0.5 and stats["episode_extra_stats/zero_d/mean"] == 2.0
    low, high = stats["episode_extra_stats/success/min"], stats["episode_extra_stats/success/max"]
    assert {low, high} <= {0.0, 1.0} and low <= stats["episode_extra_stats/success/mean"] <= high  # bools as 0/1
    assert "episode_extra_stats/bad/mean" not in stats


@pytest.mark.parametrize("serial", [True, pytest.param(False, marks=pytest.mark.multiprocess)])
@pytest.mark.timeout(120)
def test_episode_delivery_changes_values_only_at_resets(tmp_path, serial):
    cfg = _cfg(
        tmp_path,
        "envs_for_tests:make_recorded_env",
        sampling__backend=("serial" if serial else "local"),
        training_info__delivery="episode",
    )
    relayrl.train(cfg)
    records = load_records(tmp_path / "records")
    _check_deliveries(records, expect_envs=8)
    for rec in records:
        for ep in rec["episodes"]:
            assert len(set(ep["seen"])) <= 1, "training info changed in the middle of an episode"
        assert len(rec["deliveries"]) == len(rec["episodes"])  # one delivery per reset


@pytest.mark.parametrize("serial", [True, pytest.param(False, marks=pytest.mark.multiprocess)])
@pytest.mark.timeout(180)
def test_resumed_run_never_delivers_below_the_checkpoint(tmp_path, serial):
    first = relayrl.train(
        _cfg(
            tmp_path,
            "envs_for_tests:make_recorded_env",
            sampling__backend=("serial" if serial else "local"),
            train_for_env_steps=2048,
        )
    )
    for p in (tmp_path / "records").glob("*.json"):
        p.unlink()
    relayrl.train(
        _cfg(
            tmp_path,
            "envs_for_tests:make_recorded_env",
            sampling__backend=("serial" if serial else "local"),
            train_for_env_steps=4096,
        )
    )
    _check_deliveries(load_records(tmp_path / "records"), expect_envs=8, min_steps=first.env_steps)


def test_extra_stats_reach_tensorboard_progress_and_derived_metrics(tmp_path, caplog):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = _cfg(
        tmp_path,
        "envs_for_tests:make_recorded_env",
        sampling__backend="serial",
        train_for_env_steps=2048,
        logging__metrics_fn="envs_for_tests:success_rate_metric",
    )
    with caplog.at_level(logging.WARNING, logger="relayrl"):
        summary = relayrl.train(cfg)
    assert caplog.text.count("'bad'") == 2  # one warning per key per worker (2 serial workers), naming it
    stats = summary.stats
    assert stats["episode_extra_stats/nested/a/b/mean"] == 0.5
    assert stats["episode_extra_stats/zero_d/mean"] == 2.0
    assert 0.0 <= stats["episode_extra_stats/success/mean"] <= 1.0
    assert "episode_extra_stats/bad/mean" not in stats
    acc = EventAccumulator(str(tmp_path / "runs" / "e" / "tensorboard"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {
        "episode_extra_stats/nested/a/b",
        "episode_extra_stats_min/success",
        "episode_extra_stats_max/zero_d",
        "derived/failure_rate",
        "perf/training_info_staleness_steps",
        "perf/training_info_staleness_seconds",
        "reward/episode_return_mean",
    } <= tags
