"""Training info (trainer -> env): what it costs, and how fresh ``approx_total_training_steps`` is.

    python -m benchmarks.training_info --pairs 5 --steps 300000
    python -m benchmarks.training_info --backend ray --pairs 3   # rollout workers on a local Ray cluster

Workload: CartPole-v1, 2 workers x 16 envs, relayrl defaults otherwise. Runs are sequential and
interleaved A B A B ...:

* A (``--env benchmarks.training_info_envs:make_with_interface``): every env is a wrapper that
  implements ``TrainingInfoInterface`` (stores the dict, logs each delivery's time and step count);
* B (``...:make_without_interface``): the same wrapper without the interface, so it gets nothing.

Both wrappers log ``time.monotonic()`` after every env step (one list append), so the per-step
wrapper work is the same on both sides; the throughput ratio median(A fps) / median(B fps) is the
cost of training info. Bar: A within 2% of B.

Freshness (A runs only), against ground truth: all envs' step timestamps (CLOCK_MONOTONIC, shared by
all processes) merged give true_total(t) = env steps taken by time t. For a delivery at time t of
value v: staleness_steps = true_total(t) - v, staleness_seconds = t - (time of the v-th step), both
over deliveries at least 1 s after the run's first env step. Bar: p90 staleness under 0.1 s.

``--backend ray``: the same runs with the workers as Ray actors on a Ray cluster started by this
script on this machine (``benchmarks/local_cluster.py``: a head without CPUs, where the trainer runs,
and ``--ray-nodes`` worker nodes of ``--ray-cpus-per-node`` CPUs each, one object store per node, all
on 127.0.0.1). The step counts then reach each worker through the trainer's hub actor instead of
shared memory (docs/scale-out.md). Bar: p90 staleness under 0.25 s.
Also printed: what relayrl itself reports in progress.jsonl (median over rows). Nothing else should
load the machine meanwhile.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import relayrl
from benchmarks.local_cluster import local_cluster
from relayrl.config import replace

ENVS = "benchmarks.training_info_envs"
SKIP_SECONDS = 1.0
SAMPLE_FACTORY = {"median": (0.33, 3_100), "p90": (1.1, 10_000), "max": (2.3, 20_000)}
PROGRESS_KEYS = (
    "training_info_staleness_steps",
    "training_info_staleness_steps_max",
    "training_info_staleness_seconds",
    "training_info_staleness_seconds_max",
)


def run_once(arm: str, index: int, seed: int, args: argparse.Namespace, train_dir: str) -> dict[str, Any]:
    """One training run; ``arm`` is ``"with"`` or ``"without"``."""
    name = f"{arm}_{index}"
    log_dir = Path(train_dir) / f"{name}_envlog"
    log_dir.mkdir()
    cfg = relayrl.Config(
        env=f"{ENVS}:make_{arm}_interface",
        train_dir=train_dir,
        experiment=name,
        seed=seed,
        train_for_env_steps=args.steps,
    )
    cfg = replace(
        cfg,
        environment__env_kwargs={"log_dir": str(log_dir)},
        sampling__backend=args.backend,
        ray__address=args.ray_address,
        sampling__num_workers=args.num_workers,
        sampling__num_envs_per_worker=args.num_envs,
        logging__report_interval=1.0,
        logging__progress_bar=False,
    )
    summary = relayrl.train(cfg)
    row: dict[str, Any] = {"arm": arm, "index": index, "seed": seed, "fps": summary.fps, "env_steps": summary.env_steps}
    if arm == "with":
        row["freshness"] = freshness(log_dir)
        row["reported"] = reported(Path(summary.experiment_dir) / "progress.jsonl")
    return row


def _stats(x: np.ndarray) -> dict[str, float]:
    if x.size == 0:
        return {"median": float("nan"), "p90": float("nan"), "max": float("nan"), "min": float("nan")}
    return {
        "median": float(np.median(x)),
        "p90": float(np.percentile(x, 90)),
        "max": float(np.max(x)),
        "min": float(np.min(x)),
    }


def load_logs(log_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """All envs' step timestamps (sorted) and deliveries ``[k, 2]`` (time, value)."""
    steps, deliveries = [], []
    for path in sorted(log_dir.glob("*.npz")):
        with np.load(path) as f:
            steps.append(f["steps"])
            deliveries.append(f["deliveries"])
    all_steps = np.sort(np.concatenate(steps)) if steps else np.zeros(0)
    all_deliveries = np.concatenate(deliveries) if deliveries else np.zeros((0, 2))
    return all_steps, all_deliveries


