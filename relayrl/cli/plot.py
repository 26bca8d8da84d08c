"""``relayrl plot``: PNG curves of episode return, episode extra stats and curriculum level vs env steps
(and, for a run trained with ``--pbt``, its lineage: ``<out>_pbt_<name>.png``, see pbt/plot.py; for a
run trained with ``--task-curriculum``, its task distribution over time: ``<out>_tasks_<name>.png``,
see level_replay/plot.py).

``plot(PlotConfig(experiment=("a", "b")))`` reads ``<train_dir>/<name>/progress.jsonl`` of every
experiment and writes one PNG with one subplot per metric, every experiment overlaid.

Seed grouping (``group_seeds``, on by default): a name ending in a seed suffix, i.e. matching
``<base>_seed<N>``, ``<base>-seed<N>``, ``<base>_s<N>``, ``<base>-s<N>``, ``<base>_<N>`` or
``<base>-<N>`` (N an integer, only the last suffix counts), belongs to group ``<base>`` when at least
two of the given names have that base. A group is drawn as the mean across its runs, with the
min-max spread shaded, after interpolating every run on a common env-step grid (the env-step range
all its runs cover); its legend label is ``<base> (<n> seeds)``. Other names are drawn as they are.

Policies (runs trained with ``--num-policies N``): every policy is drawn by default, one legend entry
per policy (``<name> policy <k>``), from the ``policy_<k>/...`` columns of the progress file; a
column no policy has under its own prefix (``fps``, ``self_play/...``) is drawn once.

Evaluation during training (``eval/...`` columns) is drawn against the env steps it evaluated
(``eval/env_steps``); ``eval/reward`` is in the default plot when a run has it.

Every problem with the input (missing experiment dir, missing or empty progress file, a metric no run
has) is a ``ConfigError`` naming the path or metric; a run that lacks a metric other runs have is left
out of that subplot with a warning.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from relayrl.cli.parsing import parse
from relayrl.cli.plot_runs import (
    Run,
    Series,
    all_keys,
    group_runs,
    load_run,
    seed_base,
    seed_curve,
    split_policies,
)
from relayrl.config import ConfigError
from relayrl.experiment import Experiment
from relayrl.level_replay.plot import plot_task_distribution
from relayrl.pbt.plot import plot_lineage
from relayrl.utils.logs import setup_logging

log = logging.getLogger("relayrl.plot")

EXTRA = "episode_extra_stats/"
RETURN_KEY = "reward_mean"
LEVEL_KEY = EXTRA + "curriculum/level/mean"
SELF_PLAY_KEY = "self_play/win_rate_vs_pool"
EVAL_RETURN_KEY = "eval/reward"
ALIASES = {"reward": RETURN_KEY, "return": RETURN_KEY, "episode_return": RETURN_KEY, "length": "length_mean"}
LINESTYLES: list[Any] = ["-", "--", ":", "-."]


@dataclasses.dataclass(frozen=True)
class PlotConfig:
    """Plot training curves of one or more experiments into a PNG."""

    experiment: tuple[str, ...]
    """Experiment names (folders under train_dir), one or more: ``--experiment a b c``."""

    train_dir: str = "train_dir"
    """Root folder for experiments."""

    out: str | None = None
    """Where to write the image (default: ``<train_dir>/plots/<first experiment or seed group>.png``)."""

    metrics: tuple[str, ...] = ()
    """Metrics to plot, one subplot each: a progress.jsonl column (``reward_mean``, ``fps``,
    ``episode_extra_stats/success/max``, ``eval/reward``, ``derived/x``) or a short name (``return``,
    ``length``, an episode_extra_stats key such as ``success`` or ``curriculum/level``, ``eval/success``
    for its evaluated mean). Default: episode return, the evaluated return if present, the self-play win
    rate against the pool if present, the mean of every episode_extra_stats key found in any run,
    curriculum level last if present. ``eval/`` columns are drawn against the env steps they evaluated.
    Runs with several policies: every policy's curve."""

    group_seeds: bool = True
    """Draw runs whose names differ only by a seed suffix (``_seed1``, ``_s1``, ``_1``, ``-1``) as one
    mean curve with the min-max spread across seeds; ``--no-group-seeds`` draws every run."""


