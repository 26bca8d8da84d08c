"""The ``relayrl`` command line: flat flags, help, exit codes, and train -> enjoy end to end."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from relayrl.cli.enjoy import EnjoyConfig, enjoy
from relayrl.cli.main import main
from relayrl.cli.train import format_summary, parse_train_args
from relayrl.config import Config, flag_of
from relayrl.trainer.trainer import TrainSummary, train


def _flags(cls: type, group: str = "") -> list[tuple[str, str, str]]:
    """``(group, field name, flag)`` of every leaf field; the flag is the ``flag(...)`` name when given."""
    out: list[tuple[str, str, str]] = []
    for field in dataclasses.fields(cls):
        default = field.default
        if dataclasses.is_dataclass(default):
            out += _flags(type(default), field.name)
        else:
            out.append((group, field.name, flag_of(cls, field.name)[2:]))
    return out


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("relayrl: error:")]


def test_flags_are_unique_and_field_names_do_not_repeat_their_group() -> None:
    leaves = _flags(Config)
    flags = [flag for _, _, flag in leaves]
    assert len(flags) > 20
    assert len(flags) == len(set(flags)), sorted(f for f in flags if flags.count(f) > 1)
    repeating = [f"{g}.{name}" for g, name, _ in leaves if g and (name == g or name.startswith(g + "_"))]
    assert not repeating  # e.g. pbt.objective: the group already says it (the flag keeps --pbt-objective)


def test_flat_flags_parse_into_nested_fields() -> None:
    cfg = parse_train_args(
        ["--env", "Pendulum-v1", "--num-workers", "3", "--num-envs-per-worker", "5", "--train-for-env-steps", "777",
         "--seed", "9", "--device", "auto", "--no-resume", "--experiment", "x", "--train-dir", "/tmp/td",
         "--lr", "0.001", "--hidden-sizes", "32", "32", "--env-kwargs", '{"a": 1}']
    )  # fmt: skip
    assert cfg.env == "Pendulum-v1"
    assert (cfg.sampling.num_workers, cfg.sampling.num_envs_per_worker) == (3, 5)
    assert (cfg.train_for_env_steps, cfg.seed, cfg.device) == (777, 9, "auto")
    assert cfg.checkpointing.resume is False
    assert (cfg.experiment, cfg.train_dir) == ("x", "/tmp/td")
    assert cfg.algorithm.lr == pytest.approx(1e-3)
    assert cfg.model.hidden_sizes == (32, 32)
    assert cfg.environment.env_kwargs == {"a": 1}
    assert parse_train_args(["--resume"]).checkpointing.resume is True


def test_top_level_help_and_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "train" in out and "enjoy" in out
    assert main(["frobnicate"]) == 2
    assert "usage:" in capsys.readouterr().err
    assert main([]) == 2


@pytest.mark.parametrize(("command", "text"), [("train", "Rollout worker processes"), ("enjoy", "Episodes to run")])
def test_subcommand_help(
    command: str, text: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert main([command, "--help"]) == 0
    assert text in capsys.readouterr().out


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--num-workers", "0"], "--num-workers"),
        (["--lr", "-1"], "--lr"),
        (["--env", "NoSuchEnv-v0"], "NoSuchEnv-v0"),
        (["--env", "nosuchmodule:make"], "nosuchmodule"),
    ],
)
def test_train_config_errors_exit_2(
    flags: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "--train-dir", str(tmp_path), *flags]) == 2
    lines = _error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and needle in lines[0]
    assert not any(tmp_path.iterdir())  # nothing written before validation


def test_parse_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--no-such-flag"]) == 2


def test_enjoy_missing_experiment_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["enjoy", "--experiment", "nope", "--train-dir", str(tmp_path)]) == 2
    lines = _error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and str(tmp_path / "nope") in lines[0]
    (tmp_path / "nope").mkdir()
    assert main(["enjoy", "--experiment", "nope", "--train-dir", str(tmp_path)]) == 2
    assert "config.json" in _error_lines(capsys.readouterr().err)[0]


def test_console_script_exit_code() -> None:
    script = Path(sys.executable).with_name("relayrl")
    if not script.exists():
        pytest.skip("console script not installed")
    proc = subprocess.run([str(script), "train", "--num-workers", "0"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "num-workers" in proc.stderr


def test_console_exits_with_the_code_of_main_and_the_collector_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    from relayrl.cli import main as cli_main

    monkeypatch.setattr(cli_main, "main", lambda: 3)
    try:
        with pytest.raises(SystemExit) as exit_info:
            cli_main.console()
        assert exit_info.value.code == 3
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    train_dir = tmp_path_factory.mktemp("train")
    code = main(
        ["train", "--env", "CartPole-v1", "--backend", "serial", "--num-workers", "1", "--num-envs-per-worker", "4",
         "--rollout-length", "16", "--train-for-env-steps", "2048", "--train-dir", str(train_dir),
         "--experiment", "e", "--seed", "1", "--no-progress-bar"]
    )  # fmt: skip
    assert code == 0
    return train_dir


def test_train_writes_experiment(trained: Path) -> None:
    exp = trained / "e"
    saved = json.loads((exp / "config.json").read_text())
    assert Config.from_dict(saved).sampling.num_envs_per_worker == 4
    assert list((exp / "checkpoints").glob("checkpoint_*.pt"))
    assert (exp / "progress.jsonl").stat().st_size > 0
    assert any((exp / "tensorboard").iterdir())


def test_enjoy_prints_mean_return(trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["enjoy", "--experiment", "e", "--train-dir", str(trained), "--num-episodes", "2", "--checkpoint", "latest"]
    assert main(args) == 0
    assert "mean return" in capsys.readouterr().out


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_enjoy_writes_video(trained: Path, tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"v{suffix}"
    args = ["enjoy", "--experiment", "e", "--train-dir", str(trained), "--num-episodes", "1", "--video",
            "--video-path", str(path), "--max-episode-steps", "40"]  # fmt: skip
    assert main(args) == 0
    assert path.stat().st_size > 0


def test_enjoy_api(trained: Path) -> None:
    result = enjoy(EnjoyConfig(experiment="e", train_dir=str(trained), num_episodes=3, max_episode_steps=25))
    assert len(result.returns) == len(result.lengths) == 3
    assert all(0 < n <= 25 for n in result.lengths)
    assert result.mean_return == pytest.approx(sum(result.returns) / 3)
    assert result.video_path is None


def test_enjoy_env_kwargs_override_and_extra_stats(tmp_path):
    from relayrl.cli.enjoy import EnjoyConfig, enjoy

    rc = main(
        [
            "train",
            "--env",
            "examples.curriculum_factory:make_env",
            "--backend",
            "serial",
            "--num-workers",
            "1",
            "--num-envs-per-worker",
            "4",
            "--rollout-length",
            "16",
            "--train-for-env-steps",
            "1024",
            "--train-dir",
            str(tmp_path),
            "--experiment",
            "g",
            "--seed",
            "1",
            "--no-tensorboard",
        ]
    )
    assert rc == 0
    result = enjoy(
        EnjoyConfig(
            experiment="g",
            train_dir=str(tmp_path),
            checkpoint="latest",
            num_episodes=3,
            env_kwargs={"curriculum": "none"},
        )
    )
    assert result.extra_stats["distance"] == 16.0  # the hardest level, no curriculum
    assert 0.0 <= result.extra_stats["success"] <= 1.0


# ----- several policies: choosing one, the summary, bad input -----


@pytest.fixture(scope="module")
def two_policies(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TrainSummary]:
    """A serial CartPole run of two policies (random mapping) that wrote best.pt and best_policy_1.pt."""
    train_dir = tmp_path_factory.mktemp("two")
    cfg = parse_train_args(
        ["--env", "CartPole-v1", "--backend", "serial", "--num-workers", "1", "--num-envs-per-worker", "8",
         "--rollout-length", "16", "--train-for-env-steps", "2048", "--num-policies", "2", "--train-dir",
         str(train_dir), "--experiment", "two", "--seed", "1", "--no-progress-bar", "--no-tensorboard"]
    )  # fmt: skip
    summary = train(cfg)
    checkpoints = train_dir / "two" / "checkpoints"
    assert (checkpoints / "best.pt").is_file() and (checkpoints / "best_policy_1.pt").is_file()
    return train_dir, summary


def test_enjoy_policy_k_plays_its_own_best_file_and_names_it(
    two_policies: tuple[Path, TrainSummary], capsys: pytest.CaptureFixture[str]
) -> None:
    train_dir, _ = two_policies
    base = ["enjoy", "--experiment", "two", "--train-dir", str(train_dir), "--num-episodes", "1"]
    assert main([*base, "--policy", "1"]) == 0
    best_1 = train_dir / "two" / "checkpoints" / "best_policy_1.pt"
    assert f"checkpoint:   {best_1} (policy 1)" in capsys.readouterr().out
    result = enjoy(EnjoyConfig(experiment="two", train_dir=str(train_dir), num_episodes=1, policy=0))
    assert result.checkpoint == str(best_1.with_name("best.pt")) and result.policy_id == 0


@pytest.mark.parametrize(
    "flags", [[], ["--checkpoint", "latest"], ["--checkpoint", "best_policy_1.pt"], ["--policy", "2"]]
)
@pytest.mark.parametrize("command", ["enjoy", "export"])
def test_several_policies_and_no_policy_is_a_one_line_choice(
    two_policies: tuple[Path, TrainSummary], command: str, flags: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    train_dir, _ = two_policies
    out = train_dir / "none.onnx"
    args = [command, "--experiment", "two", "--train-dir", str(train_dir), *flags]
    assert main(args + (["--output", str(out)] if command == "export" else [])) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "holds policies 0, 1; choose one with --policy K" in err
    assert not out.exists()


def test_train_summary_lists_every_policy_and_evaluates_the_best(two_policies: tuple[Path, TrainSummary]) -> None:
    train_dir, summary = two_policies
    assert set(summary.policy_rewards) == {0, 1} and all(r is not None for r in summary.policy_rewards.values())
    cfg = parse_train_args(["--experiment", "two", "--train-dir", str(train_dir), "--num-policies", "2"])
    rewards = {0: 20.0, 1: 35.5}
    text = format_summary(cfg, dataclasses.replace(summary, policy_rewards=rewards))
    assert "per policy   0: 20.000   1: 35.500" in text
    assert "best policy:     1 (mean reward 35.500)" in text
    assert text.splitlines()[-1].endswith(f"--train-dir {train_dir} --policy 1")
    one = format_summary(cfg, dataclasses.replace(summary, policy_rewards={0: 20.0}))
    assert "--policy" not in one and "best policy" not in one


@pytest.mark.parametrize("flag", ["--reward-shaping", "--pbt-bounds", "--pbt-env-params"])
def test_every_json_flag_is_checked_under_its_own_name(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", flag, "{bad"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"relayrl: error: {flag} "), err


@pytest.mark.parametrize(("old", "new"), [("--serial", "--backend serial"), ("--no-serial", "--backend local")])
def test_a_removed_flag_names_its_replacement(old: str, new: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", old]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{old} was replaced by {new}" in err, err


@pytest.mark.parametrize("command", ["train", "enjoy"])
@pytest.mark.parametrize("value", ["{bad", "[1, 2]"])
def test_malformed_json_flag_is_one_line(command: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = [command, "--env-kwargs", value] + (["--experiment", "x"] if command == "enjoy" else [])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("relayrl: error: --env-kwargs"), err
    assert main([command, f"--env-kwargs={value}"]) == 2  # the --flag=value form too
    assert capsys.readouterr().err.startswith("relayrl: error: --env-kwargs")


def test_help_into_a_closed_pipe_exits_quietly() -> None:
    """``relayrl train --help | head``: the reader is gone before the help is written."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "relayrl.cli.main", "train", "--help"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert b"Traceback" not in err and b"BrokenPipeError" not in err, err.decode()[-2000:]
