"""Injected faults: env exceptions, dying workers, bad observations, signals, failing disks."""

import errno
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import fast_config

import relayrl
from relayrl.config import Config, replace
from relayrl.experiment import Experiment
from relayrl.trainer import checkpointer as checkpoints

COUNTING = "envs_for_tests:make_counting_env"


def cfg_for(tmp_path, env=COUNTING, env_kwargs=None, **changes) -> Config:
    """This module's runs, into ``tmp_path/runs``: two workers, seed 5, 8,192 env steps, ``env_kwargs``."""
    settings = dict(seed=5, train_for_env_steps=8192, sampling__num_workers=2, environment__env_kwargs=env_kwargs or {})
    return fast_config(tmp_path / "runs", env, **{**settings, **changes})


def last_progress_row(tmp_path) -> dict:
    lines = (tmp_path / "runs" / "e" / "progress.jsonl").read_text().splitlines()
    return json.loads(lines[-1])


# ----- env exceptions -----


@pytest.mark.parametrize("serial", [True, pytest.param(False, marks=pytest.mark.multiprocess)])
@pytest.mark.timeout(120)
def test_restart_policy_keeps_training_through_env_exceptions(tmp_path, serial):
    summary = relayrl.train(
        cfg_for(tmp_path, env_kwargs={"raise_every": 97}, sampling__backend=("serial" if serial else "local"))
    )
    assert summary.env_steps >= 8192
    assert summary.env_errors > 0
    assert last_progress_row(tmp_path)["env_errors_total"] == summary.env_errors
    assert summary.stats["length_max"] <= 5  # dropped partial episodes never count as finished ones


def test_restarted_env_drops_its_partial_episode(tmp_path):
    from test_training import _one_worker

    cfg = cfg_for(
        tmp_path,
        env_kwargs={"raise_every": 7, "horizon": 100},
        sampling__backend="serial",
        sampling__num_envs_per_worker=1,
        sampling__rollout_length=10,
    )
    worker, b = _one_worker(cfg)
    report = worker.collect(0)
    # env steps 1-6 succeed, the 7th raises: rows 0-6 are that episode, masked out; row 7 starts anew
    assert b.valid[0, :, 0].tolist() == [False] * 7 + [True] * 3
    assert b.dones[0, 6, 0] and b.starts[0, 7, 0]
    assert report.env_errors == 1 and report.episodes == []
    # the next rollout into the same slot: the new env raises at its 7th step (row 3); rows masked in
    # the slot's previous rollout are training data again
    worker.collect(0)
    assert b.valid[0, :, 0].tolist() == [False] * 4 + [True] * 6


@pytest.mark.multiprocess
@pytest.mark.timeout(120)
def test_raise_policy_stops_within_seconds_with_the_traceback(tmp_path):
    cfg = cfg_for(
        tmp_path, env_kwargs={"raise_every": 500}, train_for_env_steps=10**7, faults__env_error_policy="raise"
    )
    t0 = time.monotonic()
    with pytest.raises(relayrl.WorkerError, match="(?s)--env-error-policy raise.*injected periodic failure"):
        relayrl.train(cfg)
    assert time.monotonic() - t0 < 60
    assert Experiment(tmp_path / "runs", "e").checkpoints()


@pytest.mark.multiprocess
@pytest.mark.timeout(120)
def test_env_failing_again_and_again_stops_the_run(tmp_path):
    cfg = cfg_for(
        tmp_path, env_kwargs={"reset_fails_after": 40}, train_for_env_steps=10**7, faults__max_consecutive_env_errors=3
    )
    with pytest.raises(relayrl.WorkerError, match="failed 4 times in a row"):
        relayrl.train(cfg)


@pytest.mark.multiprocess
@pytest.mark.timeout(120)
def test_exceptions_in_set_training_info_are_env_errors(tmp_path):
    summary = relayrl.train(cfg_for(tmp_path, env="envs_for_tests:make_info_failing_env"))
    assert summary.env_steps >= 8192 and summary.env_errors > 0
    cfg = cfg_for(
        tmp_path,
        env="envs_for_tests:make_info_failing_env",
        experiment="raise",
        faults__env_error_policy="raise",
        train_for_env_steps=10**7,
    )
    with pytest.raises(relayrl.WorkerError, match="injected failure in set_training_info"):
        relayrl.train(cfg)


# ----- workers that die -----


@pytest.mark.multiprocess
@pytest.mark.timeout(180)
def test_killed_worker_is_restarted_and_the_run_finishes(tmp_path):
    marker = tmp_path / "killed"
    cfg = cfg_for(tmp_path, env_kwargs={"kill_after": 400, "kill_once_file": str(marker)}, train_for_env_steps=16384)
    summary = relayrl.train(cfg)
    assert marker.exists()
    assert summary.worker_restarts == 1
    assert summary.env_steps >= 16384
    # the console, TensorBoard and the progress file read the same count as the summary
    assert last_progress_row(tmp_path)["worker_restarts"] == 1