def default_metrics(runs: Sequence[Run]) -> list[str]:
    """Episode return, the evaluated return, the self-play win rate against the pool, the mean of every
    episode_extra_stats key in any run (of any policy), curriculum level last."""
    keys = all_keys(runs)
    extras = sorted(k for k in keys if k.startswith(EXTRA) and k.endswith("/mean") and k != LEVEL_KEY)
    first = [key for key in (RETURN_KEY, EVAL_RETURN_KEY, SELF_PLAY_KEY) if key in keys]
    metrics = first + extras + ([LEVEL_KEY] if LEVEL_KEY in keys else [])
    if not metrics:
        paths = ", ".join(str(run.path) for run in runs)
        raise ConfigError(
            f"no episode statistics in {paths} (no episode finished yet?); train longer or pick columns with --metrics."
        )
    return metrics


def resolve_metric(metric: str, keys: set[str]) -> str:
    """A --metrics entry -> the progress.jsonl column it names; ConfigError when no run has it."""
    candidates = [ALIASES.get(metric, metric), f"{EXTRA}{metric}/mean", f"{metric}_mean", f"derived/{metric}"]
    if metric.startswith("eval/"):  # eval/success: the evaluated mean of an episode_extra_stats key
        candidates.append(f"eval/{EXTRA}{metric.removeprefix('eval/')}/mean")
    for key in candidates:
        if key in keys:
            return key
    known = sorted(
        k for k in keys if k == RETURN_KEY or k.startswith((EXTRA, "derived/")) and not k.endswith(("/min", "/max"))
    )
    hint = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
    raise ConfigError(
        f"metric {metric!r} is in no progress file; choose --metrics from the columns there (e.g. {hint})."
    )


def metric_title(key: str) -> str:
    if key.startswith("eval/") and key != "eval/env_steps":
        rest = key.removeprefix("eval/")
        inner = {"reward": RETURN_KEY, "length": "length_mean"}.get(rest, rest)
        return f"{metric_title(inner)} (evaluation)"
    if key == RETURN_KEY:
        return "episode return"
    if key == "length_mean":
        return "episode length"
    if key == LEVEL_KEY:
        return "curriculum level"
    if key == SELF_PLAY_KEY:
        return "self-play win rate vs pool"
    if key.startswith(EXTRA):
        path, stat = key[len(EXTRA) :].rsplit("/", 1)
        return path if stat == "mean" else f"{path} ({stat})"
    return key


def default_out(cfg: PlotConfig, series: Sequence[Series]) -> Path:
    first = series[0]
    stem = seed_base(first.runs[0].name) if first.group else first.runs[0].name
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem or "plot").strip("_") or "plot"
    return Experiment(cfg.train_dir, first.runs[0].name).plots_dir / f"{stem}.png"


