"""``relayrl plot``: synthetic progress files -> PNG, seed grouping, errors, and a train -> plot run."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import fast_config

import relayrl
from relayrl.cli import plot as plotting
from relayrl.cli.main import main
from relayrl.cli.plot import PlotConfig, group_runs, load_run, parse_plot_args, plot, seed_base, seed_curve
from relayrl.config import ConfigError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def write_run(
    train_dir: Path,
    name: str,
    steps: int = 100_000,
    rows: int = 25,
    scale: float = 1.0,
    extra: dict[str, float] | None = None,
    reward: bool = True,
) -> Path:
    """A progress.jsonl shaped like Reporter's rows, with rising curves."""
    exp = train_dir / name
    exp.mkdir(parents=True)
    lines = []
    for i in range(rows):
        frac = (i + 1) / rows
        row: dict[str, Any] = {"env_steps": int(steps * frac), "policy_version": i, "fps": 1000.0 + i}
        if reward:
            row.update(reward_mean=100 * scale * frac, reward_min=50 * scale * frac, reward_max=150 * scale * frac)
            row.update(length_mean=20 + 100 * frac)
        for key, value in (extra or {}).items():
            for stat, factor in (("mean", 1.0), ("min", 0.5), ("max", 1.5)):
                row[f"episode_extra_stats/{key}/{stat}"] = value * factor * frac
        lines.append(json.dumps(row))
    path = exp / "progress.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 10_000


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("relayrl: error:")]


def test_single_run_default_out(tmp_path: Path) -> None:
    write_run(tmp_path, "cartpole", extra={"success": 1.0})
    paths = plot(PlotConfig(experiment=("cartpole",), train_dir=str(tmp_path)))
    assert paths == [tmp_path / "plots" / "cartpole.png"]
    assert_png(paths[0])


def test_default_metrics_order(tmp_path: Path) -> None:
    write_run(tmp_path, "a", extra={"success": 1.0, "curriculum/level": 3.0, "key": 2.0})
    write_run(tmp_path, "b", extra={"zeta": 1.0})
    runs = [load_run(str(tmp_path), "a"), load_run(str(tmp_path), "b")]
    assert plotting.default_metrics(runs) == [
        "reward_mean",
        "episode_extra_stats/key/mean",
        "episode_extra_stats/success/mean",
        "episode_extra_stats/zeta/mean",
        "episode_extra_stats/curriculum/level/mean",
    ]


def test_several_runs_overlaid(tmp_path: Path) -> None:
    write_run(tmp_path, "flat", scale=0.3, extra={"success": 0.2})
    write_run(tmp_path, "progress", scale=0.8, extra={"success": 0.9, "curriculum/level": 3.0})
    write_run(tmp_path, "performance", steps=80_000, scale=1.0, extra={"success": 1.0, "curriculum/level": 3.0})
    out = tmp_path / "figs" / "overlay.png"
    paths = plot(PlotConfig(experiment=("flat", "progress", "performance"), train_dir=str(tmp_path), out=str(out)))
    assert paths == [out]
    assert_png(out)
    series = group_runs([load_run(str(tmp_path), n) for n in ("flat", "progress", "performance")])
    assert [s.label for s in series] == ["flat", "progress", "performance"]


def test_run_lacking_a_metric_is_skipped_with_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_run(tmp_path, "a", extra={"curriculum/level": 2.0})
    write_run(tmp_path, "flat1")
    write_run(tmp_path, "flat2")
    with caplog.at_level(logging.WARNING, logger="relayrl.plot"):
        paths = plot(PlotConfig(experiment=("a", "flat1", "flat2"), train_dir=str(tmp_path), group_seeds=False))
    assert_png(paths[0])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # one line per metric, naming every run that lacks it
    assert "curriculum/level" in warnings[0] and "flat1, flat2" in warnings[0]


