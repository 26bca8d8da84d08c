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


def test_the_cgroup_quota_is_read(tmp_path):
    quota = tmp_path / "cpu.max"
    quota.write_text("150000 100000\n")
    assert machine.cgroup_quota(quota) == 1.5
    quota.write_text("max 100000\n")
    assert machine.cgroup_quota(quota) is None
    assert machine.cgroup_quota(tmp_path / "none") is None
    assert machine.usable_cores() >= 1


def test_auto_samples_in_process_with_fewer_than_1_5_usable_cores():
    assert layout.choose(2, "cpu").backend == "local"
    assert layout.choose(1, "cpu").backend == "serial"  # a single core
    assert layout.choose(1.2, "cpu").backend == "serial"  # a container's quota of 1.2 cores
    assert layout.choose(1.5, "cpu").backend == "local"
    assert layout.choose(16, "cpu").backend == "local"
    assert layout.choose(1, "cuda:0").backend == "local"  # a GPU learner leaves the CPU to the workers
    assert "1 usable core(s): fewer than 1.5" in layout.choose(1, "cpu").reason


def test_resolve_logs_the_choice_and_keeps_an_explicit_backend(monkeypatch, caplog):
    monkeypatch.setattr(machine, "usable_cores", lambda: 1.0)
    cfg = fast_config("train_dir", sampling__backend="auto")
    with caplog.at_level(logging.INFO, logger="relayrl"):
        assert layout.resolve(cfg).sampling.backend == "serial"
    (record,) = [r for r in caplog.records if "sampling layout" in r.message]
    assert "serial (--backend auto: 1 usable core(s)" in record.message and "give --backend" in record.message
    explicit = fast_config("train_dir", sampling__backend="local")
    assert layout.resolve(explicit) is explicit
    monkeypatch.setattr(machine, "usable_cores", lambda: 2.0)
    assert layout.resolve(cfg).sampling.backend == "local"
    assert layout.resolve(replace(cfg, device="auto")).sampling.backend == "local"  # no GPU here: cpu


def test_auto_is_the_default_and_a_bad_backend_names_the_choices():
    assert relayrl.Config().sampling.backend == "auto"
    with pytest.raises(ConfigError, match="not one of auto, local, ray, serial"):
        validate(fast_config("train_dir", sampling__backend="threads"))


def test_a_run_with_auto_trains_with_the_chosen_backend(tmp_path, monkeypatch):
    monkeypatch.setattr(machine, "usable_cores", lambda: 1.0)
    summary = relayrl.train(fast_config(tmp_path, sampling__backend="auto", train_for_env_steps=512))
    assert summary.env_steps >= 512
    saved = (tmp_path / "e" / "config.json").read_text()
    assert '"backend": "serial"' in saved  # what ran is what the experiment records
