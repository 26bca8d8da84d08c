"""Task curricula: PLR's math, level scores from the worker, the trainer's table, delivery to the envs,
checkpoint state and bad input (docs/curriculum.md, "Task curricula")."""

from __future__ import annotations

import json
import pickle
import types

import numpy as np
import pytest
import torch

import relayrl
from examples.procgen_maze import ProcgenMaze
from relayrl import info_schema
from relayrl.cli.main import main
from relayrl.config import ConfigError, replace
from relayrl.curriculum import LearningProgressCurriculum, PrioritizedLevelReplay, TaskSpace
from relayrl.curriculum.task_math import (
    learning_progress_distribution,
    plr_distribution,
    rank_weights,
    replay_distribution,
    staleness_weights,
)
from relayrl.experiment import Experiment
from relayrl.level_replay.distribution_log import read_distribution
from relayrl.level_replay.extension import TaskCurriculumTable
from relayrl.level_replay.table import LevelTable
from relayrl.trainer.state import TrainState
from relayrl.worker.level_scores import LevelScores
from relayrl.worker.report import EpisodeRecord, RolloutReport

# ----- the math, by hand -----


def test_rank_weights_by_hand():
    scores = np.array([0.5, 2.0, 1.0])  # ranks 3, 1, 2
    np.testing.assert_allclose(rank_weights(scores, 1.0), [2 / 11, 6 / 11, 3 / 11])
    # temperature 0.5: (1/rank) ** 2 = 1/9, 1, 1/4 -> sum 49/36
    np.testing.assert_allclose(rank_weights(scores, 0.5), [4 / 49, 36 / 49, 9 / 49])


def test_staleness_and_replay_mix_by_hand():
    last = np.array([1, 3, 2])
    np.testing.assert_allclose(staleness_weights(last, 4), [3 / 6, 1 / 6, 2 / 6])
    mixed = replay_distribution(np.array([0.5, 2.0, 1.0]), last, 4, temperature=1.0, staleness_coef=0.1)
    np.testing.assert_allclose(mixed, 0.9 * np.array([2 / 11, 6 / 11, 3 / 11]) + 0.1 * np.array([3 / 6, 1 / 6, 2 / 6]))


def test_plr_distribution_mixes_unseen_levels_by_the_share_seen():
    scores = np.array([1.0, 3.0, 0.0, 0.0])
    seen = np.array([True, True, False, False])
    last = np.array([2, 2, 0, 0])
    probs = plr_distribution(scores, seen, last, now=2, temperature=1.0, staleness_coef=0.0)
    # p(replay) = 2 seen / 4 = 0.5; ranks 2, 1 -> 1/3, 2/3; unseen levels share 0.5 equally
    np.testing.assert_allclose(probs, [0.5 / 3, 1.0 / 3, 0.25, 0.25])
    np.testing.assert_allclose(plr_distribution(scores, np.zeros(4, bool), last, 0), [0.25] * 4)


def test_learning_progress_distribution_by_hand():
    probs = learning_progress_distribution(np.array([0.5, 0.2, 0.0]), np.array([0.2, 0.2, 0.1]), floor=0.4)
    # |fast - slow| = 0.3, 0, 0.1 -> 0.75, 0, 0.25; mixed with 0.4 / 3 each
    np.testing.assert_allclose(probs, 0.4 / 3 + 0.6 * np.array([0.75, 0.0, 0.25]))


# ----- scores in the worker -----


def _one_episode_scores(rewards: list[float], values: list[float]) -> float:
    t = len(rewards)
    scores = LevelScores(1, gamma=1.0, lam=1.0, score="positive_value_loss")
    record = EpisodeRecord(sum(rewards), t)
    dones = torch.zeros(t, 1, dtype=torch.bool)
    dones[-1] = True
    scores.score_rollout(
        torch.tensor(rewards).reshape(t, 1),
        torch.tensor(values).reshape(t, 1),
        torch.zeros(1),
        dones,
        torch.ones(t, 1, dtype=torch.bool),
        [(record, 0, t - 1)],
    )
    assert record.score is not None
    return record.score


def test_positive_value_loss_by_hand():
    # gamma = lambda = 1: A_t = return_t - V_t = 1 - V_t -> (0.5, 0.0 clipped from -1, 0.0) / 3
    assert _one_episode_scores([0.0, 0.0, 1.0], [0.5, 2.0, 1.0]) == pytest.approx(0.5 / 3)


