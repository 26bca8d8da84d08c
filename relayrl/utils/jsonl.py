"""Reading the append-only JSON-lines files a run writes beside its checkpoints (PBT's lineage, the task
distribution), which a killed run may leave with a cut-off last line."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("relayrl")


def read_records(path: Path, keep: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    """The JSON objects of ``path``'s lines, in order, that ``keep`` accepts; lines that are not JSON are
    skipped with one warning that counts them (blank lines silently)."""
    records: list[dict[str, Any]] = []
    bad = 0
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            bad += int(bool(line.strip()))
            continue
        if isinstance(record, dict) and keep(record):
            records.append(record)
    if bad:
        log.warning("%s: skipped %d unreadable line(s)", path, bad)
    return records
