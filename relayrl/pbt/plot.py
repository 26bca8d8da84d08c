"""The population's lineage as a PNG: every mutated parameter over env steps, one line per policy, and
every copy marked where it happened (``relayrl plot`` draws it for runs trained with ``--pbt``).

The lines and the copies come from the lineage (``pbt/lineage_log.py``: the experiment's lineage file,
or the latest checkpoint's for an experiment trained before the file existed), so every copy is drawn
and the lines step at the env steps of each copy and mutation. The progress rows say which parameters
there are, and give the value of one that no event changed.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from relayrl.experiment import Experiment
from relayrl.pbt.lineage_log import read_lineage

log = logging.getLogger("relayrl.plot")

KEY = re.compile(r"^pbt/policy_(?P<policy>\d+)/(?P<param>.+)$")
EVENT_PARAMS = ("copied_from", "copied_at_env_steps")
"""Per-row copy columns of progress files written before the lineage file existed (not parameters)."""

Series = dict[str, dict[int, tuple[list[float], list[float]]]]


def lineage_series(rows: Sequence[dict[str, Any]], lineage: Sequence[dict[str, Any]]) -> tuple[Series, list[tuple]]:
    """``{param: {policy: (env steps, values)}}`` with a point at every event that changed the policy
    (copy and/or mutation), and every copy as ``(env steps, copier, source)``.

    Every policy starts from the configured values (the ``old`` values of the start mutations, else
    the parameter's first value in ``rows``); a copy takes the source's values, a mutation its ``new``
    one. The lines run to the last row's env steps."""
    first: dict[tuple[int, str], float] = {}
    xs_seen: list[float] = []
    for row in rows:
        if isinstance(row.get("env_steps"), int | float):
            xs_seen.append(float(row["env_steps"]))
        for key, value in row.items():
            match = KEY.match(key)
            if match and match["param"] not in EVENT_PARAMS and isinstance(value, int | float):
                first.setdefault((int(match["policy"]), match["param"]), float(value))
    names = sorted({param for _, param in first})
    policies = sorted({k for k, _ in first} | {int(e["policy"]) for e in lineage})
    configured: dict[str, float] = {}
    for event in lineage:
        if event.get("copied_from") is None:
            for mu in event.get("mutations", []):
                configured.setdefault(mu["name"], float(mu["old"]))
    events = sorted(lineage, key=lambda e: float(e["env_steps"]))  # stable: same-step events keep their order
    start = min([float(e["env_steps"]) for e in events] + xs_seen, default=0.0)
    current = {k: {p: configured.get(p, first.get((k, p))) for p in names} for k in policies}
    params: Series = {p: {} for p in names}

    def point(k: int, x: float) -> None:
        for p, value in current[k].items():
            if value is not None:
                xs, ys = params[p].setdefault(k, ([], []))
                xs.append(x)
                ys.append(value)

    for k in policies:
        point(k, start)
    copies: list[tuple] = []
    for event in events:
        k, x, source = int(event["policy"]), float(event["env_steps"]), event.get("copied_from")
        if source is not None:
            copies.append((x, k, int(source)))
            current[k] = dict(current.get(int(source), current[k]))
        for mu in event.get("mutations", []):
            if mu["name"] in current[k]:
                current[k][mu["name"]] = float(mu["new"])
        point(k, x)
    end = max(xs_seen + [float(e["env_steps"]) for e in events], default=start)
    for k in policies:
        point(k, end)
    return {p: series for p, series in params.items() if series}, copies


def plot_lineage(name: str, rows: Sequence[dict[str, Any]], out: Path, experiment: Experiment) -> Path | None:
    """Write run ``name``'s lineage plot (``experiment``'s lineage, ``rows`` its progress rows) to
    ``out``; None when its rows have no ``pbt/`` values (not a PBT run) or it has no lineage."""
    if not any(KEY.match(key) for row in rows for key in row):
        return None
    lineage = read_lineage(experiment)
    if lineage is None:
        log.warning("%s: no %s and no checkpoint; no lineage plot", experiment.root, experiment.pbt_lineage_path.name)
        return None
    params, copies = lineage_series(rows, lineage)
    if not params:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import EngFormatter

    names = sorted(params)
    ncols = 1 if len(names) == 1 else 2
    nrows = math.ceil(len(names) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.4 * ncols, 3.4 * nrows), squeeze=False, layout="constrained")
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    try:
        for ax, param in zip(axes.flat, names, strict=False):
            for k, (xs, ys) in sorted(params[param].items()):
                color = palette[k % len(palette)]
                ax.step(xs, ys, where="post", color=color, linewidth=1.6, label=f"policy {k}")
                for at, copier, source in copies:
                    if copier == k:
                        ax.axvline(at, color=color, alpha=0.35, linestyle=":", linewidth=1)
                        ax.annotate(f"{source}->{k}", (at, ax.get_ylim()[1]), fontsize=6, color=color, va="top")
            ax.set_title(param)
            ax.set_xlabel("env steps")
            ax.xaxis.set_major_formatter(EngFormatter(sep=""))
            ax.grid(True, alpha=0.3)
        for ax in axes.flat[len(names) :]:
            ax.set_visible(False)
        handles, labels = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 8), frameon=False)
        fig.suptitle(f"{name}: population-based training ({len(copies)} copies, dotted: copy source->copier)")
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=110, format="png")
    finally:
        plt.close(fig)
    return out
