"""One run of ``benchmarks.suite``: train one framework on one env with one seed, evaluate, save JSON.

Every run is a fresh process in its own process group (killed when the run ends or times out), so
no worker process outlives it. A run's folder holds its training output and ``result.json``; a run
whose ``result.json`` exists is not repeated (rerunning the suite with the same ``--out-dir``
continues where it stopped).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import relayrl
from benchmarks.compare import ensure_venv

ROOT = Path(__file__).resolve().parent
RUNNERS = ROOT / "peer_runners"
RELAYRL_ROOT = str(Path(relayrl.__file__).resolve().parent.parent)
"""The folder of the relayrl package this process runs: training subprocesses import the same one."""


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # nothing left in the group


def run_process(
    cmd: list[str], run_dir: Path, timeout: float, pythonpath: str | None = None
) -> tuple[int | None, float, str]:
    """Run ``cmd`` in ``run_dir`` (stdout/stderr to files there; ``pythonpath``: its PYTHONPATH, else
    none); (exit code or None on timeout, wall seconds from launch to exit, stdout)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("PYTHONPATH", None)
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    with open(run_dir / "stdout.txt", "w") as out, open(run_dir / "stderr.txt", "w") as err:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=run_dir, env=env, stdout=out, stderr=err, start_new_session=True)
        try:
            rc: int | None = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = None
        finally:
            wall = time.monotonic() - t0
            _kill_group(proc.pid)  # also after a normal exit: nothing of the run may keep running
            proc.wait()
    return rc, wall, (run_dir / "stdout.txt").read_text()


def _summary_value(stdout: str, label: str) -> float | None:
    """A number from ``relayrl train``'s closing summary block (``fps:   1234``)."""
    for line in stdout.splitlines():
        if line.startswith(label + ":"):
            try:
                return float(line.split(":", 1)[1].split()[0])
            except (IndexError, ValueError):
                return None
    return None


def evaluate_relayrl(train_dir: Path, experiment: str, checkpoint: str, episodes: int, seed: int) -> list[float]:
    """Deterministic returns of ``episodes`` episodes of the experiment's ``best`` or ``latest`` checkpoint
    (``relayrl enjoy``'s evaluation: episode i reset with ``seed + i``)."""
    from relayrl.cli.enjoy import EnjoyConfig, enjoy

    cfg = EnjoyConfig(
        experiment=experiment,
        train_dir=str(train_dir),
        checkpoint=checkpoint,
        num_episodes=episodes,
        deterministic=True,
        seed=seed,
    )
    return [float(r) for r in enjoy(cfg).returns]


def run_relayrl(
    env: str, seed: int, steps: int, run_dir: Path, flags: list[str], eval_episodes: int, eval_seed: int, timeout: float
) -> dict[str, Any]:
    """``relayrl train --preset mujoco`` (plus ``flags``) as a subprocess, then evaluate best.pt and the
    final checkpoint. Wall time: the training process from launch to exit (imports, start-up and the
    final checkpoint included)."""
    train_dir = run_dir / "train_dir"
    experiment = "run"
    cmd = [sys.executable, "-m", "relayrl.cli.main", "train", "--preset", "mujoco", "--env", env]
    cmd += ["--seed", str(seed), "--train-for-env-steps", str(steps), "--train-dir", str(train_dir)]
    cmd += ["--experiment", experiment, "--no-progress-bar", "--report-interval", "10", *flags]
    load = os.getloadavg()[0]
    # the relayrl this process imported (and evaluates with), not whatever the venv's install points at
    rc, wall, stdout = run_process(cmd, run_dir, timeout, pythonpath=RELAYRL_ROOT)
    result: dict[str, Any] = {
        "framework": "relayrl",
        "env": env,
        "seed": seed,
        "command": " ".join(cmd[2:]),
        "rc": rc,
        "wall_s": wall,
        "load_before": load,
        "load_after": os.getloadavg()[0],
        "progress": str(train_dir / experiment / "progress.jsonl"),
    }
    frames = _summary_value(stdout, "env steps")
    result["frames"] = int(frames) if frames is not None else None
    result["train_wall_s"] = _summary_value(stdout, "wall time")
    result["fps"] = frames / wall if frames else None
    if rc != 0:
        result["error"] = f"rc {rc}; see {run_dir / 'stderr.txt'}"
        return result
    for which, name in (("best", "best"), ("latest", "final")):
        returns = evaluate_relayrl(train_dir, experiment, which, eval_episodes, eval_seed)
        result[f"{name}_returns"] = returns
        result[f"{name}_return"] = sum(returns) / len(returns)
    return result


def run_sb3_zoo(
    env: str,
    seed: int,
    steps: int,
    run_dir: Path,
    eval_episodes: int,
    eval_seed: int,
    timeout: float,
    log: Any,
    max_seconds: float | None = None,
) -> dict[str, Any]:
    """SB3 PPO with the RL Zoo's hyperparameters (``peer_runners/run_sb3_zoo.py`` in the sb3 venv).
    Wall time: the runner's own, from building the env to the end of ``learn`` (its interpreter
    start-up and imports are not counted, which favours the peer by a few seconds). ``max_seconds``:
    stop training after that long (the result says ``stopped_by_time``; its frames/s still hold)."""
    venv = ensure_venv("sb3", log)
    params = {"env": env, "seed": seed, "steps": steps, "work_dir": str(run_dir)}
    params |= {"eval_episodes": eval_episodes, "eval_seed": eval_seed, "max_seconds": max_seconds}
    cmd = [str(venv / "bin" / "python"), str(RUNNERS / "run_sb3_zoo.py"), json.dumps(params)]
    load = os.getloadavg()[0]
    rc, process_wall, stdout = run_process(cmd, run_dir, timeout)
    result: dict[str, Any] = {"framework": "sb3-zoo", "env": env, "seed": seed, "rc": rc, "load_before": load}
    result |= {"load_after": os.getloadavg()[0], "process_s": process_wall, "progress": str(run_dir / "progress.jsonl")}
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            result |= json.loads(line)
            break
    else:
        result["error"] = f"rc {rc}, no result line; see {run_dir / 'stderr.txt'}"
    return result


def run_once(
    framework: str,
    env: str,
    seed: int,
    steps: int,
    run_dir: Path,
    flags: list[str],
    eval_episodes: int,
    eval_seed: int,
    timeout: float,
    log: Any,
    peer_seconds: float | None = None,
) -> dict[str, Any]:
    """Run (or reuse) one training run; returns its result dict (also written to ``result.json``)."""
    done = run_dir / "result.json"
    if done.exists():
        return json.loads(done.read_text())
    if run_dir.exists():
        shutil.rmtree(run_dir)  # an interrupted run: start it again from scratch, so its wall time is whole
    run_dir.mkdir(parents=True)
    if framework == "relayrl":
        result = run_relayrl(env, seed, steps, run_dir, flags, eval_episodes, eval_seed, timeout)
    elif framework == "sb3-zoo":
        result = run_sb3_zoo(env, seed, steps, run_dir, eval_episodes, eval_seed, timeout, log, peer_seconds)
    else:
        raise ValueError(f"unknown framework {framework!r}")
    result["time"] = time.strftime("%Y-%m-%d %H:%M:%S")
    if "error" not in result:
        done.write_text(json.dumps(result, indent=1))
    return result