def staleness(steps: np.ndarray, deliveries: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Per delivery at least ``SKIP_SECONDS`` after the first step: (steps behind, seconds behind),
    and how many deliveries had a value above the logged total (not evaluable)."""
    if steps.size == 0 or deliveries.size == 0:
        return np.zeros(0), np.zeros(0), 0
    keep = deliveries[:, 0] >= steps[0] + SKIP_SECONDS
    t, v = deliveries[keep, 0], deliveries[keep, 1].astype(np.int64)
    beyond = int(np.sum(v > steps.size))
    ok = v <= steps.size
    t, v = t[ok], v[ok]
    true_total = np.searchsorted(steps, t, side="right")
    stale_steps = (true_total - v).astype(np.float64)
    reached = np.where(v > 0, steps[np.maximum(v, 1) - 1], t)  # v == 0: counts as 0 s stale
    return stale_steps, t - reached, beyond


def freshness(log_dir: Path) -> dict[str, Any]:
    steps, deliveries = load_logs(log_dir)
    stale_steps, stale_seconds, beyond = staleness(steps, deliveries)
    return {
        "logged_env_steps": int(steps.size),
        "deliveries_total": int(len(deliveries)),
        "deliveries": int(stale_steps.size),
        "deliveries_above_logged_total": beyond,
        "steps": _stats(stale_steps),
        "seconds": _stats(stale_seconds),
        "_raw": (stale_steps, stale_seconds),
    }


def reported(progress: Path) -> dict[str, Any]:
    """Median over progress rows of relayrl's own staleness fields."""
    rows = [json.loads(line) for line in progress.read_text().splitlines() if line.strip()]
    out: dict[str, Any] = {"rows": sum(1 for r in rows if PROGRESS_KEYS[0] in r)}
    for key in PROGRESS_KEYS:
        values = [r[key] for r in rows if key in r]
        out[key] = statistics.median(values) if values else float("nan")
    return out


def _range(xs: list[float]) -> str:
    return f"{min(xs):,.0f}-{max(xs):,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=5, help="A/B pairs, run interleaved A B A B ...")
    parser.add_argument("--steps", type=int, default=300_000, help="env steps per run")
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--num-envs", type=int, default=16, help="envs per worker")
    parser.add_argument(
        "--order",
        choices=["AB", "BA", "ABBA"],
        default="AB",
        help="run order within each pair (A = with interface): AB, BA, or alternating AB, BA, AB ... "
        "(to check for drift over the session)",
    )
    parser.add_argument("--out", type=str, default=None, help="write all numbers as JSON here")
    parser.add_argument("--backend", choices=["local", "ray"], default="local", help="where the workers run")
    parser.add_argument("--ray-nodes", type=int, default=2, help="--backend ray: worker nodes of the local cluster")
    parser.add_argument("--ray-cpus-per-node", type=float, default=1.0, help="--backend ray: CPUs of each node")
    args = parser.parse_args()
    args.ray_address = ""
    with contextlib.ExitStack() as stack:
        if args.backend == "ray":
            args.ray_address = stack.enter_context(local_cluster(args.ray_nodes, args.ray_cpus_per_node))
        run_all(args)


def run_all(args: argparse.Namespace) -> None:
    """The interleaved runs, then the tables."""
    bar = 0.25 if args.backend == "ray" else 0.1
    rows: list[dict[str, Any]] = []
    t_start = time.monotonic()
    with tempfile.TemporaryDirectory() as train_dir:
        for i in range(args.pairs):
            a_first = args.order == "AB" or (args.order == "ABBA" and i % 2 == 0)
            for arm in ("with", "without") if a_first else ("without", "with"):
                row = run_once(arm, i, seed=1 + i, args=args, train_dir=train_dir)
                rows.append(row)
                print(
                    f"[{time.monotonic() - t_start:6.0f}s] pair {i} {arm:>7} interface: {row['fps']:,.0f} fps",
                    flush=True,
                )
    with_rows = [r for r in rows if r["arm"] == "with"]
    without_rows = [r for r in rows if r["arm"] == "without"]

    # ----- cost -----
    fps_with = [r["fps"] for r in with_rows]
    fps_without = [r["fps"] for r in without_rows]
    med_with, med_without = statistics.median(fps_with), statistics.median(fps_without)
    ratio = med_with / med_without
    pair_ratios = [a / b for a, b in zip(fps_with, fps_without, strict=True)]
    wl = f"{args.num_workers} workers x {args.num_envs} envs"
    if args.backend == "ray":
        wl += f", Ray actors on {args.ray_nodes} local nodes of {args.ray_cpus_per_node:g} CPU"
    print()
    print(f"== cost: CartPole-v1, {wl}, {args.steps:,} steps per run, {args.pairs} pairs, order {args.order} ==")
    print(f"{'pair':>4} {'with fps':>10} {'without fps':>12} {'ratio':>7}")
    for i, (a, b) in enumerate(zip(fps_with, fps_without, strict=True)):
        print(f"{i:>4} {a:>10,.0f} {b:>12,.0f} {a / b:>7.3f}")
    print(
        f"median with {med_with:,.0f} (min-max {_range(fps_with)}), without {med_without:,.0f} (min-max {_range(fps_without)})"
    )
    print(
        f"ratio median(with)/median(without) = {ratio:.3f} ({(ratio - 1) * 100:+.1f}%); "
        f"per-pair ratios min-max {min(pair_ratios):.3f}-{max(pair_ratios):.3f}; "
        f"bar (within 2%): {'met' if ratio >= 0.98 else 'NOT met'}"
    )

    # ----- freshness -----
    raw_steps = np.concatenate([r["freshness"]["_raw"][0] for r in with_rows])
    raw_seconds = np.concatenate([r["freshness"]["_raw"][1] for r in with_rows])
    pooled = {"deliveries": int(raw_steps.size), "steps": _stats(raw_steps), "seconds": _stats(raw_seconds)}
    print()
    print(
        f"== freshness of approx_total_training_steps vs ground truth (with-interface runs, t >= first step + {SKIP_SECONDS:g} s) =="
    )
    head = f"{'run':>6} {'deliv':>7} {'med s':>8} {'p90 s':>8} {'max s':>8} {'min s':>9} {'med st':>7} {'p90 st':>7} {'max st':>7} {'min st':>7}"
    print(head)

    def line(label: str, n: int, st: dict, se: dict) -> str:
        return (
            f"{label:>6} {n:>7,} {se['median']:>8.4f} {se['p90']:>8.4f} {se['max']:>8.4f} {se['min']:>9.4f} "
            f"{st['median']:>7.0f} {st['p90']:>7.0f} {st['max']:>7.0f} {st['min']:>7.0f}"
        )

    for r in with_rows:
        f = r["freshness"]
        print(line(f"A{r['index']}", f["deliveries"], f["steps"], f["seconds"]))
    print(line("all", pooled["deliveries"], pooled["steps"], pooled["seconds"]))
    for r in with_rows:
        f = r["freshness"]
        if f["deliveries_above_logged_total"]:
            print(
                f"  A{r['index']}: {f['deliveries_above_logged_total']} deliveries above the logged step total (skipped)"
            )
        if f["logged_env_steps"] < r["env_steps"]:
            print(
                f"  A{r['index']}: logged {f['logged_env_steps']:,} env steps < {r['env_steps']:,} counted by the runner"
            )
    p90 = pooled["seconds"]["p90"]
    print(f"bar (p90 staleness < {bar:g} s): {'met' if p90 < bar else 'NOT met'} (p90 {p90:.4f} s)")
    sf = SAMPLE_FACTORY
    print(
        "Sample Factory 2.1.1, same workload, this machine class (reference): "
        f"median {sf['median'][0]} s / {sf['median'][1] / 1000:.1f}k steps, p90 {sf['p90'][0]} s / "
        f"{sf['p90'][1] / 1000:.0f}k steps, max {sf['max'][0]} s / {sf['max'][1] / 1000:.0f}k steps"
    )

    # ----- relayrl's own report -----
    print()
    print("== relayrl's own staleness report (progress.jsonl, median over rows) ==")
    print(f"{'run':>6} {'rows':>5} {'steps':>8} {'steps_max':>10} {'seconds':>10} {'seconds_max':>12}")
    for r in with_rows:
        p = r["reported"]
        print(
            f"{'A' + str(r['index']):>6} {p['rows']:>5} {p[PROGRESS_KEYS[0]]:>8.1f} {p[PROGRESS_KEYS[1]]:>10.1f} "
            f"{p[PROGRESS_KEYS[2]]:>10.6f} {p[PROGRESS_KEYS[3]]:>12.6f}"
        )

    # ----- summary for docs/benchmarks.md -----
    st, se = pooled["steps"], pooled["seconds"]
    print()
    print("---- paste into docs/benchmarks.md ----")
    print(f"CartPole-v1, {wl}, {args.steps:,} env steps per run, {args.pairs} interleaved pairs (order {args.order}):")
    print()
    print("| | with TrainingInfoInterface | without | ratio |")
    print("|---|---:|---:|---:|")
    print(
        f"| fps, median (min-max) | {med_with:,.0f} ({_range(fps_with)}) | {med_without:,.0f} ({_range(fps_without)}) "
        f"| {ratio:.3f} |"
    )
    print()
    print(
        f"Staleness of `approx_total_training_steps` at delivery vs ground truth ({pooled['deliveries']:,} deliveries):"
    )
    print()
    print("| | median | p90 | max | min |")
    print("|---|---:|---:|---:|---:|")
    print(f"| relayrl, seconds | {se['median']:.4f} | {se['p90']:.4f} | {se['max']:.4f} | {se['min']:.4f} |")
    print(f"| relayrl, env steps | {st['median']:.0f} | {st['p90']:.0f} | {st['max']:.0f} | {st['min']:.0f} |")
    print(f"| Sample Factory 2.1.1, seconds | {sf['median'][0]} | {sf['p90'][0]} | {sf['max'][0]} | - |")
    print(f"| Sample Factory 2.1.1, env steps | {sf['median'][1]:,} | {sf['p90'][1]:,} | {sf['max'][1]:,} | - |")
    print("---------------------------------------")

    if args.out:
        for r in with_rows:
            r["freshness"].pop("_raw")
        out = {
            "args": vars(args),
            "runs": rows,
            "cost": {
                "median_fps_with": med_with,
                "median_fps_without": med_without,
                "ratio": ratio,
                "pair_ratios": pair_ratios,
            },
            "freshness_pooled": pooled,
            "sample_factory_reference": sf,
        }
        Path(args.out).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