# ----- bad observations -----


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"nan_after": 20}, r"observation contains NaN or inf"),
        ({"bad_shape": True}, r"observation has shape \(3,\).*declares shape \(1,\)"),
    ],
)
def test_bad_observations_name_the_env_and_field(tmp_path, kwargs, needle):
    with pytest.raises(relayrl.ObservationError, match=needle):
        relayrl.train(cfg_for(tmp_path, env_kwargs=kwargs, sampling__backend="serial"))


def test_observation_checks_can_be_switched_off(tmp_path):
    # the same NaN observations that stop a checked run (above) pass with --no-check-obs
    cfg = cfg_for(
        tmp_path,
        env_kwargs={"nan_after": 20},
        sampling__backend="serial",
        faults__check_obs=False,
        train_for_env_steps=1024,
    )
    summary = relayrl.train(cfg)
    assert summary.env_steps == 1024


def test_a_refused_resume_leaves_the_saved_config_untouched(tmp_path):
    cfg = cfg_for(tmp_path, sampling__backend="serial", train_for_env_steps=512)
    relayrl.train(cfg)
    saved = Experiment(tmp_path / "runs", "e").config_path
    before = saved.read_bytes()
    other_model = replace(cfg, train_for_env_steps=1024, model__hidden_sizes=(8,))
    with pytest.raises(relayrl.ConfigError, match="does not match this config's model") as info:
        relayrl.train(other_model)
    assert str(saved) in str(info.value)  # names the settings to train with
    assert saved.read_bytes() == before
    assert json.loads(before)["model"]["hidden_sizes"] == [64, 64]


# ----- disks -----


def test_unwritable_experiment_dir_is_a_config_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    cfg = replace(cfg_for(tmp_path, sampling__backend="serial"), train_dir=str(blocker))
    with pytest.raises(relayrl.ConfigError, match="cannot write to the experiment directory"):
        relayrl.train(cfg)


def test_full_disk_is_reported_and_the_last_good_checkpoint_kept(tmp_path, monkeypatch, caplog):
    cfg = cfg_for(tmp_path, sampling__backend="serial", train_for_env_steps=1024)
    first = relayrl.train(cfg)

    def no_space(state, path):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoints, "atomic_save", no_space)
    cfg = replace(cfg, train_for_env_steps=4096, checkpointing__save_every_seconds=0.01)
    with caplog.at_level(logging.ERROR, logger="relayrl"), pytest.raises(relayrl.CheckpointError, match="No space"):
        relayrl.train(cfg)
    assert "training goes on" in caplog.text  # periodic failures were reported and training continued
    monkeypatch.undo()
    assert checkpoints.load_latest(Experiment(tmp_path / "runs", "e"))["env_steps"] == first.env_steps


def test_corrupt_latest_checkpoint_resumes_from_the_previous(tmp_path, caplog):
    cfg = cfg_for(tmp_path, sampling__backend="serial", train_for_env_steps=1024, checkpointing__keep_checkpoints=3)
    relayrl.train(cfg)
    relayrl.train(replace(cfg, train_for_env_steps=2048))
    latest = Experiment(tmp_path / "runs", "e").checkpoints()[-1]
    latest.write_bytes(latest.read_bytes()[:100])
    with caplog.at_level(logging.WARNING, logger="relayrl"):
        summary = relayrl.train(replace(cfg, train_for_env_steps=3072))
    assert "unreadable" in caplog.text
    assert summary.env_steps == 3072


# ----- signals on a real `relayrl train` -----


def _start_cli(tmp_path, *extra):
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parent))
    cmd = [
        sys.executable,
        "-m",
        "relayrl.cli.main",
        "train",
        "--env",
        "CartPole-v1",
        "--num-workers",
        "2",
        "--train-dir",
        str(tmp_path / "runs"),
        "--experiment",
        "e",
        "--report-interval",
        "0.5",
        "--seed",
        "1",
        *extra,
    ]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_progress(tmp_path, proc, timeout=90.0):
    path = tmp_path / "runs" / "e" / "progress.jsonl"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    raise AssertionError("training never reported progress")


