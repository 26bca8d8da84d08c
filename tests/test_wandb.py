"""Weights & Biases logging in offline mode: scalars as in TensorBoard, config, resume, enjoy videos."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from relayrl.cli.main import main
from relayrl.config import Config, LoggingConfig, replace
from relayrl.experiment import Experiment
from relayrl.trainer.episode_stats import EpisodeStatsWindow
from relayrl.trainer.policy_set import Policy, PolicySet
from relayrl.trainer.reporting import Reporter
from relayrl.trainer.state import PolicyState

pytest.importorskip("wandb")

from wandb_offline import OfflineRun, read_runs  # noqa: E402

TRAIN = ["train", "--env", "CartPole-v1", "--backend", "serial", "--num-workers", "1", "--num-envs-per-worker", "4",
         "--rollout-length", "16", "--experiment", "e", "--seed", "3", "--no-progress-bar",
         "--report-interval", "0.2", "--wandb", "--wandb-project", "proj", "--wandb-entity", "ent",
         "--wandb-group", "grp", "--wandb-tags", "t1", "t2"]  # fmt: skip


@pytest.fixture(scope="module")
def wandb_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Offline W&B with every folder it writes in a temp dir; no network."""
    root = tmp_path_factory.mktemp("wandb")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WANDB_MODE", "offline")
        mp.setenv("WANDB_SILENT", "true")
        for var in ("WANDB_DIR", "WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):
            (root / var).mkdir()
            mp.setenv(var, str(root / var))
        yield root / "WANDB_DIR"


@pytest.fixture(scope="module")
def two_sessions(wandb_env: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[OfflineRun]]:
    """One experiment trained to 512 env steps, then resumed to 1024."""
    train_dir = tmp_path_factory.mktemp("train")
    for steps in ("512", "1024"):
        assert main([*TRAIN, "--train-dir", str(train_dir), "--train-for-env-steps", steps]) == 0
    return train_dir, read_runs(wandb_env)


def _tensorboard_scalars(folder: Path) -> dict[tuple[str, int], float]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    acc.Reload()
    return {(tag, event.step): event.value for tag in acc.Tags()["scalars"] for event in acc.Scalars(tag)}


def test_scalars_match_tensorboard_against_env_steps(two_sessions: tuple[Path, list[OfflineRun]]) -> None:
    train_dir, runs = two_sessions
    assert len(runs) == 2
    logged: dict[tuple[str, int], float] = {}
    for run in runs:
        for row in run.history:
            step = row["env_steps"]
            logged.update({(key, step): value for key, value in row.items() if not key.startswith("_")})
            for key in row:  # every chart's x-axis is env steps (a "*" glob, or per metric in older SDKs)
                if not key.startswith("_") and key != "env_steps":
                    assert run.step_metrics.get(key, run.step_metrics.get("*")) == "env_steps", key
    board = _tensorboard_scalars(train_dir / "e" / "tensorboard")
    assert len(board) > 40
    assert {"reward/episode_return_mean", "losses/pg_loss", "perf/fps"} <= {tag for tag, _ in board}
    for (tag, step), value in board.items():  # TensorBoard stores float32
        assert logged[(tag, step)] == pytest.approx(value, rel=1e-6, abs=1e-6), (tag, step)
    assert {key for key in logged if key[0] != "env_steps"} == set(board)


def test_config_and_resume_continue_one_run(two_sessions: tuple[Path, list[OfflineRun]]) -> None:
    train_dir, (first, second) = two_sessions
    run_id = (train_dir / "e" / "wandb_run_id").read_text().strip()
    assert first.run_id == second.run_id == run_id
    saved = Config.from_dict({k: v for k, v in second.config.items() if k != "_wandb"})
    assert saved.seed == 3 and saved.train_for_env_steps == 1024  # the resolved config of the session
    assert saved.logging.wandb_tags == ("t1", "t2")
    assert first.config["train_for_env_steps"] == 512
    assert max(row["env_steps"] for row in first.history) <= min(row["env_steps"] for row in second.history)
    assert max(row["env_steps"] for row in second.history) >= 1024


def test_enjoy_logs_video_to_the_experiment_run(
    two_sessions: tuple[Path, list[OfflineRun]], wandb_env: Path, tmp_path: Path
) -> None:
    train_dir, before = two_sessions
    video = tmp_path / "enjoy.gif"
    args = ["enjoy", "--experiment", "e", "--train-dir", str(train_dir), "--num-episodes", "2", "--video",
            "--video-path", str(video), "--max-episode-steps", "20", "--checkpoint", "latest", "--wandb"]  # fmt: skip
    assert main(args) == 0
    runs = read_runs(wandb_env)
    assert len(runs) == len(before) + 1
    (row,) = runs[-1].history
    assert runs[-1].run_id == before[0].run_id
    assert row["videos/enjoy/_type"] == "video-file"
    assert (runs[-1].folder / "files" / row["videos/enjoy/path"]).read_bytes() == video.read_bytes()
    assert row["env_steps"] >= 1024  # the checkpoint's env steps
    assert 0 < row["eval/episode_length_mean"] <= 20


def test_wandb_flags_name_the_runs_project_entity_group_and_tags(
    two_sessions: tuple[Path, list[OfflineRun]],
) -> None:
    _, runs = two_sessions
    for run in runs:  # both sessions of the experiment
        assert (run.project, run.entity, run.group, run.tags) == ("proj", "ent", "grp", ["t1", "t2"])
        assert run.name == "e"  # the experiment's name
        saved = Config.from_dict({k: v for k, v in run.config.items() if k != "_wandb"}).logging
        assert (saved.wandb, saved.wandb_project, saved.wandb_entity) == (True, "proj", "ent")


@pytest.mark.parametrize("command", ["train", "enjoy"])
def test_without_wandb_installed_exits_2(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "wandb", None)  # makes `import wandb` fail
    args = TRAIN if command == "train" else ["enjoy", "--experiment", "e", "--wandb"]
    assert main([*args, "--train-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "pip install 'relayrl[wandb]'" in err
    assert not any(tmp_path.iterdir())  # stopped before anything was written


def test_config_roundtrip_keeps_tags() -> None:
    cfg = replace(Config(), logging__wandb=True, logging__wandb_tags=("a", "b"), logging__wandb_entity="me")
    assert Config.from_dict(cfg.to_dict()) == cfg


class _Broken:
    def __init__(self) -> None:
        self.calls = 0
        self.closed = False

    def log_scalars(self, scalars: dict[str, float], step: int) -> None:
        self.calls += 1
        raise RuntimeError("service gone")

    def close(self) -> None:
        self.closed = True


class _Recorder(_Broken):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[int, dict[str, Any]]] = []

    def log_scalars(self, scalars: dict[str, float], step: int) -> None:
        self.rows.append((step, scalars))


def test_every_sink_gets_the_reports_scalars_and_a_failing_one_is_dropped(tmp_path: Path) -> None:
    cfg = replace(Config(), logging=LoggingConfig(tensorboard=False, progress_bar=False))
    learner = SimpleNamespace(policy_version=1)
    policy = Policy(0, learner, None, PolicyState(), EpisodeStatsWindow(10))  # type: ignore[arg-type]
    reporter = Reporter(cfg, Experiment(tmp_path, "e"), PolicySet([policy]), env_steps=0, resumed=False)
    broken, recorder = _Broken(), _Recorder()
    reporter.sinks += [broken, recorder]
    policy.learner_stats = {"pg_loss": 0.5, "approx_kl": 0.01}
    reporter.report(100, 1.0, worker_restarts=0)
    learner.policy_version = 2
    reporter.report(200, 2.0, worker_restarts=0)
    assert broken.calls == 1 and reporter.sinks == [recorder]
    assert [step for step, _ in recorder.rows] == [100, 200]
    scalars = recorder.rows[-1][1]
    assert scalars["losses/pg_loss"] == 0.5 and scalars["policy_stats/approx_kl"] == 0.01
    assert scalars["policy_stats/policy_version"] == 2
    reporter.close()
    assert recorder.closed
