"""Episode statistics, per-phase timing, console report, TensorBoard, other scalar sinks and the progress file.

Everything here runs in the main process and is fed by the training loop: finished episodes (from
the rollout reports), worker timing, learner statistics. TensorBoard's x-axis is env steps, so a
resumed run continues its curves where they stopped. The scalars TensorBoard gets are collected
into one dict per report, which every ``ScalarSink`` (e.g. Weights & Biases with ``--wandb``) gets too.
"""

from __future__ import annotations

import collections
import datetime
import json
import logging
import sys
import time
from typing import Any, Protocol

import numpy as np

from relayrl.config import Config
from relayrl.experiment import Experiment
from relayrl.hooks import resolve_hook
from relayrl.trainer.episode_stats import EpisodeStatsWindow
from relayrl.trainer.policy_set import PolicySet
from relayrl.worker.report import RolloutReport

log = logging.getLogger("relayrl.report")

LOSS_KEYS = ("loss", "pg_loss", "v_loss", "entropy_loss")
POLICY_KEYS = ("approx_kl", "clipfrac", "explained_variance", "grad_norm", "lr", "value_mean", "advantage_mean")


class ScalarSink(Protocol):
    """Somewhere besides TensorBoard that a report's scalars go."""

    def log_scalars(self, scalars: dict[str, float], step: int) -> None: ...

    def close(self) -> None: ...


def _policy_scalar(key: str, value: float) -> dict[str, float]:
    """A ``policy_<k>/...`` progress key as its TensorBoard tag, in the same families as the top level:
    ``policy_1/reward_mean`` -> ``policy_1/reward/episode_return_mean``."""
    prefix, rest = key.split("/", 1)
    for name, tag in (("reward", "episode_return"), ("length", "episode_length")):
        for stat in ("mean", "min", "max"):
            if rest == f"{name}_{stat}":
                return {f"{prefix}/reward/{tag}_{stat}": value}
    if rest.startswith("episode_extra_stats/"):
        path, stat = rest[len("episode_extra_stats/") :].rsplit("/", 1)
        family = "episode_extra_stats" if stat == "mean" else f"episode_extra_stats_{stat}"
        return {f"{prefix}/{family}/{path}": value}
    if rest.startswith("learner/"):
        name = rest[len("learner/") :]
        family = "losses" if name in LOSS_KEYS else "policy_stats"
        return {f"{prefix}/{family}/{name}": value}
    return {}


