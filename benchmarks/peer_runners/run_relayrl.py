"""relayrl runner for ``benchmarks.compare`` (run with relayrl's venv python).

    python benchmarks/peer_runners/run_relayrl.py '<params json>'

Trains once with the workload's settings and prints one JSON line: env frames, wall seconds, fps,
the episode-log analysis (time to the target return, steady fps) and relayrl's per-phase timing
(time-weighted means of the ``worker_*_frac`` / ``main_*_frac`` fields of progress.jsonl).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from pathlib import Path

import bench_common as bc

import relayrl
from relayrl.config import replace


class TrafficRecord(logging.Filter):
    """Keeps the object-store traffic that ``--backend ray`` logs when it stops (``extra={"traffic": ...}``)."""

    def __init__(self) -> None:
        super().__init__()
        self.summary: dict | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if hasattr(record, "traffic"):
            self.summary = record.traffic
        return True


def phase_means(progress: Path) -> dict[str, float]:
    """Time-weighted means of the per-phase fractions and the median of the per-report fps."""
    rows = [json.loads(line) for line in progress.read_text().splitlines() if line.strip()]
    weights: dict[str, float] = {}
    sums: dict[str, float] = {}
    prev = 0.0
    fps = []
    for row in rows:
        dt = row["train_seconds"] - prev
        prev = row["train_seconds"]
        if dt <= 0:
            continue
        fps.append(row["fps"])
        for key, value in row.items():
            if key.endswith("_frac"):
                sums[key] = sums.get(key, 0.0) + value * dt
                weights[key] = weights.get(key, 0.0) + dt
    out = {key: sums[key] / weights[key] for key in sorted(sums)}
    if len(fps) > 2:
        inner = sorted(fps[1:-1])  # first row includes start-up, the last one is the forced final report
        out["report_fps_median"] = inner[len(inner) // 2]
    return out


def first_reaching(progress: Path, target: float, window: int) -> dict | None:
    for line in progress.read_text().splitlines():
        row = json.loads(line)
        if row.get("episodes", 0) >= window and row.get("reward_mean", float("-inf")) >= target:
            return row
    return None


def main() -> None:
    p = bc.load_params()
    vectorized = bool(p.get("vectorized", False))
    episode_log = bool(p.get("episode_log", True)) and not vectorized
    env = f"bench_common:make_{p['env_kind']}" if episode_log else p["env"]
    cfg = relayrl.Config(
        env=env,
        train_dir=p["work_dir"],
        experiment="relayrl",
        seed=p["seed"],
        train_for_env_steps=p["steps"],
    )
    cfg = replace(
        cfg,
        environment__vectorized=vectorized,
        sampling__num_workers=p["num_workers"],
        sampling__num_envs_per_worker=p["envs_per_worker"],
        sampling__rollout_length=p["rollout"],
        algorithm__batch_size=p["batch_size"],
        algorithm__num_epochs=p["epochs"],
        algorithm__num_minibatches=p["minibatches"],
        algorithm__lr=p["lr"],
        algorithm__lr_schedule=p["lr_schedule"],
        algorithm__gamma=p["gamma"],
        algorithm__gae_lambda=p["gae_lambda"],
        algorithm__clip_coef=p["clip"],
        algorithm__ent_coef=p["ent_coef"],
        algorithm__vf_coef=p["vf_coef"],
        algorithm__max_grad_norm=p["max_grad_norm"],
        algorithm__adam_eps=p["adam_eps"],
        model__hidden_sizes=tuple(p["hidden"]),
        model__activation=p["activation"],
        model__shared_actor_critic=bool(p.get("shared", False)),
        algorithm__learner_threads=p.get("learner_threads"),  # None: relayrl's default
        logging__report_interval=1.0,
        logging__progress_bar=False,
    )
    # relayrl-only variants (Framework.extra): sampling mode, off-policy correction, advantage std floor,
    # weight publication
    if "sampling_mode" in p:
        cfg = replace(cfg, sampling__mode=p["sampling_mode"])
    if "off_policy_correction" in p:
        cfg = replace(cfg, algorithm__off_policy_correction=p["off_policy_correction"])
    if "advantage_std_floor" in p:
        cfg = replace(cfg, algorithm__advantage_std_floor=p["advantage_std_floor"])
    if "publish_every_epoch" in p:
        cfg = replace(cfg, sampling__publish_every_epoch=p["publish_every_epoch"])
    if "backend" in p:
        cfg = replace(cfg, sampling__backend=p["backend"])
    traffic = TrafficRecord()
    logging.getLogger("relayrl.workers").addFilter(traffic)
    train = relayrl.train  # relayrl imports its trainer on first use: before the clock, as the peers do
    t0 = time.time()
    # at the target: SIGTERM to this process, which relayrl handles as a clean stop (checkpoint, summary)
    bc.watch_target(p, lambda: os.kill(os.getpid(), signal.SIGTERM))
    summary = train(cfg)
    wall = time.time() - t0
    progress = Path(summary.experiment_dir) / "progress.jsonl"
    result = {
        "framework": "relayrl-vec" if vectorized else "relayrl",
        "frames": summary.env_steps,
        "wall_s": wall,
        "fps": summary.env_steps / wall,
        "phases": phase_means(progress),
    }
    if traffic.summary is not None:  # --backend ray: bytes through the object store, per update
        updates = max(summary.policy_version, 1)
        result["traffic"] = traffic.summary
        result["traffic_per_update"] = {
            key: traffic.summary[key] / updates
            for key in ("trajectory_bytes", "report_bytes", "published_bytes", "weights_read_bytes", "info_bytes")
        }
    if episode_log:
        result.update(bc.analyse(os.environ[bc.EPISODE_DIR_VAR], t0, p["target"], p["window"]))
    else:
        # no per-env wrapper (a vector env): relayrl's own windowed mean, 1 s report resolution;
        # train_seconds starts after start-up, so the start-up (wall - train_seconds) is added back
        hit = first_reaching(progress, p["target"], p["window"])
        startup = max(0.0, wall - summary.train_seconds)
        result.update(
            {
                "solved": hit is not None,
                "seconds_to_target": hit["train_seconds"] + startup if hit else None,
                "frames_to_target": hit["env_steps"] if hit else None,
                "final_mean_return": summary.stats.get("reward_mean"),
                "steady_fps": result["phases"].get("report_fps_median"),
            }
        )
    bc.emit(result)


if __name__ == "__main__":
    main()