def test_a_levels_score_rises_after_a_high_error_episode():
    table = LevelTable(3, temperature=0.1, staleness_coef=0.1)
    well_predicted = _one_episode_scores([0.0, 1.0], [1.0, 1.0])
    table.update(1, well_predicted)
    table.update(2, 0.05)
    before = table.scores[1], table.distribution()[1]
    surprising = _one_episode_scores([0.0, 1.0], [0.0, 0.0])  # a reward the critic did not expect
    table.update(1, surprising)
    assert well_predicted == 0.0 and surprising == pytest.approx(1.0)
    assert table.scores[1] > before[0]
    assert table.distribution()[1] > before[1]


def test_scores_carry_across_rollouts():
    scores = LevelScores(1, gamma=1.0, lam=1.0, score="gae")
    ones = torch.ones(2, 1, dtype=torch.bool)
    # rollout 1: no episode ends, values 0, bootstrap 1 -> A = 1, 1
    scores.score_rollout(
        torch.zeros(2, 1), torch.zeros(2, 1), torch.ones(1), torch.zeros(2, 1, dtype=torch.bool), ones, []
    )
    record = EpisodeRecord(1.0, 4)
    dones = torch.tensor([[False], [True]])
    # rollout 2: rewards 0, 1, values 1, 1 -> A = 0, 0
    scores.score_rollout(torch.tensor([[0.0], [1.0]]), torch.ones(2, 1), torch.zeros(1), dones, ones, [(record, 0, 1)])
    assert record.score == pytest.approx(2 / 4)


# ----- the trainer's table -----


class _Publisher:
    def __init__(self) -> None:
        self.keys: dict = {}

    def set_key(self, key, value):
        self.keys[key] = value

    def maybe_publish(self):
        return True


def _table(tmp_path, kind: str = "plr") -> TaskCurriculumTable:
    cfg = replace(relayrl.Config(env="CartPole-v1"), task_curriculum__kind=kind)
    ctx = types.SimpleNamespace(
        cfg=cfg, publisher=_Publisher(), experiment=Experiment(tmp_path, "e"), state=TrainState()
    )
    return TaskCurriculumTable(ctx)


def _report(episodes: list[EpisodeRecord]) -> RolloutReport:
    return RolloutReport(worker=0, slot=0, policy_versions=(0,), env_steps=1, episodes=episodes, timing={})


def test_table_publishes_and_round_trips_through_a_checkpoint(tmp_path):
    ext = _table(tmp_path)
    ext.start(None)
    ext.on_rollout(_report([EpisodeRecord(0.0, 5, task=3, num_tasks=5, score=2.0)]))
    published = ext.publisher.keys[info_schema.TASK_DISTRIBUTION]
    assert published["kind"] == "plr" and len(published["probs"]) == 5 and published["version"] == 1
    assert ext.scalars()["task_curriculum/seen_levels"] == 1.0
    ext.on_rollout(_report([EpisodeRecord(0.0, 5, task=1, num_tasks=5, score=0.5)]))
    saved = pickle.loads(pickle.dumps(ext.state_dict()))  # checkpoints hold plain data
    resumed = _table(tmp_path)
    resumed.start(saved)
    np.testing.assert_allclose(resumed.distribution(), ext.distribution())
    assert resumed.plr is not None and resumed.plr.episodes == 2
    assert resumed.publisher.keys[info_schema.TASK_DISTRIBUTION]["probs"] == ext.distribution().tolist()


def test_table_writes_the_distribution_at_each_report_where_it_changed(tmp_path):
    ext = _table(tmp_path)
    ext.start(None)
    ext.scalars()  # no table yet: nothing to write
    assert read_distribution(ext.experiment) is None
    ext.on_rollout(_report([EpisodeRecord(0.0, 5, task=3, num_tasks=5, score=2.0)]))
    ext.state.env_steps = 100
    ext.scalars()
    ext.scalars()  # unchanged since the last report: no second record
    ext.on_rollout(_report([EpisodeRecord(0.0, 5, task=1, num_tasks=5, score=0.5)]))
    ext.state.env_steps = 200
    ext.scalars()
    kind, steps, probs = read_distribution(ext.experiment)
    assert kind == "plr" and steps.tolist() == [100.0, 200.0] and probs.shape == (2, 5)
    np.testing.assert_allclose(probs[-1], ext.distribution(), atol=1e-6)


def test_learning_progress_table_warns_when_no_episode_reports_the_key(caplog, tmp_path):
    ext = _table(tmp_path, "learning-progress")
    ext.on_rollout(_report([EpisodeRecord(0.0, 5, extra={"won": 1.0}, task=0, num_tasks=2)]))
    assert "--lp-success-key 'success'" in caplog.text
    ext.on_rollout(_report([EpisodeRecord(0.0, 5, extra={"success": 1.0}, task=0, num_tasks=2)]))
    assert ext.progress is not None and ext.progress.count[0] == 1


