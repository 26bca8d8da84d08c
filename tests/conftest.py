"""Shared test helpers: ``fast_config`` builds the config of every short training run in the tests.

Test modules import it (``from conftest import fast_config``: ``tests/`` is on ``sys.path`` as for the
test env modules) and pass only what differs from ``FAST_SETTINGS``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from relayrl.config import Config, replace

FAST_SETTINGS: dict[str, Any] = dict(
    experiment="e",
    seed=1,
    train_for_env_steps=4096,
    sampling__backend="local",  # not auto: the tests' runs must not depend on the machine's load
    sampling__num_workers=1,
    sampling__num_envs_per_worker=4,
    sampling__rollout_length=16,
    logging__report_interval=0.5,
    logging__tensorboard=False,
    logging__progress_bar=False,
)
"""A short run: one worker process of 4 envs, rollouts of 16 steps, a report every 0.5 s, nothing but progress.jsonl."""


def fast_config(train_dir: Path | str, env: str = "CartPole-v1", **changes: Any) -> Config:
    """The config of a short test run into ``train_dir``: ``FAST_SETTINGS`` with ``changes`` applied over
    them (``relayrl.config.replace`` syntax: ``seed=3``, ``group__field=value``)."""
    return replace(Config(env=env, train_dir=str(train_dir)), **{**FAST_SETTINGS, **changes})
