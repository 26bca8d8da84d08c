"""The automatic sampling layout (``--backend auto``): the machine probe's parsing, the choice, and a run
that logs what it chose."""

from __future__ import annotations

import logging

import pytest
from conftest import fast_config

import relayrl
from relayrl.config import ConfigError, replace, validate
from relayrl.trainer.sources import layout
from relayrl.utils import machine


def test_the_running_count_and_the_cgroup_quota_are_read(tmp_path):
    assert machine.running_tasks("0.64 1.59 1.89 3/99 27480") == 3
    with pytest.raises(ValueError, match="not a /proc/loadavg line"):
        machine.running_tasks("garbage")
    loadavg = tmp_path / "loadavg"
    loadavg.write_text("0.00 0.00 0.00 4/120 1\n")
    assert machine.busy_cores(samples=3, interval=0.0, path=loadavg) == 3  # minus the reading process
    assert machine.busy_cores(path=tmp_path / "missing") is None
    quota = tmp_path / "cpu.max"
    quota.write_text("150000 100000\n")
    assert machine.cgroup_quota(quota) == 1.5
    quota.write_text("max 100000\n")
    assert machine.cgroup_quota(quota) is None
    assert machine.cgroup_quota(tmp_path / "none") is None
    assert machine.usable_cores() >= 1


def test_auto_samples_in_process_when_fewer_than_1_5_cores_are_free():
    assert layout.choose(2, 0, "cpu").backend == "local"
    assert layout.choose(2, 1, "cpu").backend == "serial"  # one busy neighbour on two cores
    assert layout.choose(1, 0, "cpu").backend == "serial"  # a single core
    assert layout.choose(1.5, 0, "cpu").backend == "local"
    assert layout.choose(16, 3, "cpu").backend == "local"
    assert layout.choose(2, None, "cpu").backend == "local"  # load unknown: the cores alone decide
    assert layout.choose(1, 3, "cuda:0").backend == "local"  # a GPU learner leaves the CPU to the workers
    choice = layout.choose(2, 1, "cpu")
    assert "2 usable cores, 1 busy with other processes" in choice.reason


def test_resolve_logs_the_choice_and_keeps_an_explicit_backend(monkeypatch, caplog):
    monkeypatch.setattr(machine, "usable_cores", lambda: 2.0)
    monkeypatch.setattr(machine, "busy_cores", lambda: 1.0)
    cfg = fast_config("train_dir", sampling__backend="auto")
    with caplog.at_level(logging.INFO, logger="relayrl"):
        assert layout.resolve(cfg).sampling.backend == "serial"
    (record,) = [r for r in caplog.records if "sampling layout" in r.message]
    assert "serial (--backend auto: 2 usable cores, 1 busy" in record.message and "give --backend" in record.message
    explicit = fast_config("train_dir", sampling__backend="local")
    assert layout.resolve(explicit) is explicit
    monkeypatch.setattr(machine, "busy_cores", lambda: 0.0)
    assert layout.resolve(cfg).sampling.backend == "local"
    assert layout.resolve(replace(cfg, device="auto")).sampling.backend == "local"  # no GPU here: cpu


def test_auto_is_the_default_and_a_bad_backend_names_the_choices():
    assert relayrl.Config().sampling.backend == "auto"
    with pytest.raises(ConfigError, match="not one of auto, local, ray, serial"):
        validate(fast_config("train_dir", sampling__backend="threads"))


def test_a_run_with_auto_trains_with_the_chosen_backend(tmp_path, monkeypatch):
    monkeypatch.setattr(machine, "busy_cores", lambda: 99.0)
    summary = relayrl.train(fast_config(tmp_path, sampling__backend="auto", train_for_env_steps=512))
    assert summary.env_steps >= 512
    saved = (tmp_path / "e" / "config.json").read_text()
    assert '"backend": "serial"' in saved  # what ran is what the experiment records
