"""How a run stops on signals: SIGTERM like Ctrl-C but reported as success; a second Ctrl-C at once.

Workers ignore SIGINT and SIGTERM (sampling/process.py), so only the trainer reacts and it can
write the final checkpoint before stopping them.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any


class TrainingInterrupted(KeyboardInterrupt):
    """SIGTERM: stop like Ctrl-C (checkpoint, flush logs) but report success."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name


def exit_now(signum: int, frame: Any) -> None:
    os._exit(130)


def _on_sigterm(signum: int, frame: Any) -> None:
    raise TrainingInterrupted("SIGTERM")


def install_signal_handlers() -> dict[Any, Any] | None:
    """SIGTERM stops the run cleanly (only possible in the main thread; else None)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    previous = {signal.SIGTERM: signal.getsignal(signal.SIGTERM), signal.SIGINT: signal.getsignal(signal.SIGINT)}
    signal.signal(signal.SIGTERM, _on_sigterm)
    return previous


def restore_signal_handlers(previous: dict[Any, Any] | None) -> None:
    if previous is not None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
