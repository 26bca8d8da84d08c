"""Evaluation during training (docs/evaluation.md): its own process, the ``evaluation`` key, best files by
evaluation, resume, opponents, bad input."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from conftest import fast_config

import relayrl
from relayrl.cli.main import main
from relayrl.config import ConfigError, replace
from relayrl.curriculum import PerformanceCurriculum, ProgressCurriculum
from relayrl.experiment import Experiment
from relayrl.presets import preset_config
from relayrl.trainer.checkpointer import read_checkpoint

ENV = "eval_envs:EvalAwareEnv"


def _rows(cfg: relayrl.Config) -> list[dict[str, Any]]:
    path = Experiment.of(cfg).root / "progress.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def _eval_rows(cfg: relayrl.Config) -> list[dict[str, Any]]:
    return [row for row in _rows(cfg) if "eval/reward" in row]


def _best(cfg: relayrl.Config) -> dict[str, Any]:
    return read_checkpoint(Experiment.of(cfg).best_checkpoint)["policies"][0]


def _serial(tmp_path: Path, **changes: Any) -> relayrl.Config:
    return fast_config(
        tmp_path, ENV, sampling__backend="serial", evaluation__every_env_steps=1024, evaluation__episodes=2, **changes
    )


def test_the_eval_env_is_told_it_is_evaluated_and_results_carry_steps_and_version(tmp_path: Path) -> None:
    cfg = _serial(tmp_path, logging__report_interval=60.0)
    relayrl.train(cfg)
    rows = _eval_rows(cfg)
    assert [row["eval/env_steps"] for row in rows] == [1024, 2048, 3072, 4096]  # each reported when it finished
    for row in rows:
        assert row["eval/episode_extra_stats/evaluation/mean"] == 1.0  # the eval env got evaluation: True
        assert row["episode_extra_stats/evaluation/mean"] == 0.0  # the training envs did not
        assert row["eval/policy_version"] == row["eval/env_steps"] // cfg.batch_size
        assert row["eval/reward"] == pytest.approx(8 * (1 - row["eval/env_steps"] / 8192))
        assert row["eval/length"] == 8 and row["eval/reward_min"] <= row["eval/reward"] <= row["eval/reward_max"]


def test_best_file_follows_the_evaluation_not_the_training_return(tmp_path: Path) -> None:
    # the training return rises all run long, the evaluated return falls: the first evaluation is the best
    cfg = _serial(tmp_path)
    summary = relayrl.train(cfg)
    first = _eval_rows(cfg)[0]
    best = _best(cfg)
    assert best["best_source"] == "eval/reward"
    assert best["best_reward"] == pytest.approx(first["eval/reward"]) == summary.best_reward
    # the file holds the evaluated weights, not the learner's at the time the result came back
    assert best["policy_version"] == best["learner"]["policy_version"] == first["eval/policy_version"]


def test_the_final_weights_are_evaluated_when_training_ends_between_evaluations(tmp_path: Path) -> None:
    cfg = _serial(tmp_path, train_for_env_steps=2560)
    summary = relayrl.train(cfg)
    assert summary.env_steps == 2560
    assert [row["eval/env_steps"] for row in _eval_rows(cfg)] == [1024, 2048, 2560]
    relayrl.train(cfg)  # already at its end: the final weights were evaluated, not again
    assert [row["eval/env_steps"] for row in _eval_rows(cfg)] == [1024, 2048, 2560]


def test_resume_keeps_the_best_score(tmp_path: Path) -> None:
    cfg = _serial(tmp_path, train_for_env_steps=2048)
    relayrl.train(cfg)
    before = _best(cfg)
    relayrl.train(replace(cfg, train_for_env_steps=4096))  # evaluations at 3072 and 4096 score lower
    after = _best(cfg)
    assert after["best_reward"] == before["best_reward"] and after["policy_version"] == before["policy_version"]
    assert after["best_source"] == "eval/reward"
    assert [row["eval/env_steps"] for row in _eval_rows(cfg)] == [1024, 2048, 3072, 4096]  # cadence kept


def test_a_metric_no_episode_reports_is_named_once_and_picks_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = _serial(tmp_path, evaluation__best_metric="eval/episode_extra_stats/sucess")
    with caplog.at_level(logging.WARNING, logger="relayrl"):
        relayrl.train(cfg)
    warnings = [r.getMessage() for r in caplog.records if "eval/episode_extra_stats/sucess" in r.getMessage()]
    assert len(warnings) == 1 and "eval/episode_extra_stats/evaluation/mean" in warnings[0]
    assert not Experiment.of(cfg).best_checkpoint.exists()  # neither evaluation nor the training return chose one


def test_eval_env_kwargs_the_env_rejects_stop_the_run_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = ["--env", ENV, "--backend", "serial", "--eval-every-env-steps", "1024"]
    assert main(["train", "--train-dir", str(tmp_path), *flags, "--eval-env-kwargs", '{"level": -1}']) == 2
    err = capsys.readouterr().err
    assert "level must be >= 0, got -1" in err  # the env's own message
    assert not list(tmp_path.rglob("*.pt")) and not list(tmp_path.rglob("progress.jsonl"))


@pytest.mark.multiprocess
def test_evaluation_runs_in_its_own_process_and_training_does_not_wait(tmp_path: Path) -> None:
    # each evaluation takes >= 2 x 8 x 0.2 s = 3.2 s; training goes on meanwhile (--backend local)
    cfg = fast_config(
        tmp_path,
        ENV,
        train_for_env_steps=12_000,
        evaluation__every_env_steps=1024,
        evaluation__episodes=2,
        evaluation__eval_env_kwargs={"eval_step_seconds": 0.2},
        evaluation__niceness=7,
    )
    summary = relayrl.train(cfg)
    rows = _eval_rows(cfg)
    assert rows, "no evaluation finished"
    first = rows[0]
    # the result of the evaluation at ~1024 steps came back only after training had gone on for more than
    # two cadences (in the trainer's process it would have come back before the next rollout)
    assert first["env_steps"] - first["eval/env_steps"] >= 2048
    assert first["eval/episode_extra_stats/evaluation/mean"] == 1.0
    assert first["eval/episode_extra_stats/niceness/mean"] == min(19, os.nice(0) + 7)  # --eval-niceness
    assert summary.env_steps >= 12_000
    # at the end the trainer waited for the evaluation in flight, then evaluated the final weights
    assert rows[-1]["eval/env_steps"] == summary.env_steps
    assert rows[-1]["eval/policy_version"] == summary.policy_version


def test_opponents_give_win_rates(tmp_path: Path) -> None:
    cfg = fast_config(
        tmp_path,
        "relayrl.envs.coin_duel:make_duel",
        train_for_env_steps=1024,
        sampling__backend="serial",
        evaluation__every_env_steps=512,
        evaluation__episodes=2,
        evaluation__opponents="relayrl.envs.coin_duel:bot_0,relayrl.envs.coin_duel:bot_4",
        evaluation__best_metric="eval/vs/bot_4/win_rate",
    )
    relayrl.train(cfg)
    row = _eval_rows(cfg)[-1]
    for name in ("bot_0", "bot_4"):
        assert 0.0 <= row[f"eval/vs/{name}/win_rate"] <= 1.0
    assert _best(cfg)["best_source"] == "eval/vs/bot_4/win_rate"


@pytest.mark.parametrize(
    "changes, needle",
    [
        ({"evaluation__best_metric": "eval/reward"}, "--best-metric needs evaluation"),
        ({"evaluation__opponents": "policy:0"}, "--eval-opponents needs evaluation"),
        ({"evaluation__every_env_steps": 100, "evaluation__best_metric": "reward"}, "not an evaluation key"),
        ({"evaluation__every_env_steps": 100, "evaluation__opponents": "policy:3"}, "policy:J with J in 0..0"),
        ({"evaluation__every_env_steps": 100, "evaluation__episodes": 0}, "--eval-episodes"),
        ({"evaluation__every_env_steps": 100, "evaluation__niceness": 20}, "--eval-niceness must be in 0..19"),
    ],
)
def test_bad_evaluation_flags(changes: dict[str, Any], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle.replace("..", r"\.\.")):
        replace(relayrl.Config(), **changes).validate()


def test_a_single_agent_env_is_evaluated_against_opponents_in_its_multiagent_form(tmp_path: Path) -> None:
    # trained against a bot inside the env; evaluated in the same game with both players as agents
    cfg = fast_config(
        tmp_path,
        "examples.coin_duel_bots:make_env",
        train_for_env_steps=1024,
        sampling__backend="serial",
        evaluation__every_env_steps=512,
        evaluation__episodes=2,
        evaluation__eval_env_kwargs={"duel": True},
        evaluation__opponents="relayrl.envs.coin_duel:bot_0,relayrl.envs.coin_duel:bot_4",
    )
    relayrl.train(cfg)
    rows = _eval_rows(cfg)
    assert [row["eval/env_steps"] for row in rows] == [512, 1024]
    assert all(0.0 <= row[f"eval/vs/{b}/win_rate"] <= 1.0 for row in rows for b in ("bot_0", "bot_4"))


def test_opponents_need_a_multiagent_env(tmp_path: Path) -> None:
    cfg = _serial(tmp_path, evaluation__opponents="relayrl.envs.coin_duel:bot_0")
    with pytest.raises(ConfigError, match="needs a multi-agent env"):
        relayrl.train(cfg)


def test_pbt_with_evaluation_picks_the_best_by_the_evaluated_objective() -> None:
    cfg = replace(relayrl.Config(), evaluation__every_env_steps=100, pbt__enabled=True, pbt__objective="true_goal")
    assert cfg.evaluation.best_metric_key(cfg) == "eval/episode_extra_stats/true_goal"
    plain = replace(cfg, pbt__enabled=False)
    assert plain.evaluation.best_metric_key(plain) == "eval/reward"


def test_the_mujoco_preset_evaluates() -> None:
    cfg = preset_config("mujoco", env="HalfCheetah-v5")
    assert cfg.evaluation.enabled and cfg.evaluation.every_env_steps == 50_000 and cfg.evaluation.episodes == 10
    assert cfg.evaluation.deterministic


# ----- curricula in evaluation -----


class _Levels(gym.Env):
    """One-step episodes that succeed; ``set_level`` records the level a curriculum applied."""

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.level = -1

    def set_level(self, level: int) -> None:
        self.level = level

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[Any, dict]:
        return np.zeros(1, np.float32), {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        return np.zeros(1, np.float32), 1.0, True, False, {"episode_extra_stats": {"success": 1.0}}


def test_curricula_play_their_evaluation_level_and_keep_their_state() -> None:
    progress = ProgressCurriculum(_Levels(), "set_level", thresholds=[100, 200])
    progress.set_training_info({"approx_total_training_steps": 0, "evaluation": True})
    progress.reset()
    assert progress.env.unwrapped.level == 2  # the top level, not level 0 of 0 steps
    chosen = ProgressCurriculum(_Levels(), "set_level", thresholds=[100, 200], eval_level=1)
    chosen.set_training_info({"approx_total_training_steps": 0, "evaluation": True})
    chosen.reset()
    assert chosen.env.unwrapped.level == 1

    perf = PerformanceCurriculum(_Levels(), "set_level", levels=3, window=2)
    perf.set_state({"level": 1, "values": [1.0], "episodes_at_level": 1})
    saved = perf.get_state()
    perf.set_training_info({"evaluation": True})
    for _ in range(5):  # successes that would promote it in training
        perf.reset()
        perf.step(0)
    assert perf.env.unwrapped.level == 2 and perf.get_state() == saved
    perf.set_training_info({})
    perf.reset()
    assert perf.env.unwrapped.level == 1  # training goes on where it was


def test_enjoy_tells_its_env_it_is_evaluated(tmp_path: Path) -> None:
    from relayrl.cli.enjoy import EnjoyConfig, enjoy

    cfg = fast_config(tmp_path, ENV, train_for_env_steps=256, sampling__backend="serial")
    relayrl.train(cfg)
    result = enjoy(EnjoyConfig(experiment=cfg.experiment_name, train_dir=cfg.train_dir, num_episodes=2))
    assert result.extra_stats["evaluation"] == 1.0


def test_two_evaluations_that_finish_in_one_pass_get_a_report_each() -> None:
    # at the end of training the evaluation in flight and the final one finish in the same pass
    from types import SimpleNamespace

    from relayrl.evaluator.extension import EvaluationExtension
    from relayrl.evaluator.work import EvalReport

    def report(env_steps: int) -> EvalReport:
        keys = {"reward": 1.0, "reward_min": 1.0, "reward_max": 1.0, "length": 8.0, "policy_version": 1.0}
        return EvalReport(env_steps, {0: keys}, 0.1)

    class Runner:
        def __init__(self) -> None:
            self.asked: list[int] = []

        def submit(self, request: Any) -> None:
            self.asked.append(request.env_steps)

        def poll(self) -> list[EvalReport]:
            return []

        def wait(self, timeout: float) -> list[EvalReport]:
            return [report(self.asked[-1])]

        def close(self) -> None:
            pass

    learner = SimpleNamespace(state_dict=lambda: {"model": {}})
    policy = SimpleNamespace(id=0, learner=learner, version=1)

    class Policies(list):
        def all(self) -> list[Any]:
            return list(self)

    policies = Policies([policy])
    checkpointer = SimpleNamespace(choose_best_by=lambda metric: None, save_best_if=lambda *args: None)
    weights = [SimpleNamespace(publish=lambda state, version: None)]
    cfg = replace(relayrl.Config(env=ENV), evaluation__every_env_steps=1024)
    runner = Runner()
    ext = EvaluationExtension(cfg, policies, checkpointer, runner, weights, 0)  # type: ignore[arg-type]
    ext.request(1024)  # in flight when training ends
    ext.finish(1500)
    assert runner.asked == [1024, 1500]
    reported = []
    while ext.report_now():
        reported.append(ext.scalars()["eval/env_steps"])
    assert reported == [1024.0, 1500.0]
