"""A task curriculum's sampling distribution over time as a PNG heatmap (``relayrl plot`` draws it for
runs trained with ``--task-curriculum``, from their ``task_distribution.jsonl``).

One row per task, sorted by its mean probability over the records (top: the most played); one column
per record, from its env steps to the next record's. The color is the probability times the number of
tasks on a log scale, so 1 is uniform, 10 ten times more often than uniform, 0.01 a hundred times less.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from relayrl.experiment import Experiment
from relayrl.level_replay.distribution_log import read_distribution

log = logging.getLogger("relayrl.plot")

KIND_TITLE = {"plr": "Prioritized Level Replay", "learning_progress": "learning progress"}
LABELLED_ROWS = 40
"""Up to this many tasks, every row is labelled with its task index."""
FLOOR = 1e-2
"""The lowest relative probability the colors tell apart (lower ones, and 0, get the lowest color)."""


def entropy(probs: np.ndarray) -> float:
    """Shannon entropy (nats); here rather than from ``relayrl.curriculum``, which imports gymnasium."""
    p = probs[probs > 0]
    return float(-(p * np.log(p)).sum())


def column_edges(steps: np.ndarray) -> np.ndarray:
    """The env-step edges of the columns: each record holds from its env steps to the next record's;
    the last one for the median gap (1 env step when there is a single record)."""
    gaps = np.diff(steps)
    last = float(np.median(gaps)) if len(gaps) and np.median(gaps) > 0 else 1.0
    return np.append(steps, steps[-1] + last)


def plot_task_distribution(name: str, out: Path, experiment: Experiment) -> Path | None:
    """Write run ``name``'s task-distribution heatmap to ``out``; None when the experiment has no
    task-distribution file (a run without a task curriculum)."""
    data = read_distribution(experiment)
    if data is None:
        return None
    kind, steps, probs = data
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm
    from matplotlib.ticker import EngFormatter

    num_tasks = probs.shape[1]
    order = np.argsort(-probs.mean(axis=0), kind="stable")
    relative = probs[:, order].T * num_tasks  # [tasks, records], 1 = uniform
    top = max(10.0, float(relative.max()))
    viridis = matplotlib.colormaps["viridis"]
    cmap = viridis.with_extremes(bad=viridis(0.0))  # a probability of 0 (masked by the log scale): the lowest color
    height = min(9.0, 2.5 + 0.06 * num_tasks)
    fig, ax = plt.subplots(figsize=(9.0, height), layout="constrained")
    try:
        mesh = ax.pcolormesh(
            column_edges(steps),
            np.arange(num_tasks + 1),
            np.ma.masked_less_equal(relative, 0.0),
            norm=LogNorm(vmin=FLOOR, vmax=top, clip=True),
            cmap=cmap,
            shading="flat",
        )
        ax.invert_yaxis()  # the most played task on top
        if num_tasks <= LABELLED_ROWS:
            ax.set_yticks(np.arange(num_tasks) + 0.5, [str(int(i)) for i in order], fontsize=7)
            ax.set_ylabel("task index (by mean probability)")
        else:
            ax.set_ylabel(f"{num_tasks} tasks, by mean probability (top: highest)")
        ax.set_xlabel("env steps")
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))
        fig.colorbar(mesh, ax=ax, label="probability x number of tasks (1: uniform)")
        final = probs[-1]
        ax.set_title(
            f"{name}: {KIND_TITLE.get(kind, kind or 'task curriculum')} over {num_tasks} tasks ({len(steps)} records)\n"
            f"at the end: entropy {entropy(final):.2f} nats (uniform {np.log(num_tasks):.2f}), "
            f"top task {int(np.argmax(final))} at {final.max():.2f}",
            fontsize=9,
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=110, format="png")
    finally:
        plt.close(fig)
    return out