@pytest.mark.multiprocess
@pytest.mark.timeout(240)
def test_sigint_checkpoints_exits_130_and_resume_continues(tmp_path):
    proc = _start_cli(tmp_path, "--train-for-env-steps", str(10**8))
    _wait_for_progress(tmp_path, proc)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert time.monotonic() - t0 < 10
    state = checkpoints.load_latest(Experiment(tmp_path / "runs", "e"))
    stopped_at = state["env_steps"]
    assert stopped_at > 0

    resumed = _start_cli(tmp_path, "--train-for-env-steps", str(stopped_at + 2048))
    out, err = resumed.communicate(timeout=180)
    assert resumed.returncode == 0, err
    assert "resumed from" in err
    rows = [json.loads(line) for line in (tmp_path / "runs" / "e" / "progress.jsonl").read_text().splitlines()]
    steps = [row["env_steps"] for row in rows]
    assert steps == sorted(steps) and steps[-1] >= stopped_at + 2048
    assert (
        checkpoints.load_latest(Experiment(tmp_path / "runs", "e"))["policies"][0]["policy_version"]
        > state["policies"][0]["policy_version"]
    )


@pytest.mark.multiprocess
@pytest.mark.timeout(180)
def test_sigterm_stops_cleanly_with_exit_0(tmp_path):
    proc = _start_cli(tmp_path, "--train-for-env-steps", str(10**8))
    _wait_for_progress(tmp_path, proc)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert time.monotonic() - t0 < 10
    assert "SIGTERM" in err
    assert checkpoints.load_latest(Experiment(tmp_path / "runs", "e"))["env_steps"] > 0


@pytest.mark.multiprocess
@pytest.mark.timeout(180)
def test_second_sigint_exits_at_once_and_keeps_the_last_good_checkpoint(tmp_path):
    # The workers' envs take 30 s to close, so a graceful stop lasts at least the 5 s the trainer
    # waits for its workers; a second Ctrl-C during it must end the process at once instead.
    proc = _start_cli(
        tmp_path,
        "--env",
        COUNTING,
        "--env-kwargs",
        '{"close_sleep": 30}',
        "--train-for-env-steps",
        str(10**8),
        "--save-every-seconds",
        "0.5",
    )
    _wait_for_progress(tmp_path, proc)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    time.sleep(2.0)
    assert proc.poll() is None, "the first Ctrl-C must stop gracefully (checkpoint, then wait for the workers)"
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert time.monotonic() - t0 < 3.0  # at once: not the >= 5 s of the graceful stop
    assert checkpoints.load_latest(Experiment(tmp_path / "runs", "e")) is not None


@pytest.mark.timeout(120)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_a_checkpoint_write_lets_the_write_finish(tmp_path, monkeypatch, signum):
    # The signal arrives while the best checkpoint is being written: the write completes, the run
    # stops at the next step of its loop and writes the final checkpoint. (Raising from the signal
    # handler interrupted torch.save there and crashed the run.)
    real_save = checkpoints.atomic_save
    saved: list[Path] = []

    def save_with_signal(state, path):
        if not saved:
            os.kill(os.getpid(), signum)
            time.sleep(0.05)  # the handler runs here, inside the write
        real_save(state, path)
        saved.append(path)

    monkeypatch.setattr(checkpoints, "atomic_save", save_with_signal)
    before = signal.getsignal(signal.SIGINT)  # default_int_handler, or SIG_IGN when pytest started in the background
    cfg = cfg_for(
        tmp_path, env="CartPole-v1", sampling__backend="serial", train_for_env_steps=10**7, logging__stats_window=10
    )
    if signum == signal.SIGINT:
        with pytest.raises(KeyboardInterrupt):
            relayrl.train(cfg)
    else:
        summary = relayrl.train(cfg)
        assert summary.interrupted == "SIGTERM"
    assert len(saved) >= 2  # the interrupted write and the final checkpoint
    assert saved[0].name == "best.pt" and torch_load_ok(saved[0])
    final = checkpoints.load_latest(Experiment(tmp_path / "runs", "e"))
    assert final is not None and 0 < final["env_steps"] < 10**6
    assert signal.getsignal(signal.SIGINT) is before  # handlers restored


def torch_load_ok(path: Path) -> bool:
    import torch

    return "learner" in torch.load(path, weights_only=True)["policies"][0]


@pytest.mark.multiprocess
def test_script_without_main_guard_is_a_clear_error(tmp_path):
    # the classic spawn mistake: train() at the top level of a script runs again in every worker process
    # (--backend local; a serial run has none)
    script = tmp_path / "unguarded.py"
    script.write_text(
        "import relayrl\n"
        f"relayrl.train(relayrl.Config(env='CartPole-v1', train_dir={str(tmp_path)!r}, "
        "train_for_env_steps=2048, sampling=relayrl.SamplingConfig(backend='local')))\n"
    )
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "ConfigError" in proc.stderr and 'if __name__ == "__main__":' in proc.stderr
    assert "restart" not in proc.stderr  # no worker restarts: each would fail the same way
    assert time.monotonic() - t0 < 60
