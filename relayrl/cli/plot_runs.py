"""The runs ``relayrl plot`` draws: progress rows of experiments, seed groups, policies, curves on a
common env-step grid.

Seed grouping: a name ending in a seed suffix, i.e. matching ``<base>_seed<N>``, ``<base>-seed<N>``,
``<base>_s<N>``, ``<base>-s<N>``, ``<base>_<N>`` or ``<base>-<N>`` (N an integer, only the last suffix
counts), belongs to group ``<base>`` when at least two of the given names have that base. A group is
drawn as the mean across its runs, with the min-max spread shaded, after interpolating every run on a
common env-step grid (the env-step range all its runs cover).

Policies: a run with ``policy_<k>/`` columns (trained with several policies) is one legend entry per
policy.

Evaluation keys (``eval/...``) are drawn against the env steps of the weights they evaluated
(``eval/env_steps``), not the env steps of the report that carried them (later: evaluations run
alongside training). With several policies, policy k's evaluation columns are ``eval/policy_<k>/...``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from relayrl.config import ConfigError
from relayrl.experiment import Experiment

log = logging.getLogger("relayrl.plot")

SEED_SUFFIX = re.compile(r"^(?P<base>.+)[_-](?:seed|s)?(?P<seed>\d+)$")
POLICY_PREFIX = re.compile(r"^policy_(\d+)/")
EVAL_POLICY_PREFIX = re.compile(r"^eval/policy_\d+/")
EVAL = "eval/"
EVAL_STEPS = "eval/env_steps"
GRID_POINTS = 200


@dataclasses.dataclass
class Run:
    """One experiment's progress rows."""

    name: str
    path: Path
    rows: list[dict[str, Any]]

    def keys(self) -> set[str]:
        return {key for row in self.rows for key in row}

    def policies(self) -> list[int]:
        """The policy ids that have ``policy_<k>/`` columns (runs trained with several policies)."""
        return sorted({int(m.group(1)) for key in self.keys() if (m := POLICY_PREFIX.match(key))})

    def series(self, key: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(env_steps, values) of ``key``, sorted by env steps, finite values only (None when absent);
        an ``eval/`` key against ``eval/env_steps`` (the env steps of the weights it evaluated)."""
        points: dict[float, float] = {}
        steps = EVAL_STEPS if key.startswith(EVAL) else "env_steps"
        for row in self.rows:
            x, y = row.get(steps), row.get(key)
            if (
                isinstance(x, (int, float))
                and isinstance(y, (int, float))
                and not isinstance(y, bool)
                and math.isfinite(y)
            ):
                points[float(x)] = float(y)  # a repeated env-step count (resumed run): the last row wins
        if not points:
            return None
        xs = np.array(sorted(points), dtype=np.float64)
        return xs, np.array([points[x] for x in xs], dtype=np.float64)


@dataclasses.dataclass
class Series:
    """One legend entry: a single run, or a seed group drawn as mean and spread."""

    label: str
    runs: list[Run]
    group: bool
    policy: int | None = None
    """Draw this policy's ``policy_<k>/`` columns (None: the unprefixed ones)."""
    shared: bool = True
    """Also draw columns that no policy has under its own prefix (one entry per run does)."""

    def column(self, key: str) -> str | None:
        """The progress-file column this entry draws for metric ``key`` (None: none, by design)."""
        if self.policy is None:
            return key
        if key.startswith(EVAL) and key != EVAL_STEPS:
            prefixed = f"{EVAL}policy_{self.policy}/{key[len(EVAL) :]}"
        else:
            prefixed = f"policy_{self.policy}/{key}"
        if any(prefixed in run.keys() for run in self.runs):
            return prefixed
        return key if self.shared else None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def seed_base(name: str) -> str | None:
    """The name without its seed suffix (``doorkey_seed2`` -> ``doorkey``), None when it has none."""
    match = SEED_SUFFIX.match(name)
    return match.group("base") if match else None


def group_runs(runs: Sequence[Run], group_seeds: bool = True) -> list[Series]:
    """Legend entries in the order the names were given; seed groups take the place of their first run."""
    bases = [seed_base(run.name) if group_seeds else None for run in runs]
    counts = {base: bases.count(base) for base in bases if base is not None}
    series: list[Series] = []
    by_base: dict[str, Series] = {}
    for run, base in zip(runs, bases, strict=True):
        if base is None or counts[base] < 2:
            series.append(Series(run.name, [run], group=False))
        elif base in by_base:
            by_base[base].runs.append(run)
        else:
            by_base[base] = Series(base, [run], group=True)
            series.append(by_base[base])
    for entry in series:
        if entry.group:
            entry.label = f"{entry.label} ({len(entry.runs)} seeds)"
    return series


def split_policies(series: Sequence[Series]) -> list[Series]:
    """One entry per policy for entries whose runs have several policies (``<label> policy <k>``)."""
    out: list[Series] = []
    for entry in series:
        ids = sorted(set().union(*(run.policies() for run in entry.runs)))
        if len(ids) < 2:
            out.append(entry)
            continue
        for k in ids:
            out.append(Series(f"{entry.label} policy {k}", entry.runs, entry.group, policy=k, shared=k == ids[0]))
    return out


def all_keys(runs: Sequence[Run]) -> set[str]:
    """Every column of the runs, plus each ``policy_<k>/`` (``eval/policy_<k>/``) column without its
    policy prefix (a metric that only some policy reports is still found by name)."""
    keys = set().union(*(run.keys() for run in runs))
    return keys | {EVAL_POLICY_PREFIX.sub(EVAL, POLICY_PREFIX.sub("", key)) for key in keys}


def load_run(train_dir: str, name: str) -> Run:
    """Read ``<train_dir>/<name>/progress.jsonl``; ConfigError when the directory or rows are missing."""
    path = Experiment.existing(train_dir, name).progress_path
    if not path.is_file():
        raise ConfigError(f"{path} is missing; train {name} until it reports (every --report-interval seconds).")
    rows: list[dict[str, Any]] = []
    bad = 0
    try:
        with open(path) as f:
            for line in f:
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError:
                    bad += 1  # e.g. a last line cut off by a killed run
                    continue
                if isinstance(row, dict) and _is_number(row.get("env_steps")):
                    rows.append(row)
                else:
                    bad += 1
    except OSError as exc:
        raise ConfigError(f"{path} is unreadable ({exc}).") from exc
    if bad:
        log.warning("%s: skipped %d unreadable line(s)", path, bad)
    if not rows:
        raise ConfigError(
            f"{path} has no progress rows; train {name} until it reports (every --report-interval seconds)."
        )
    return Run(name, path, rows)


def seed_curve(
    curves: Sequence[tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(grid, mean, min, max) of several runs' curves interpolated on a common env-step grid.

    The grid spans the env steps every run covers; when the runs do not overlap at all, the union,
    each point aggregating the runs that cover it."""
    starts = [float(x[0]) for x, _ in curves]
    ends = [float(x[-1]) for x, _ in curves]
    lo, hi = max(starts), min(ends)
    if lo > hi:
        lo, hi = min(starts), max(ends)
    n = min(2000, max(GRID_POINTS, *(len(x) for x, _ in curves)))
    grid = np.array([lo]) if hi <= lo else np.linspace(lo, hi, n)
    values = np.full((len(curves), len(grid)), np.nan)
    for i, (x, y) in enumerate(curves):
        inside = (grid >= x[0]) & (grid <= x[-1])
        values[i, inside] = np.interp(grid[inside], x, y)
    keep = ~np.isnan(values).all(axis=0)
    grid, values = grid[keep], values[:, keep]
    return grid, np.nanmean(values, axis=0), np.nanmin(values, axis=0), np.nanmax(values, axis=0)
