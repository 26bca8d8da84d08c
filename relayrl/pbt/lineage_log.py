"""The experiment's PBT lineage file (``Experiment.pbt_lineage_path``, ``pbt_lineage.jsonl``): every copy and
mutation of the population as one JSON object per line, appended when it happens.

A progress row holds the population's state at report times; this file holds each event, so two copies
of one policy between two reports are two lines. A record has the layout of
``PopulationController.lineage``: ``env_steps`` (the run's total env steps at the change), ``time``
(``time.time()``: wall-clock seconds since the epoch), ``policy``, ``copied_from`` (None for a mutation
alone, e.g. the start mutation), ``objective``, ``source_objective`` and ``mutations``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from relayrl.experiment import Experiment
from relayrl.utils.jsonl import read_records


def append_events(experiment: Experiment, events: Iterable[Mapping[str, Any]]) -> None:
    """Append ``events`` to the experiment's lineage file, one JSON line each, flushed to the OS before
    returning (a run killed later keeps them). Nothing is opened when there are none."""
    lines = [json.dumps(dict(event)) + "\n" for event in events]
    if not lines:
        return
    experiment.root.mkdir(parents=True, exist_ok=True)
    with open(experiment.pbt_lineage_path, "a") as f:
        f.writelines(lines)
        f.flush()


def read_lineage(experiment: Experiment) -> list[dict[str, Any]] | None:
    """The experiment's lineage, oldest first: its lineage file, or for an experiment trained before the
    file existed the latest checkpoint's ``pbt.lineage``; None when it has neither (a run without PBT).
    A line that cannot be read (e.g. cut off by a killed run) is skipped with a warning."""
    path = experiment.pbt_lineage_path
    if path.is_file():
        return read_records(path, lambda event: "policy" in event and "env_steps" in event)
    if not experiment.checkpoints():
        return None
    from relayrl.trainer.checkpointer import load_latest  # torch: only for experiments without the file

    data = load_latest(experiment)
    pbt = (data or {}).get("pbt")
    return list(pbt["lineage"]) if pbt else None
