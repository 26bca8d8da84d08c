"""Read back what an offline W&B run (``WANDB_MODE=offline``) wrote, without any network.

An offline run writes ``<WANDB_DIR>/wandb/offline-run-<time>-<id>/run-<id>.wandb``: W&B's transaction
log, which ``wandb sync`` uploads later. Its ``files/`` folder holds media (videos) but no history or
config, and the Python package no longer ships a reader for the log (``wandb.sdk.internal.datastore``
went away when the Go core took over), so this module decodes it: LevelDB-log framing (a 7-byte file
header ``:W&B`` + magic 0xBEE1 + version 0, then 32 KiB blocks of records, each with a 7-byte header:
CRC32, length, type full/first/middle/last) around ``wandb.proto.wandb_internal_pb2.Record`` messages.
The framing is what ``wandb sync`` reads, so it is stable across versions.

``run.finish()`` can return before W&B's service process has written the last records (seen on a
loaded machine), so ``read_runs`` waits until every log ends with the run's ``exit`` record.
"""

from __future__ import annotations

import dataclasses
import json
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wandb.proto import wandb_internal_pb2 as pb

BLOCK = 32768
HEADER = 7  # both the file header and each record header
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: Path) -> Iterator[Any]:
    """The protobuf ``Record`` messages of a ``.wandb`` file, in order."""
    data = path.read_bytes()
    ident, magic, version = struct.unpack("<4sHB", data[:HEADER])
    assert (ident, magic, version) == (b":W&B", 0xBEE1, 0), f"{path} is not a W&B transaction log"
    pos, parts = HEADER, b""
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < HEADER:  # a block's tail too short for a header is padding
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        if kind == 0 and length == 0:  # zero padding up to the end of the block
            pos += left
            continue
        chunk = data[pos + HEADER : pos + HEADER + length]
        pos += HEADER + length
        if kind in (FULL, FIRST):
            parts = chunk
        else:
            parts += chunk
        if kind in (FULL, LAST):
            record = pb.Record()
            record.ParseFromString(parts)
            yield record


def _key(item: Any) -> str:
    return item.key or "/".join(item.nested_key)


@dataclasses.dataclass
class OfflineRun:
    """What one offline session of a run logged."""

    folder: Path
    run_id: str = ""
    project: str = ""
    entity: str = ""
    name: str = ""
    group: str = ""
    tags: list[str] = dataclasses.field(default_factory=list)
    config: dict[str, Any] = dataclasses.field(default_factory=dict)
    step_metrics: dict[str, str] = dataclasses.field(default_factory=dict)  # glob or name -> step metric
    history: list[dict[str, Any]] = dataclasses.field(default_factory=list)


def read_run(folder: Path) -> OfflineRun:
    """Decode ``folder/run-<id>.wandb``."""
    (log_file,) = folder.glob("run-*.wandb")
    run = OfflineRun(folder)
    for record in records(log_file):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            r = record.run
            run.run_id, run.name, run.group, run.tags = r.run_id, r.display_name, r.run_group, list(r.tags)
            run.project, run.entity = r.project, r.entity
            run.config.update({_key(i): json.loads(i.value_json) for i in r.config.update})
        elif kind == "config":
            run.config.update({_key(i): json.loads(i.value_json) for i in record.config.update})
        elif kind == "metric":
            run.step_metrics[record.metric.glob_name or record.metric.name] = record.metric.step_metric
        elif kind == "history":
            run.history.append({_key(i): json.loads(i.value_json) for i in record.history.item})
    return run


def _finished(folder: Path) -> bool:
    kinds = [record.WhichOneof("record_type") for log in folder.glob("run-*.wandb") for record in records(log)]
    return bool(kinds) and kinds[-1] == "exit"


def read_runs(wandb_dir: Path, timeout: float = 60.0) -> list[OfflineRun]:
    """Every offline session under ``<WANDB_DIR>/wandb``, oldest first, once each has been written out."""
    folders = sorted((wandb_dir / "wandb").glob("offline-run-*"))
    deadline = time.monotonic() + timeout
    for folder in folders:
        while not _finished(folder):
            assert time.monotonic() < deadline, f"{folder} has no exit record after {timeout} s"
            time.sleep(0.2)
    return [read_run(folder) for folder in folders]