@pytest.mark.parametrize(
    ("name", "base"),
    [
        ("doorkey_seed1", "doorkey"),
        ("doorkey-seed12", "doorkey"),
        ("doorkey_s3", "doorkey"),
        ("doorkey-2", "doorkey"),
        ("doorkey_8x8_7", "doorkey_8x8"),
        ("a_1_2", "a_1"),
        ("doorkey", None),
        ("CartPole-v1", None),
        ("MiniGrid-DoorKey-8x8-v0", None),
        ("seed1", None),
    ],
)
def test_seed_base(name: str, base: str | None) -> None:
    assert seed_base(name) == base


def test_seed_groups_mean_and_spread(tmp_path: Path) -> None:
    for seed, scale in ((1, 0.8), (2, 1.0), (3, 1.2)):
        write_run(tmp_path, f"curr_seed{seed}", steps=100_000 + 997 * seed, rows=20 + seed, scale=scale)
    write_run(tmp_path, "flat_s1", scale=0.2)
    write_run(tmp_path, "flat_s2", scale=0.3)
    write_run(tmp_path, "other_1", scale=0.5)  # a seed suffix but no sibling: drawn as itself
    names = ("curr_seed1", "curr_seed2", "curr_seed3", "flat_s1", "flat_s2", "other_1")
    runs = [load_run(str(tmp_path), n) for n in names]

    series = group_runs(runs)
    assert [s.label for s in series] == ["curr (3 seeds)", "flat (2 seeds)", "other_1"]
    assert [len(s.runs) for s in series] == [3, 2, 1]
    assert [s.label for s in group_runs(runs, group_seeds=False)] == list(names)

    curves = [c for c in (r.series("reward_mean") for r in runs[:3]) if c is not None]
    grid, mean, low, high = seed_curve(curves)
    assert grid[0] == max(c[0][0] for c in curves) and grid[-1] == min(c[0][-1] for c in curves)
    assert np.all(low <= mean) and np.all(mean <= high) and np.all(high - low > 0)
    assert mean[-1] == pytest.approx(100.0, rel=0.05)

    paths = plot(PlotConfig(experiment=names, train_dir=str(tmp_path)))
    assert paths == [tmp_path / "plots" / "curr.png"]
    assert_png(paths[0])
    out = tmp_path / "each.png"
    assert plot(PlotConfig(experiment=names, train_dir=str(tmp_path), out=str(out), group_seeds=False)) == [out]
    assert_png(out)


def test_nested_extra_stat_keys(tmp_path: Path) -> None:
    write_run(tmp_path, "n", extra={"curriculum/level": 4.0, "goal/dist/avg": 2.0})
    run = load_run(str(tmp_path), "n")
    keys = run.keys()
    assert plotting.resolve_metric("curriculum/level", keys) == "episode_extra_stats/curriculum/level/mean"
    assert plotting.resolve_metric("goal/dist/avg", keys) == "episode_extra_stats/goal/dist/avg/mean"
    assert plotting.resolve_metric("return", keys) == "reward_mean"
    assert plotting.resolve_metric("length", keys) == "length_mean"
    assert plotting.resolve_metric("fps", keys) == "fps"
    assert plotting.metric_title("episode_extra_stats/goal/dist/avg/max") == "goal/dist/avg (max)"
    assert plotting.metric_title("episode_extra_stats/curriculum/level/mean") == "curriculum level"
    out = tmp_path / "nested.png"
    cfg = PlotConfig(experiment=("n",), train_dir=str(tmp_path), out=str(out), metrics=("goal/dist/avg", "level"))
    with pytest.raises(ConfigError, match="'level'"):
        plot(cfg)
    cfg = PlotConfig(
        experiment=("n",), train_dir=str(tmp_path), out=str(out), metrics=("goal/dist/avg", "curriculum/level")
    )
    assert plot(cfg) == [out]
    assert_png(out)


