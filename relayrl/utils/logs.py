"""Logging set-up shared by the main process and the workers: every line is tagged by process."""

from __future__ import annotations

import logging
import os
import sys


def setup_logging(process_tag: str = "main", level: int | str | None = None) -> None:
    """Route ``relayrl.*`` loggers to stderr with a ``[time][tag]`` prefix (idempotent)."""
    root = logging.getLogger("relayrl")
    level = level or os.environ.get("RELAYRL_LOG_LEVEL", "INFO")
    root.setLevel(level)
    for handler in list(root.handlers):
        if getattr(handler, "_relayrl", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"[%(asctime)s][{process_tag}] %(message)s", "%H:%M:%S"))
    handler._relayrl = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.propagate = False