def test_episode_records_pickle_with_their_task_fields():
    record = EpisodeRecord(1.0, 3, task=4, num_tasks=9, task_delays=[0.01], score=0.3)
    assert pickle.loads(pickle.dumps(record)) == record


# ----- the env side -----


def test_the_published_distribution_reaches_the_env():
    env = PrioritizedLevelReplay(ProcgenMaze(), TaskSpace.seeds(5), seed=0)
    probs = [0.0, 0.0, 0.0, 1.0, 0.0]
    env.set_training_info({info_schema.TASK_DISTRIBUTION: {"kind": "plr", "probs": probs, "version": 1}})
    for _ in range(5):
        env.reset()
        assert env.unwrapped.level == 3
        _, _, term, trunc, info = env.step(0)
        while not (term or trunc):
            _, _, term, trunc, info = env.step(0)
        assert info[info_schema.TASK_INFO]["index"] == 3


def test_task_by_training_info_for_an_env_without_set_task():
    class Reader(ProcgenMaze, relayrl.TrainingInfoInterface):
        set_task = None  # type: ignore[assignment]

        def __init__(self):
            ProcgenMaze.__init__(self)
            relayrl.TrainingInfoInterface.__init__(self)

    env = PrioritizedLevelReplay(Reader(), [11, 12], set_task=None, seed=0)
    env.reset()
    assert env.env.training_info[info_schema.TASK] in (11, 12)


def test_learning_progress_instance_state_round_trips():
    env = LearningProgressCurriculum(ProcgenMaze(), TaskSpace.seeds(4), seed=1)
    env.reset()
    env.episode_finished(1.0, {"success": 0.0})
    env.episode_finished(1.0, {"success": 1.0})
    state = json.loads(json.dumps(env.get_state()))
    other = LearningProgressCurriculum(ProcgenMaze(), TaskSpace.seeds(4), seed=2)
    other.set_state(state)
    np.testing.assert_allclose(other.table.fast, env.table.fast)
    assert other.sample_task() == env.sample_task()  # the RNG came along


# ----- bad input -----


def test_an_empty_task_space_is_refused():
    with pytest.raises(ConfigError, match="tasks: the task space is empty"):
        TaskSpace([])


def test_a_score_function_that_cannot_be_imported_is_refused():
    cfg = replace(
        relayrl.Config(env="CartPole-v1"), task_curriculum__kind="plr", task_curriculum__plr_score="nope.mod:fn"
    )
    with pytest.raises(ConfigError, match="--plr-score"):
        cfg.validate()


# ----- a run -----


def test_plr_run_delivers_the_distribution_to_the_envs(tmp_path):
    cfg = relayrl.Config(
        env="examples.procgen_maze:make_env", train_dir=str(tmp_path), experiment="plr", train_for_env_steps=6000
    )
    cfg = replace(
        cfg,
        environment__env_kwargs={"curriculum": "plr", "train_levels": 20},
        sampling__num_workers=2,
        sampling__num_envs_per_worker=4,
        task_curriculum__kind="plr",
        logging__report_interval=0.5,
        logging__progress_bar=False,
    )
    relayrl.train(cfg)
    rows = [json.loads(line) for line in (tmp_path / "plr" / "progress.jsonl").read_text().splitlines()]
    delays = [r["task_curriculum/delay_p90"] for r in rows if "task_curriculum/delay_p90" in r]
    assert delays, "no env reported receiving a task distribution"
    assert max(r.get("task_curriculum/seen_levels", 0) for r in rows) > 0
    saved = torch.load(sorted((tmp_path / "plr" / "checkpoints").glob("checkpoint_*.pt"))[-1], weights_only=True)
    assert saved["task_curriculum"]["num_tasks"] == 20


def test_serial_plr_run_writes_the_distribution_and_plot_draws_it(tmp_path, capsys):
    cfg = relayrl.Config(
        env="examples.procgen_maze:make_env", train_dir=str(tmp_path), experiment="plr", train_for_env_steps=3000
    )
    cfg = replace(
        cfg,
        environment__env_kwargs={"curriculum": "plr", "train_levels": 20},
        sampling__backend="serial",
        task_curriculum__kind="plr",
        algorithm__num_epochs=1,
        logging__report_interval=0.01,  # a report at nearly every loop pass: several records
        logging__progress_bar=False,
    )
    relayrl.train(cfg)
    kind, steps, probs = read_distribution(Experiment(tmp_path, "plr"))
    assert kind == "plr" and len(steps) >= 2 and probs.shape[1] == 20
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    assert main(["plot", "--experiment", "plr", "--train-dir", str(tmp_path)]) == 0
    heatmap = tmp_path / "plots" / "plr_tasks_plr.png"
    assert str(heatmap) in capsys.readouterr().out.splitlines()
    data = heatmap.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
