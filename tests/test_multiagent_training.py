"""Multi-agent end to end: rollouts of agents that leave and join, several policies, self-play, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from statistics import mean

import pytest
import torch
from conftest import fast_config

import relayrl
from relayrl.cli.main import main as cli_main
from relayrl.config import Config, replace
from relayrl.experiment import Experiment
from relayrl.multiagent.mapping import MappingError
from relayrl.multiagent.pool import RESULTS_WINDOW
from relayrl.shared.progress import SharedBlob, StepCounters
from relayrl.shared.trajectories import TrajectoryBuffers
from relayrl.shared.weights import SharedWeights
from relayrl.trainer.checkpointer import read_checkpoint
from relayrl.worker.context import WorkerContexts
from relayrl.worker.rollout import RolloutWorker

ROOT = Path(__file__).resolve().parents[1]


def small(tmp_path, env="multiagent_envs:make_leave_join", **changes) -> Config:
    """This module's serial runs: one worker of 2 envs, 1,024 env steps, a report every 0.2 s."""
    settings = dict(
        train_for_env_steps=1024,
        serial=True,
        sampling__num_envs_per_worker=2,
        logging__report_interval=0.2,
        logging__stats_window=20,
    )
    return fast_config(tmp_path, env, **{**settings, **changes})


def rows(summary) -> list[dict]:
    with open(f"{summary.experiment_dir}/progress.jsonl") as f:
        return [json.loads(line) for line in f]


def test_rollout_masks_rows_of_absent_agents_and_reports_each_agents_episode(tmp_path):
    cfg = small(tmp_path, sampling__num_envs_per_worker=1, sampling__rollout_length=6)
    from relayrl.envs.factory import probe_env
    from relayrl.models import build_actor_critic

    obs_space, action_space, agents = probe_env(cfg)
    model = build_actor_critic(obs_space, action_space, cfg.model)
    buffers = TrajectoryBuffers.allocate(1, 6, 3, obs_space, action_space, 0, shared=False)
    weights = SharedWeights(model.state_dict())
    weights.publish(model.state_dict(), 0)
    contexts = WorkerContexts(cfg, buffers, weights, StepCounters(1), SharedBlob(capacity=1 << 16), 0, lambda w: {})
    report = RolloutWorker(contexts(0)).collect(0)
    # rows a, b, c; steps 1..5 are one episode, step 6 starts the next (c not there yet)
    assert buffers.valid[0, :, 0].tolist() == [True, True, True, False, False, True]  # a leaves after step 3
    assert buffers.valid[0, :, 2].tolist() == [False, False, True, True, True, False]  # c joins for steps 3..5
    assert buffers.starts[0, :, 2].tolist()[2] is True  # a joining agent starts its episode
    assert buffers.dones[0, :, 0].tolist() == [False, False, True, False, False, False]
    episodes = {(ep.length, ep.extra["score"]) for ep in report.episodes}
    assert episodes == {(3, 3.0), (5, 5.0), (3, 5.0)}  # a, b, c: each agent's own terminal stats
    assert report.env_steps == 6  # env steps, not agent steps


def test_two_policies_train_on_their_own_agents_and_envs_learn_who_controls_them(tmp_path):
    cfg = small(tmp_path, multi_agent__num_policies=2, multi_agent__policy_mapping="multiagent_envs:by_agent")
    summary = relayrl.train(cfg)
    last = rows(summary)[-1]
    # a -> policy 0, b and c -> policy 1; each env reports the policy its training info named for the agent
    assert last["episode_extra_stats/told_policy/mean"] == 0.0
    assert last["policy_1/episode_extra_stats/told_policy/mean"] == 1.0
    assert last["policy_0/length_mean"] == 3.0 and last["policy_1/length_mean"] == 4.0  # a: 3 steps; b 5, c 3
    for k in (0, 1):  # serial: every rollout is collected with its policy's newest weights
        assert last[f"policy_{k}/learner/policy_lag_max"] == 0.0
    data = read_checkpoint(Path(summary.checkpoint))
    assert set(data["policies"]) == {0, 1}
    assert data["policies"][1]["policy_version"] == data["policies"][0]["policy_version"] > 0
    # agent steps per 5-step episode: a acts 3 (policy 0), b 5 and c 3 (policy 1)
    assert data["policies"][1]["env_steps"] / data["policies"][0]["env_steps"] == pytest.approx(8 / 3, rel=0.05)
    experiment = Experiment.of(cfg)
    assert experiment.best_checkpoint.is_file() and experiment.best_checkpoint_of(1).is_file()
    resumed = relayrl.train(replace(cfg, train_for_env_steps=2048))
    assert resumed.env_steps >= 2048
    for other in (1, 3):  # fewer policies would drop policy 1 from later checkpoints; more, start untrained ones
        with pytest.raises(relayrl.ConfigError, match=r"has policies \[0, 1\].*--num-policies 2"):
            relayrl.train(
                replace(
                    cfg,
                    train_for_env_steps=4096,
                    multi_agent__num_policies=other,
                    multi_agent__policy_mapping="fixed",  # valid for 1..3 policies of agents a, b, c
                )
            )


