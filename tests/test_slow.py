"""Long runs (pytest -m slow / make test-slow): training to a score, a minute or more each on 2 cores."""

import pytest

import relayrl
from relayrl.config import replace

pytestmark = pytest.mark.slow


@pytest.mark.timeout(600)
def test_default_settings_solve_cartpole(tmp_path):
    cfg = relayrl.Config(env="CartPole-v1", train_dir=str(tmp_path), experiment="c", seed=1)
    summary = relayrl.train(replace(cfg, sampling__num_workers=2))
    assert summary.env_steps >= 500_000
    assert summary.stats["reward_mean"] >= 475, summary.stats


@pytest.mark.timeout(900)
def test_progress_curriculum_example_beats_flat_training(tmp_path):
    results = {}
    for name, kwargs in (("curriculum", {}), ("flat", {"ramp_steps": 0})):
        cfg = relayrl.Config(
            env="examples.progress_curriculum:Corridor",
            train_dir=str(tmp_path),
            experiment=name,
            seed=1,
            train_for_env_steps=300_000,
        )
        summary = relayrl.train(replace(cfg, environment__env_kwargs=kwargs))
        results[name] = summary.stats["episode_extra_stats/success/mean"]
        assert summary.stats["episode_extra_stats/difficulty/length/mean"] == 100
    assert results["curriculum"] >= 0.9 and results["flat"] <= 0.1, results