class Reporter:
    """Aggregates what the loop feeds it and writes it out every ``report_interval`` seconds."""

    def __init__(self, cfg: Config, experiment: Experiment, policies: PolicySet, env_steps: int, resumed: bool) -> None:
        """``policies``: the run's policies, whose windows and learner stats give the ``policy_<k>/...``
        keys (with several policies) and the best-policy line of the console."""
        self.cfg = cfg
        self.policies = policies
        self.run_window = EpisodeStatsWindow(cfg.logging.stats_window)
        """The run's episodes (those of every trained policy): the top-level keys."""
        self.metrics_fn = resolve_hook(cfg.logging.metrics_fn, "--metrics-fn")
        self.staleness_steps: list[float] = []
        self.staleness_seconds: list[float] = []
        self.env_errors = 0
        self.env_errors_total = 0
        self.worker_timing: dict[str, float] = collections.defaultdict(float)
        self.main_timing: dict[str, float] = collections.defaultdict(float)
        self.lags: list[float] = []
        self.last_time = time.monotonic()
        self.last_steps = env_steps
        self.start_steps = env_steps
        self.start_time = self.last_time
        self.progress_path = experiment.progress_path
        self.tensorboard_dir = experiment.tensorboard_dir
        self.writer: Any = None
        """TensorBoard's writer, created at the first report: importing it costs ~0.2 s of start-up."""
        self.sinks: list[ScalarSink] = []
        if cfg.logging.wandb:
            from relayrl.trainer.wandb_sink import WandbSink

            wandb_sink = WandbSink(cfg.logging, experiment)
            wandb_sink.log_config(cfg.to_dict())
            self.sinks.append(wandb_sink)
        self.bar: Any = None
        if cfg.logging.progress_bar and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(
                total=cfg.train_for_env_steps,
                initial=env_steps,
                unit="step",
                unit_scale=True,
                dynamic_ncols=True,
                leave=False,
            )
        if resumed:
            log.info("resuming at %d env steps", env_steps)

    # ----- inputs -----

    def add_rollout(self, report: RolloutReport, policy_lag: int) -> None:
        """Take a worker's ``RolloutReport``: episodes, timing, training-info staleness samples."""
        # episodes of self-play snapshots (controllers that are not trained policies) are not reported
        self.run_window.add(ep for ep in report.episodes if ep.policy_id in self.policies)
        for key, value in report.timing.items():
            self.worker_timing[key] += value
        self.lags.append(float(policy_lag))
        self.staleness_steps.extend(report.staleness_steps)
        self.staleness_seconds.extend(report.staleness_seconds)
        self.env_errors += report.env_errors
        self.env_errors_total += report.env_errors

    def add_main_time(self, phase: str, seconds: float) -> None:
        self.main_timing[phase] += seconds

    # ----- aggregates -----

    def episode_stats(self) -> dict[str, float]:
        """Flat mean/min/max of return, length and every extra stat over the run's window."""
        return self.run_window.flat()

    def training_stats(self) -> dict[str, Any]:
        """The run's nested aggregate (``training_info["stats"]`` layout; each env gets its own policy's)."""
        return self.run_window.summary()

    @property
    def learner_stats(self) -> dict[str, float]:
        """The last update's statistics: the policy's with one policy, ``policy_<k>/<key>`` with several."""
        policies = self.policies.all()
        if len(policies) == 1:
            return dict(policies[0].learner_stats)
        return {f"policy_{p.id}/{key}": v for p in policies for key, v in p.learner_stats.items()}

    def _policy_rows(self) -> dict[str, float]:
        """``policy_<k>/...`` progress-file keys of every policy (several policies only)."""
        out: dict[str, float] = {}
        if len(self.policies) == 1:
            return out
        for p in self.policies.all():
            out.update({f"policy_{p.id}/{key}": value for key, value in p.window.flat().items()})
            out.update({f"policy_{p.id}/learner/{key}": v for key, v in p.learner_stats.items()})
        return out

    def _derived(self) -> dict[str, float]:
        if self.metrics_fn is None:
            return {}
        result = self.metrics_fn(self.training_stats())
        if not isinstance(result, dict):
            raise TypeError(
                f"--metrics-fn {self.cfg.logging.metrics_fn!r} returned {type(result).__name__}, "
                "expected a dict of {name: number}"
            )
        out = {}
        for key, value in result.items():
            try:
                out[str(key)] = float(value)
            except (TypeError, ValueError):
                log.warning("--metrics-fn value %r for %r is not a number; skipped", value, key)
        return out

    # ----- output -----

    def update_bar(self, env_steps: int) -> None:
        if self.bar is not None:
            self.bar.update(max(0, env_steps - self.bar.n))

    def report(
        self, env_steps: int, train_seconds: float, worker_restarts: int, extra: dict[str, float] | None = None
    ) -> dict[str, Any]:
        """Write one console line, TensorBoard scalars and a progress-file row; reset interval counters.

        ``worker_restarts``: the rollout source's count of restarted workers in this session; ``extra``:
        the extensions' values, reported as they are (e.g. ``self_play/win_rate_vs_pool``)."""
        extra = dict(extra or {})
        policy_version = self.policies.latest_version
        now = time.monotonic()
        dt = max(now - self.last_time, 1e-9)
        fps = (env_steps - self.last_steps) / dt
        ep = self.episode_stats()
        worker_busy = sum(self.worker_timing.values())
        timing = {f"worker_{k}_frac": v / worker_busy for k, v in self.worker_timing.items()} if worker_busy else {}
        timing.update({f"main_{k}_frac": v / dt for k, v in self.main_timing.items()})
        lag_mean = float(np.mean(self.lags)) if self.lags else 0.0
        lag_max = float(np.max(self.lags)) if self.lags else 0.0
        staleness = {}
        if self.staleness_steps:
            staleness = {
                "training_info_staleness_steps": float(np.median(self.staleness_steps)),
                "training_info_staleness_steps_max": float(np.max(self.staleness_steps)),
                "training_info_staleness_seconds": float(np.median(self.staleness_seconds)),
                "training_info_staleness_seconds_max": float(np.max(self.staleness_seconds)),
            }
        derived = self._derived()
        row: dict[str, Any] = {
            "env_steps": env_steps,
            "policy_version": policy_version,
            "train_seconds": round(train_seconds, 3),
            "fps": fps,
            "policy_lag_mean": lag_mean,
            "policy_lag_max": lag_max,
            **ep,
            # one policy: its learner statistics at the top level; several: under policy_<k>/learner/
            **({f"learner/{k}": v for k, v in self.learner_stats.items()} if len(self.policies) == 1 else {}),
            **timing,
            **staleness,
            "env_errors": self.env_errors,
            "env_errors_total": self.env_errors_total,
            "worker_restarts": worker_restarts,
            **{f"derived/{k}": v for k, v in derived.items()},
            **self._policy_rows(),
            **extra,
        }
        self._console(row, timing)
        faults = {"env_errors": float(self.env_errors), "worker_restarts": float(worker_restarts)}
        scalars = self._scalars(row, {**timing, **staleness, **faults}, derived, extra)
        self._tensorboard(scalars, env_steps)
        for sink in list(self.sinks):
            try:
                sink.log_scalars(scalars, env_steps)
            except Exception as exc:  # noqa: BLE001 - a logging service must not stop training
                log.error(
                    "%s failed (%s: %s); training goes on without it", type(sink).__name__, type(exc).__name__, exc
                )
                self.sinks.remove(sink)
        try:
            with open(self.progress_path, "a") as f:
                f.write(json.dumps(row) + "\n")
        except OSError as exc:
            log.error("could not append to %s (%s); the console report goes on", self.progress_path, exc)
        self.last_time, self.last_steps = now, env_steps
        self.worker_timing.clear()
        self.main_timing.clear()
        self.lags.clear()
        self.staleness_steps.clear()
        self.staleness_seconds.clear()
        self.env_errors = 0
        return row

    def _eta(self, env_steps: int) -> str:
        elapsed = time.monotonic() - self.start_time
        done = env_steps - self.start_steps
        if done <= 0:
            return "?"
        left = (self.cfg.train_for_env_steps - env_steps) * elapsed / done
        return str(datetime.timedelta(seconds=int(max(0.0, left))))

    def _console(self, row: dict[str, Any], timing: dict[str, float]) -> None:
        parts = [f"steps {row['env_steps']:,}", f"fps {row['fps']:,.0f}"]
        if "reward_mean" in row:
            parts.append(f"reward {row['reward_mean']:.2f} (min {row['reward_min']:.1f} max {row['reward_max']:.1f})")
            parts.append(f"len {row['length_mean']:.1f}")
        extras = [k for k in row if k.startswith("episode_extra_stats/") and k.endswith("/mean")]
        for key in extras[:4]:
            parts.append(f"{key[len('episode_extra_stats/') : -len('/mean')]} {row[key]:.3g}")
        parts += self._policy_console(row)
        for key in ("self_play/win_rate_vs_pool", "pbt/copies_total"):
            if key in row:
                parts.append(f"{key.split('/', 1)[1].replace('_', ' ')} {row[key]:.3g}")
        parts.append(f"lag {row['policy_lag_mean']:.2f}/{row['policy_lag_max']:.0f}")
        parts.append(f"v{row['policy_version']}")
        if row["env_errors_total"] or row["worker_restarts"]:
            parts.append(f"env errors {row['env_errors_total']} worker restarts {row['worker_restarts']}")
        if timing:
            parts.append("time " + " ".join(f"{k.replace('_frac', '')} {v:.0%}" for k, v in sorted(timing.items())))
        parts.append(f"eta {self._eta(row['env_steps'])}")
        line = " | ".join(parts)
        if self.bar is not None:
            self.bar.write(line)
        else:
            log.info(line)

    def _policy_console(self, row: dict[str, Any]) -> list[str]:
        """With several policies: every policy's windowed mean return, and which is best."""
        if len(self.policies) == 1:
            return []
        means = {k: row.get(f"policy_{k}/reward_mean") for k in self.policies}
        shown = " ".join(f"p{k} {'-' if m is None else f'{m:.2f}'}" for k, m in means.items())
        known = {k: m for k, m in means.items() if m is not None}
        best = f" (best p{max(known, key=lambda k: known[k])})" if known else ""
        return [f"policies {shown}{best}"]

    def _scalars(
        self, row: dict[str, Any], perf: dict[str, float], derived: dict[str, float], extra: dict[str, float]
    ) -> dict[str, float]:
        """``{tag: value}`` of one report, in TensorBoard's tag families."""
        out: dict[str, float] = {}
        for name in ("reward", "length"):
            for stat in ("mean", "min", "max"):
                if f"{name}_{stat}" in row:
                    tag = "episode_return" if name == "reward" else "episode_length"
                    out[f"reward/{tag}_{stat}"] = row[f"{name}_{stat}"]
        for key, value in row.items():
            if key.startswith("episode_extra_stats/"):
                path, stat = key[len("episode_extra_stats/") :].rsplit("/", 1)
                family = "episode_extra_stats" if stat == "mean" else f"episode_extra_stats_{stat}"
                out[f"{family}/{path}"] = value
        for key, value in derived.items():
            out[f"derived/{key}"] = value
        for key, value in row.items():
            if key.startswith("learner/"):
                name = key[len("learner/") :]
                out[f"{'losses' if name in LOSS_KEYS else 'policy_stats'}/{name}"] = value
        for key, value in row.items():
            if key.startswith("policy_") and "/" in key:
                out.update(_policy_scalar(key, value))
        out.update(extra)
        out["policy_stats/policy_version"] = row["policy_version"]
        out["perf/fps"] = row["fps"]
        out["perf/policy_lag_mean"] = row["policy_lag_mean"]
        out["perf/policy_lag_max"] = row["policy_lag_max"]
        for key, value in perf.items():
            out[f"perf/{key}"] = value
        return out

    def _tensorboard(self, scalars: dict[str, float], step: int) -> None:
        if not self.cfg.logging.tensorboard:
            return
        if self.writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(self.tensorboard_dir))
        for tag, value in scalars.items():
            self.writer.add_scalar(tag, value, step)
        self.writer.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.writer is not None:
            self.writer.close()
        for sink in self.sinks:
            sink.close()