def test_self_play_pool_is_checkpointed_and_restored(tmp_path):
    cfg = small(
        tmp_path,
        env="examples.coin_duel_bots:make_selfplay_curriculum",  # snapshot ages as opponent levels
        environment__env_kwargs={"levels": 3},
        train_for_env_steps=3000,
        multi_agent__self_play=True,
        multi_agent__self_play_every=8,
        multi_agent__self_play_pool_size=3,
    )
    summary = relayrl.train(cfg)
    data = read_checkpoint(Path(summary.checkpoint))
    saved = data["self_play"]
    versions = sorted(slot["version"] for slot in saved["slots"].values())
    assert len(versions) == 3 and versions[-1] == saved["last_version"] > 0
    # one of the two players learns in every game step; the snapshot's steps are nobody's
    assert data["policies"][0]["env_steps"] == data["env_steps"]
    progress = rows(summary)
    last = progress[-1]  # the final report, made after the final checkpoint with the same results
    assert last["self_play/pool_size"] == 3.0
    games = {slot: entry["results"] for slot, entry in saved["slots"].items()}
    assert last["self_play/win_rate_vs_pool"] == pytest.approx(mean([x for r in games.values() for x in r]))
    newest_first = sorted(games, key=lambda slot: -saved["slots"][slot]["version"])
    for age, slot in enumerate(newest_first):
        assert last[f"self_play/win_rate_vs_snapshot_{age}"] == pytest.approx(mean(games[slot]))
    assert "episode_extra_stats/opponent/level/mean" in last
    assert len(data["curriculum_states"]) == 2 and all("window" in st for st in data["curriculum_states"].values())
    from relayrl.cli.enjoy import EnjoyConfig, enjoy

    against_bot = enjoy(
        EnjoyConfig(experiment="e", train_dir=str(tmp_path), opponent="relayrl.envs.coin_duel:bot_0", num_episodes=3)
    )
    assert len(against_bot.returns) == 3 and "win" in against_bot.extra_stats
    # Resume for one more rollout, with no new snapshot due: the pool must be the saved one (a fresh pool
    # would hold one snapshot of the current weights).
    more = relayrl.train(replace(cfg, train_for_env_steps=data["env_steps"] + 1, multi_agent__self_play_every=10**6))
    again = read_checkpoint(Path(more.checkpoint))["self_play"]
    assert again["last_version"] == saved["last_version"]
    assert set(again["slots"]) == set(saved["slots"])
    for slot, entry in saved["slots"].items():
        now = again["slots"][slot]
        assert now["version"] == entry["version"]
        assert all(torch.equal(now["weights"][name], w) for name, w in entry["weights"].items())
        # the saved results, then the few games of the one rollout since (a window of RESULTS_WINDOW games)
        played = now["results"]
        assert any((entry["results"] + played[len(played) - n :])[-RESULTS_WINDOW:] == played for n in range(33))


def test_a_mapping_hook_that_raises_stops_the_run_naming_it_and_leaves_a_loadable_checkpoint(tmp_path):
    cfg = small(
        tmp_path,
        multi_agent__num_policies=2,
        multi_agent__policy_mapping="multiagent_envs:raises_later",
        train_for_env_steps=10_000,
        sampling__rollout_length=4,  # a few updates before episode 3 begins (env step 15)
    )
    with pytest.raises(MappingError, match="multiagent_envs:raises_later"):
        relayrl.train(cfg)
    latest = Experiment.of(cfg).checkpoints()[-1]
    assert set(read_checkpoint(latest)["policies"]) == {0, 1}


def test_mixed_agent_spaces_exit_2_before_anything_starts(tmp_path, capsys):
    code = cli_main(["train", "--env", "multiagent_envs:make_mismatch", "--train-dir", str(tmp_path), "--serial"])
    assert code == 2
    assert "agent 'c' has observation space" in capsys.readouterr().err
    assert not (tmp_path / "multiagent_envs_make_mismatch").exists()


@pytest.mark.multiprocess
@pytest.mark.timeout(180)
def test_pettingzoo_simple_spread_trains_from_the_cli(tmp_path):
    pytest.importorskip("mpe2")
    cmd = [
        sys.executable, "-m", "relayrl.cli.main", "train", "--env", "examples.pettingzoo_spread:make_env",
        "--train-dir", str(tmp_path), "--experiment", "spread", "--num-workers", "2", "--num-envs-per-worker", "4",
        "--train-for-env-steps", "4000", "--num-policies", "2", "--policy-mapping", "fixed", "--report-interval", "1",
        "--no-progress-bar", "--seed", "1",
    ]  # fmt: skip
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=170)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = (tmp_path / "spread" / "progress.jsonl").read_text().splitlines()
    last = json.loads(lines[-1])
    assert last["env_steps"] >= 4000
    assert "policy_1/episode_extra_stats/nearest_landmark/mean" in last and "policy_0/reward_mean" in last
    assert torch.load(tmp_path / "spread" / "checkpoints" / "best.pt", weights_only=True)["policies"].keys() == {0, 1}
