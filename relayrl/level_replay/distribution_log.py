"""The experiment's task-distribution file (``Experiment.task_distribution_path``,
``task_distribution.jsonl``): the sampling distribution of a task curriculum over time.

The trainer's table (``TaskCurriculumTable``) appends one JSON object per report at which the
distribution changed since the last line: ``env_steps`` (the run's total env steps at the report),
``time`` (``time.time()``), ``kind`` (``plr`` or ``learning_progress``), ``version`` (the published
distribution's version) and ``probs`` (the probability of each task, by index, rounded to 6 decimals).
``relayrl plot`` draws it as a heatmap (``relayrl/level_replay/plot.py``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence

import numpy as np

from relayrl.experiment import Experiment
from relayrl.utils.jsonl import read_records

log = logging.getLogger("relayrl.level_replay")

DECIMALS = 6


def append_distribution(
    experiment: Experiment, env_steps: int, kind: str, version: int, probs: Sequence[float]
) -> None:
    """Append one record (see the module docstring); an error writing it is logged, not raised (the
    file is a view of the run, training goes on without it)."""
    record = {
        "env_steps": int(env_steps),
        "time": time.time(),
        "kind": kind,
        "version": int(version),
        "probs": [round(float(p), DECIMALS) for p in probs],
    }
    try:
        experiment.root.mkdir(parents=True, exist_ok=True)
        with open(experiment.task_distribution_path, "a") as f:
            f.write(json.dumps(record) + "\n")
    except OSError as exc:
        log.error("could not append to %s (%s); training goes on", experiment.task_distribution_path, exc)


def read_distribution(experiment: Experiment) -> tuple[str, np.ndarray, np.ndarray] | None:
    """``(kind, env_steps [R], probs [R, num_tasks])`` of the experiment's file, sorted by env steps (a
    resumed run's records in the order written); None when there is no file or no record in it.
    Unreadable lines, and records over another number of tasks than the last one, are skipped with a
    warning."""
    path = experiment.task_distribution_path
    if not path.is_file():
        return None
    records = read_records(path, lambda r: isinstance(r.get("probs"), list) and "env_steps" in r)
    if not records:
        return None
    size = len(records[-1]["probs"])
    kept = [r for r in records if len(r["probs"]) == size]
    if len(kept) < len(records):
        log.warning(
            "%s: skipped %d record(s) over another number of tasks than %d", path, len(records) - len(kept), size
        )
    kept.sort(key=lambda r: float(r["env_steps"]))
    steps = np.array([float(r["env_steps"]) for r in kept])
    probs = np.array([r["probs"] for r in kept], dtype=np.float64)
    return str(kept[-1].get("kind", "")), steps, probs
