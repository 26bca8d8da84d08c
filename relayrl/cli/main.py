"""``relayrl train | enjoy | plot | export | league``: dispatch to the command's module (imported only when it runs).

Exit codes: 0 success, 1 a rollout worker failed (or training info, the final checkpoint, or an exported
file's check), 2 a usage or configuration error, 130 interrupted.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
from collections.abc import Sequence

from relayrl.errors import CheckpointError, ConfigError, TrainingInfoError, WorkerError
from relayrl.utils import startup

PROG = "relayrl"
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("relayrl.cli.train", "Train a policy with asynchronous PPO (relayrl train --help lists every flag)."),
    "enjoy": ("relayrl.cli.enjoy", "Evaluate a trained policy: episode returns, optionally a video."),
    "plot": (
        "relayrl.cli.plot",
        "Plot episode return, extra stats and curriculum level vs env steps of experiments into a PNG.",
    ),
    "export": (
        "relayrl.cli.export",
        "Export a trained policy to ONNX (deterministic action and value) for inference without relayrl.",
    ),
    "league": (
        "relayrl.cli.league",
        "Print the league table (skill ratings) of an experiment trained with --self-play.",
    ),
}
"""Command -> (module with ``run(argv) -> exit code``, one-line help)."""


def _usage() -> str:
    return f"usage: {PROG} {{{','.join(COMMANDS)}}} [flags]"


def _help() -> str:
    lines = [_usage(), "", "Fast asynchronous PPO.", "", "commands:"]
    lines += [f"  {name:<8}{text}" for name, (_, text) in COMMANDS.items()]
    lines += ["", f"Run '{PROG} <command> --help' for the flags of a command."]
    return "\n".join(lines)


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def _closed_stdout() -> int:
    """The reader of stdout went away (``relayrl train --help | head``): stop quietly, as ``cat`` does.
    Python would flush stdout again at exit and print a second BrokenPipeError, so stdout is pointed
    at devnull first."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 0


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``relayrl <command> [flags]`` and return the exit code."""
    startup.mark("cli")
    args = list(sys.argv[1:] if argv is None else argv)
    # Like `python -m`: "--env my_pkg.envs:make_env" resolves against the current directory too
    # (spawned workers inherit sys.path).
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    if not args or args[0] not in COMMANDS and args[0] not in ("-h", "--help"):
        what = f"unknown command {args[0]!r}" if args else "no command given"
        print(f"{_usage()}\n{PROG}: error: {what} (choose from {', '.join(COMMANDS)})", file=sys.stderr)
        return 2
    try:
        if args[0] in ("-h", "--help"):
            print(_help())
            return 0
        command = importlib.import_module(COMMANDS[args[0]][0])
        startup.mark("imports")
        return int(command.run(args[1:]))
    except BrokenPipeError:
        return _closed_stdout()
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


def console() -> None:
    """The ``relayrl`` command: ``main``, then exit with its code.

    The interpreter's shutdown collects every object still tracked by the garbage collector, and
    after ``import torch`` those are a few hundred thousand: about 0.3 s of the 0.45 s a process
    that imported torch takes to exit. Everything a command wrote is closed by then (checkpoints,
    logs, worker processes), so the objects are moved out of the collector's reach first
    (``gc.freeze``); the shutdown runs as usual otherwise (atexit handlers, stream flushes).
    """
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    console()