def plot(cfg: PlotConfig) -> list[Path]:
    """Write the PNG(s) for ``cfg`` and return their paths."""
    names = list(dict.fromkeys(cfg.experiment))
    if not names:
        raise ConfigError("give at least one experiment: relayrl plot --experiment NAME [NAME ...].")
    runs = [load_run(cfg.train_dir, name) for name in names]
    keys = all_keys(runs)
    metrics = (
        list(dict.fromkeys(resolve_metric(m, keys) for m in cfg.metrics)) if cfg.metrics else default_metrics(runs)
    )
    series = split_policies(group_runs(runs, cfg.group_seeds))
    out = Path(cfg.out) if cfg.out else default_out(cfg, series)
    if out.suffix.lower() != ".png":
        raise ConfigError(f"--out {out} must end in .png (relayrl plot writes PNG images).")

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch
        from matplotlib.ticker import EngFormatter
    except ImportError as exc:
        raise ConfigError(f"relayrl plot needs matplotlib ({exc}); pip install 'matplotlib>=3.7'.") from exc

    ncols = 1 if len(metrics) == 1 else 2
    nrows = math.ceil(len(metrics) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.4 * ncols, 3.8 * nrows), squeeze=False, layout="constrained")
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    # Past the palette's colors, the next runs reuse them with another line style.
    styles = [(palette[i % len(palette)], LINESTYLES[i // len(palette) % len(LINESTYLES)]) for i in range(len(series))]
    try:
        for ax, key in zip(axes.flat, metrics, strict=False):
            missing = [
                name for entry, style in zip(series, styles, strict=True) for name in _draw(ax, key, entry, *style)
            ]
            if missing:
                log.warning("%s: no %r in %s; left out of that plot", metric_title(key), key, ", ".join(missing))
            ax.set_title(metric_title(key))
            ax.set_xlabel("env steps")
            ax.set_ylabel(metric_title(key).split("/")[-1])
            ax.xaxis.set_major_formatter(EngFormatter(sep=""))
            ax.grid(True, alpha=0.3)
        for ax in axes.flat[len(metrics) :]:
            ax.set_visible(False)
        handles: list[Any] = []
        for entry, (color, linestyle) in zip(series, styles, strict=True):
            line = Line2D([], [], color=color, linestyle=linestyle, linewidth=1.8)
            handles.append((Patch(color=color, alpha=0.2, linewidth=0), line) if entry.group else line)
        fig.legend(
            handles,
            [entry.label for entry in series],
            loc="outside lower center",
            ncol=min(len(series), 4),
            frameon=False,
            title="seed groups: mean across seeds, shaded min-max" if any(e.group for e in series) else None,
            title_fontsize="small",
        )
        fig.suptitle(", ".join(entry.label for entry in series) if len(series) <= 4 else f"{len(series)} experiments")
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(out, dpi=110, format="png")
        except OSError as exc:
            raise ConfigError(f"cannot write {out} ({exc}); choose another --out.") from exc
    finally:
        plt.close(fig)
    written = [out]
    for run in runs:  # runs trained with --pbt: their lineage too
        lineage = plot_lineage(
            run.name, run.rows, out.with_name(f"{out.stem}_pbt_{run.name}.png"), Experiment(cfg.train_dir, run.name)
        )
        if lineage is not None:
            written.append(lineage)
    for run in runs:  # runs trained with --task-curriculum: the distribution over tasks
        tasks = plot_task_distribution(
            run.name, out.with_name(f"{out.stem}_tasks_{run.name}.png"), Experiment(cfg.train_dir, run.name)
        )
        if tasks is not None:
            written.append(tasks)
    return written


def _draw(ax: Any, key: str, entry: Series, color: str, linestyle: str) -> list[str]:
    """Draw ``entry``'s curve of ``key`` on ``ax``; returns the names of its runs that lack ``key``."""
    curves: list[tuple[np.ndarray, np.ndarray]] = []
    missing: list[str] = []
    column = entry.column(key)
    if column is None:
        return missing
    for run in entry.runs:
        curve = run.series(column)
        if curve is None:
            missing.append(run.name if column == key else f"{run.name} policy {entry.policy}")
        else:
            curves.append(curve)
    if not curves:
        return missing
    if not entry.group:
        x, y = curves[0]
        ax.plot(x, y, color=color, linestyle=linestyle, linewidth=1.8, marker="o" if len(x) == 1 else None)
        return missing
    grid, mean, low, high = seed_curve(curves)
    longest = max(float(x[-1]) for x, _ in curves)
    if len(grid) and longest > float(grid[-1]) * 1.05:
        log.warning(
            "%s: the mean of %r stops at %d env steps, where the shortest seed ends (the longest goes to %d)",
            entry.label,
            key,
            int(grid[-1]),
            int(longest),
        )
    ax.fill_between(grid, low, high, color=color, alpha=0.2, linewidth=0)
    ax.plot(grid, mean, color=color, linestyle=linestyle, linewidth=1.8, marker="o" if len(grid) == 1 else None)
    return missing


def parse_plot_args(argv: Sequence[str]) -> PlotConfig:
    """``relayrl plot`` flags -> PlotConfig."""
    return parse(PlotConfig, argv, "plot")


def run(argv: Sequence[str]) -> int:
    cfg = parse_plot_args(argv)
    setup_logging("main")
    for path in plot(cfg):
        print(path)
    return 0
