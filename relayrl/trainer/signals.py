"""How a run stops on signals: SIGTERM like Ctrl-C but reported as success; a second Ctrl-C at once.

A signal only sets a flag (``StopFlag``) that the training loop polls between steps, so it never
lands in the middle of a checkpoint, a log line or a weights publish: the run ends its current
learner update, writes the final checkpoint and flushes its logs. (An exception raised from the
handler can land inside ``torch.save`` of a checkpoint and crash the run instead of stopping it.)
A second Ctrl-C exits at once, killing the trainer's worker processes; the last checkpoint on disk
stays intact because every write is atomic.

Workers ignore SIGINT and SIGTERM (worker/process.py), so only the trainer reacts and it can
write the final checkpoint before stopping them.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from typing import Any


class StopFlag:
    """Set by SIGTERM or a first SIGINT; true once a stop was requested."""

    def __init__(self) -> None:
        self.signal_name: str | None = None

    def __bool__(self) -> bool:
        return self.signal_name is not None

    def request(self, signal_name: str) -> None:
        if self.signal_name is None:
            self.signal_name = signal_name

    def handle(self, signum: int, frame: Any) -> None:
        if signum == signal.SIGINT and self.signal_name is not None:
            exit_now(signum, frame)  # a second Ctrl-C (or Ctrl-C while stopping): at once
        self.request(signal.Signals(signum).name)


def exit_now(signum: int, frame: Any) -> None:
    """Exit at once (a second Ctrl-C): kill this process's own worker processes, then exit 130."""
    for child in multiprocessing.active_children():
        try:
            child.kill()
        except (OSError, ValueError):
            pass
    os._exit(130)


def install_signal_handlers(flag: StopFlag) -> dict[Any, Any] | None:
    """SIGTERM and SIGINT set ``flag`` (only possible in the main thread; else None)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    previous = {signal.SIGTERM: signal.getsignal(signal.SIGTERM), signal.SIGINT: signal.getsignal(signal.SIGINT)}
    signal.signal(signal.SIGTERM, flag.handle)
    signal.signal(signal.SIGINT, flag.handle)
    return previous


def restore_signal_handlers(previous: dict[Any, Any] | None) -> None:
    if previous is not None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
