"""``relayrl train | enjoy | plot | export``: flat flags parsed by tyro from the config dataclasses' field docstrings.

Exit codes: 0 success, 1 a rollout worker failed (or an exported file failed its check), 2 a usage or
configuration error, 130 interrupted.
"""

from __future__ import annotations

import logging
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from typing import TypeVar

import tyro

from relayrl.config import Config, ConfigError
from relayrl.export.command import ExportCheckError, ExportConfig, export_experiment, format_export
from relayrl.runners.enjoy import EnjoyConfig, enjoy, format_result
from relayrl.runners.plot import PlotConfig, plot
from relayrl.runners.runner import CheckpointError, TrainSummary, train
from relayrl.runners.training_info import TrainingInfoError
from relayrl.runners.workers import WorkerError
from relayrl.utils.logs import setup_logging

log = logging.getLogger("relayrl.cli")

PROG = "relayrl"
COMMANDS: dict[str, str] = {
    "train": "Train a policy with asynchronous PPO (relayrl train --help lists every flag).",
    "enjoy": "Evaluate a trained policy: episode returns, optionally a video.",
    "plot": "Plot episode return, extra stats and curriculum level vs env steps of experiments into a PNG.",
    "export": "Export a trained policy to ONNX (deterministic action and value) for inference without relayrl.",
}

T = TypeVar("T")


def _usage() -> str:
    return f"usage: {PROG} {{{','.join(COMMANDS)}}} [flags]"


def _help() -> str:
    lines = [_usage(), "", "Fast asynchronous PPO.", "", "commands:"]
    lines += [f"  {name:<8}{text}" for name, text in COMMANDS.items()]
    lines += ["", f"Run '{PROG} <command> --help' for the flags of a command."]
    return "\n".join(lines)


def _parse(cls: type[T], argv: Sequence[str], command: str) -> T:
    return tyro.cli(cls, args=list(argv), prog=f"{PROG} {command}", config=(tyro.conf.OmitArgPrefixes,))


def parse_train_args(argv: Sequence[str]) -> Config:
    """``relayrl train`` flags -> Config (every nested field is a flat flag)."""
    return _parse(Config, argv, "train")


def parse_enjoy_args(argv: Sequence[str]) -> EnjoyConfig:
    """``relayrl enjoy`` flags -> EnjoyConfig."""
    return _parse(EnjoyConfig, argv, "enjoy")


def parse_plot_args(argv: Sequence[str]) -> PlotConfig:
    """``relayrl plot`` flags -> PlotConfig."""
    return _parse(PlotConfig, argv, "plot")


def format_summary(cfg: Config, summary: TrainSummary) -> str:
    """The block printed after training: numbers, paths and the commands to look at the result."""
    reward = summary.stats.get("reward_mean")
    reward_text = "n/a (no finished episode)" if reward is None else f"{reward:.3f}"
    enjoy_cmd = f"{PROG} enjoy --experiment {shlex.quote(cfg.experiment_name)} --train-dir {shlex.quote(cfg.train_dir)}"
    return "\n".join(
        [
            f"env steps:       {summary.env_steps}",
            f"wall time:       {summary.wall_seconds:.1f} s",
            f"fps:             {summary.fps:.0f}",
            f"mean reward:     {reward_text}",
            f"experiment dir:  {summary.experiment_dir}",
            f"checkpoint:      {summary.checkpoint or 'none written'}",
            f"tensorboard:     tensorboard --logdir {shlex.quote(cfg.train_dir)}",
            f"evaluate:        {enjoy_cmd}",
        ]
    )


def _train(argv: Sequence[str]) -> int:
    cfg = parse_train_args(argv)
    summary = train(cfg)
    print(format_summary(cfg, summary))
    return 0


def _enjoy(argv: Sequence[str]) -> int:
    cfg = parse_enjoy_args(argv)
    setup_logging("main")
    result = enjoy(cfg)
    print(format_result(result))
    return 0


def _plot(argv: Sequence[str]) -> int:
    cfg = parse_plot_args(argv)
    setup_logging("main")
    for path in plot(cfg):
        print(path)
    return 0


def _export(argv: Sequence[str]) -> int:
    cfg = _parse(ExportConfig, argv, "export")
    setup_logging("main")
    try:
        result = export_experiment(cfg)
    except ExportCheckError as exc:
        print(f"{PROG}: export failed: {exc}", file=sys.stderr)
        return 1
    print(format_export(result))
    return 0


HANDLERS: dict[str, Callable[[Sequence[str]], int]] = {
    "train": _train,
    "enjoy": _enjoy,
    "plot": _plot,
    "export": _export,
}


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``relayrl <command> [flags]`` and return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    # Like `python -m`: "--env my_pkg.envs:make_env" resolves against the current directory too
    # (spawned workers inherit sys.path).
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    if args and args[0] in ("-h", "--help"):
        print(_help())
        return 0
    if not args or args[0] not in HANDLERS:
        what = f"unknown command {args[0]!r}" if args else "no command given"
        print(f"{_usage()}\n{PROG}: error: {what} (choose from {', '.join(COMMANDS)})", file=sys.stderr)
        return 2
    try:
        return HANDLERS[args[0]](args[1:])
    except SystemExit as exc:
        return _exit_code(exc)
    except ConfigError as exc:
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except (WorkerError, TrainingInfoError, CheckpointError) as exc:
        print(f"{PROG}: training failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
