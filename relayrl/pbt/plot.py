"""The population's lineage as a PNG: every mutated parameter over env steps, one line per policy, and
every copy marked where it happened (``relayrl plot`` draws it for runs trained with ``--pbt``)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

KEY = re.compile(r"^pbt/policy_(?P<policy>\d+)/(?P<param>.+)$")
EVENT_PARAMS = ("copied_from", "copied_at_env_steps")


def lineage_series(rows: Sequence[dict[str, Any]]) -> tuple[dict[str, dict[int, tuple[list, list]]], list[tuple]]:
    """From progress rows: ``{param: {policy: (env steps, values)}}`` and the copies as
    ``(env steps, copier, source)``."""
    params: dict[str, dict[int, tuple[list, list]]] = {}
    copies: list[tuple] = []
    for row in rows:
        for key, value in row.items():
            match = KEY.match(key)
            if match is None or not isinstance(value, int | float):
                continue
            k, param = int(match["policy"]), match["param"]
            if param == "copied_from":
                at = row.get(f"pbt/policy_{k}/copied_at_env_steps", row.get("env_steps", 0))
                copies.append((float(at), k, int(value)))
            elif param not in EVENT_PARAMS:
                xs, ys = params.setdefault(param, {}).setdefault(k, ([], []))
                xs.append(float(row.get("env_steps", 0)))
                ys.append(float(value))
    return params, copies


def plot_lineage(name: str, rows: Sequence[dict[str, Any]], out: Path) -> Path | None:
    """Write run ``name``'s lineage plot to ``out``; None when its rows have no ``pbt/`` values."""
    params, copies = lineage_series(rows)
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