def test_unreadable_lines_are_skipped(tmp_path: Path) -> None:
    path = write_run(tmp_path, "cut", rows=5)
    with open(path, "a") as f:
        f.write('{"env_steps": 1234, "rew')  # a run killed mid-write
    assert len(load_run(str(tmp_path), "cut").rows) == 5


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope"):
        plot(PlotConfig(experiment=("nope",), train_dir=str(tmp_path)))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="progress.jsonl is missing"):
        plot(PlotConfig(experiment=("empty",), train_dir=str(tmp_path)))
    (tmp_path / "empty" / "progress.jsonl").write_text("\n")
    with pytest.raises(ConfigError, match="no progress rows"):
        plot(PlotConfig(experiment=("empty",), train_dir=str(tmp_path)))
    write_run(tmp_path, "noeps", reward=False)
    with pytest.raises(ConfigError, match="no episode statistics"):
        plot(PlotConfig(experiment=("noeps",), train_dir=str(tmp_path)))
    with pytest.raises(ConfigError, match="must end in .png"):
        plot(PlotConfig(experiment=("noeps",), train_dir=str(tmp_path), metrics=("fps",), out=str(tmp_path / "p.jpg")))
    with pytest.raises(ConfigError, match="at least one experiment"):
        plot(PlotConfig(experiment=(), train_dir=str(tmp_path)))
    assert not (tmp_path / "plots").exists()


def test_cli_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_run(tmp_path, "x_1", extra={"success": 1.0})
    write_run(tmp_path, "x_2", extra={"success": 0.5})
    assert parse_plot_args(["--experiment", "a", "b", "--no-group-seeds"]) == PlotConfig(
        experiment=("a", "b"), group_seeds=False
    )
    assert main(["plot", "--experiment", "x_1", "x_2", "--train-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out.strip()
    assert out == str(tmp_path / "plots" / "x.png")
    assert_png(Path(out))


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--experiment", "missing"], "missing"),
        (["--experiment", "x", "--metrics", "no_such_metric"], "no_such_metric"),
        (["--experiment", "empty"], "empty"),
    ],
)
def test_cli_errors_exit_2(args: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_run(tmp_path, "x")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "progress.jsonl").write_text("")
    assert main(["plot", "--train-dir", str(tmp_path), *args]) == 2
    captured = capsys.readouterr()
    lines = _error_lines(captured.err)
    assert len(lines) == 1 and needle in lines[0]
    assert "Traceback" not in captured.err and captured.out == ""


def test_help_lists_plot(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["--help"]) == 0
    assert "plot" in capsys.readouterr().out
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["plot", "--help"]) == 0
    assert "--no-group-seeds" in capsys.readouterr().out


def test_train_then_plot(tmp_path: Path) -> None:
    cfg = fast_config(
        tmp_path,
        experiment="cp",
        train_for_env_steps=2048,
        sampling__backend="serial",
        logging__report_interval=5.0,
        algorithm__num_epochs=1,
        algorithm__num_minibatches=1,
        algorithm__learner_threads=1,
    )
    relayrl.train(cfg)
    paths = plot(PlotConfig(experiment=("cp",), train_dir=str(tmp_path)))
    assert paths == [tmp_path / "plots" / "cp.png"]
    assert_png(paths[0])


def write_policies_run(train_dir: Path, name: str, self_play: bool = False) -> None:
    """A progress file of a run with two policies: top-level columns are policy 0's, every policy's
    under ``policy_<k>/``; policy 1 alone reports ``episode_extra_stats/win``."""
    exp = train_dir / name
    exp.mkdir(parents=True)
    lines = []
    for i in range(10):
        row: dict[str, Any] = {"env_steps": 1000 * (i + 1), "fps": 500.0, "reward_mean": float(i)}
        row.update({"policy_0/reward_mean": float(i), "policy_1/reward_mean": 2.0 * i})
        row["policy_1/episode_extra_stats/win/mean"] = i / 10
        if self_play:
            row["self_play/win_rate_vs_pool"] = i / 10
        lines.append(json.dumps(row))
    (exp / "progress.jsonl").write_text("\n".join(lines) + "\n")


