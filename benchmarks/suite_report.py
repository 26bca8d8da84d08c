"""The tables and the learning-curve plot of ``benchmarks.suite``, from the runs' result dicts."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

# Published references (deterministic evaluation of the trained agent).
RL_ZOO_PPO = {"HalfCheetah": 5819.0, "Hopper": 2410.0, "Walker2d": 3479.0, "Ant": 1327.0}
"""RL Zoo's benchmark table, PPO, v3 envs, 1M steps (the quality targets)."""
SAMPLE_FACTORY_10M = {"HalfCheetah": 6263.0, "Hopper": 2793.0, "Walker2d": 5488.0, "Ant": 5876.0}
"""Sample Factory's MuJoCo table, APPO, v4 envs, 10M steps (for reference: ten times the budget)."""


def family(env: str) -> str:
    """``HalfCheetah-v5`` -> ``HalfCheetah``."""
    return env.split("-")[0]


def _mean_spread(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:,.0f}"
    return f"{statistics.mean(values):,.0f} ± {statistics.stdev(values):,.0f}"


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _fmt(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def group(results: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(framework, env) -> its successful runs, in seed order."""
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in sorted(results, key=lambda r: (r["framework"], r["env"], r["seed"])):
        if "error" not in r:
            out.setdefault((r["framework"], r["env"]), []).append(r)
    return out


def summary_table(results: list[dict[str, Any]]) -> str:
    """One row per (framework, env): deterministic returns (mean ± std over seeds), wall, frames/s."""
    lines = [
        "| framework | env | seeds | env steps | best.pt return | final return | per seed (best / final) | "
        "wall s (median) | frames/s (median) | RL Zoo PPO 1M | SF 10M |",
        "|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for (fw, env), runs in group(results).items():
        best = [r["best_return"] for r in runs if r.get("best_return") is not None]
        final = [r["final_return"] for r in runs if r.get("final_return") is not None]
        per_seed = ", ".join(
            f"s{r['seed']}: {_fmt(r.get('best_return'))} / {_fmt(r.get('final_return'))}" for r in runs
        )
        wall = _median([r["wall_s"] for r in runs if r.get("wall_s")])
        fps = _median([r["fps"] for r in runs if r.get("fps")])
        fam = family(env)
        frames = _median([r["frames"] for r in runs if r.get("frames")])
        lines.append(
            f"| {fw} | {env} | {len(runs)} | {_fmt(frames)} | {_mean_spread(best)} | {_mean_spread(final)} | {per_seed} | "
            f"{_fmt(wall)} | {_fmt(fps)} | {_fmt(RL_ZOO_PPO.get(fam))} | {_fmt(SAMPLE_FACTORY_10M.get(fam))} |"
        )
    return "\n".join(lines)


def targets_table(results: list[dict[str, Any]]) -> str:
    """The issue's targets per env: relayrl's mean over seeds against the Zoo, wall against SB3-Zoo's."""
    groups = group(results)
    lines = [
        "| env | relayrl final (mean) | relayrl best.pt (mean) | RL Zoo | quality | relayrl wall s | "
        "SB3-Zoo wall s (same env steps) | wall ratio | speed (<= 0.2) |",
        "|---|---:|---:|---:|---|---:|---:|---:|---|",
    ]
    envs = sorted({env for fw, env in groups if fw == "relayrl"})
    for env in envs:
        runs = groups[("relayrl", env)]
        final = statistics.mean(r["final_return"] for r in runs)
        best = statistics.mean(r["best_return"] for r in runs)
        zoo = RL_ZOO_PPO.get(family(env))
        if zoo is None:
            quality = "-"
        else:
            verdicts = [
                f"{name} {'met' if v >= zoo else f'{v - zoo:+,.0f} ({v / zoo:.0%})'}"
                for name, v in (("final", final), ("best", best))
            ]
            quality = "; ".join(verdicts)
        wall = statistics.median(r["wall_s"] for r in runs)
        peer = groups.get(("sb3-zoo", env), [])
        peer_wall = None
        peer_text = "-"
        if peer:
            frames = statistics.median(r["frames"] for r in runs)
            # a peer run stopped early (--peer-seconds) is scaled to relayrl's env steps by its own frames/s
            walls = [r["wall_s"] * frames / r["frames"] for r in peer]
            peer_wall = statistics.median(walls)
            peer_text = f"{peer_wall:,.0f}"
            if any(r["frames"] < 0.99 * frames for r in peer):
                got = min(r["frames"] for r in peer)
                peer_text += f" (extrapolated from a run of {got:,} steps)"
        ratio = wall / peer_wall if peer_wall else None
        speed = "-" if ratio is None else ("met" if ratio <= 0.2 else "missed")
        lines.append(
            f"| {env} | {final:,.0f} | {best:,.0f} | {_fmt(zoo)} | {quality} | {wall:,.0f} | {peer_text} | "
            f"{_fmt(ratio, 3)} | {speed} |"
        )
    return "\n".join(lines)


def load_curve(path: str) -> tuple[list[float], list[float]]:
    """(env steps, mean training return) from a progress.jsonl (relayrl's or the SB3 runner's)."""
    xs: list[float] = []
    ys: list[float] = []
    p = Path(path)
    if not p.exists():
        return xs, ys
    for line in p.read_text().splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        if row.get("reward_mean") is not None:
            xs.append(float(row["env_steps"]))
            ys.append(float(row["reward_mean"]))
    return xs, ys


def plot_curves(results: list[dict[str, Any]], out: Path) -> Path:
    """Learning curves (mean return of the last 100 training episodes vs env steps), one panel per env,
    one line per run; the RL Zoo's 1M result as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = group(results)
    envs = sorted({env for _, env in groups})
    cols = min(2, len(envs))
    rows = -(-len(envs) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6 * cols, 4 * rows), squeeze=False)
    colors = {"relayrl": "tab:blue", "sb3-zoo": "tab:orange"}
    for ax, env in zip(axes.flat, envs, strict=False):
        for (fw, e), runs in groups.items():
            if e != env:
                continue
            for i, r in enumerate(runs):
                xs, ys = load_curve(r["progress"])
                ax.plot(xs, ys, color=colors.get(fw, "gray"), alpha=0.8, label=fw if i == 0 else None)
        zoo = RL_ZOO_PPO.get(family(env))
        if zoo is not None:
            ax.axhline(zoo, color="black", linestyle="--", linewidth=1, label="RL Zoo PPO (1M, deterministic)")
        ax.set_title(env)
        ax.set_xlabel("env steps")
        ax.set_ylabel("training episode return (last 100)")
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(envs) :]:
        ax.set_visible(False)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