def test_every_policy_is_drawn_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_policies_run(tmp_path, "pop")
    write_run(tmp_path, "single")
    drawn: list[tuple[str, str]] = []
    original = plotting.Run.series

    def spy(run: plotting.Run, key: str) -> Any:
        drawn.append((run.name, key))
        return original(run, key)

    monkeypatch.setattr(plotting.Run, "series", spy)
    paths = plot(PlotConfig(experiment=("pop", "single"), train_dir=str(tmp_path), out=str(tmp_path / "p.png")))
    assert_png(paths[0])
    assert ("pop", "policy_0/reward_mean") in drawn and ("pop", "policy_1/reward_mean") in drawn
    assert ("pop", "policy_1/episode_extra_stats/win/mean") in drawn  # found although policy 0 lacks it
    assert ("single", "reward_mean") in drawn
    assert ("pop", "reward_mean") not in drawn  # top-level columns are policy 0's: not drawn twice
    series = plotting.split_policies(group_runs([load_run(str(tmp_path), n) for n in ("pop", "single")]))
    assert [s.label for s in series] == ["pop policy 0", "pop policy 1", "single"]
    assert series[0].column("fps") == "fps" and series[1].column("fps") is None  # shared columns drawn once


def test_self_play_win_rate_is_a_default_metric(tmp_path: Path) -> None:
    write_policies_run(tmp_path, "sp", self_play=True)
    metrics = plotting.default_metrics([load_run(str(tmp_path), "sp")])
    assert metrics[:2] == ["reward_mean", "self_play/win_rate_vs_pool"]
    assert "episode_extra_stats/win/mean" in metrics
    assert plotting.metric_title("self_play/win_rate_vs_pool") == "self-play win rate vs pool"


def write_eval_run(train_dir: Path, name: str, policies: int = 1) -> None:
    """Reports every 1,000 env steps; an evaluation of the weights at 2,000 * j comes back 3,000 steps
    later, in its own row (as the evaluation extension reports it)."""
    exp = train_dir / name
    exp.mkdir(parents=True)
    lines = []
    for i in range(1, 21):
        row: dict[str, Any] = {"env_steps": 1000 * i, "reward_mean": float(i)}
        evaluated = 1000 * i - 3000
        if evaluated > 0 and evaluated % 2000 == 0:
            row["eval/env_steps"] = evaluated
            for k in range(policies):
                prefix = f"eval/policy_{k}/" if policies > 1 else "eval/"
                row[prefix + "reward"] = evaluated / 1000 + k
                row[prefix + "episode_extra_stats/success/mean"] = evaluated / 20_000
                row[f"policy_{k}/reward_mean"] = float(i)
        lines.append(json.dumps(row))
    (exp / "progress.jsonl").write_text("\n".join(lines) + "\n")


def test_eval_keys_are_drawn_against_the_env_steps_they_evaluated(tmp_path: Path) -> None:
    write_eval_run(tmp_path, "ev")
    run = load_run(str(tmp_path), "ev")
    x, y = run.series("eval/reward")
    assert list(x) == [2000, 4000, 6000, 8000, 10000, 12000, 14000, 16000]  # not the reports' 5000, 7000, ...
    assert list(y) == list(x / 1000)
    assert run.series("reward_mean")[0][0] == 1000  # training keys keep the report's env steps
    assert plotting.default_metrics([run])[:2] == ["reward_mean", "eval/reward"]
    assert plotting.resolve_metric("eval/success", plotting.all_keys([run])) == "eval/episode_extra_stats/success/mean"
    assert plotting.metric_title("eval/episode_extra_stats/success/mean") == "success (evaluation)"
    assert plotting.metric_title("eval/reward") == "episode return (evaluation)"
    assert_png(plot(PlotConfig(experiment=("ev",), train_dir=str(tmp_path), out=str(tmp_path / "ev.png")))[0])


def test_each_policys_eval_keys_are_drawn(tmp_path: Path) -> None:
    write_eval_run(tmp_path, "pop", policies=2)
    runs = [load_run(str(tmp_path), "pop")]
    assert "eval/reward" in plotting.default_metrics(runs)
    series = plotting.split_policies(group_runs(runs))
    assert [s.column("eval/reward") for s in series] == ["eval/policy_0/reward", "eval/policy_1/reward"]
    x, y = runs[0].series("eval/policy_1/reward")
    assert x[0] == 2000 and y[0] == 3.0
