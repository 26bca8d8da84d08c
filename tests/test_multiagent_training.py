"""Multi-agent end to end: rollouts of agents that leave and join, several policies, self-play, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from statistics import mean

import imageio.v2 as imageio
import pytest
import torch
from conftest import fast_config

import relayrl
from relayrl import info_schema
from relayrl.cli.main import main as cli_main
from relayrl.config import Config, replace
from relayrl.experiment import Experiment
from relayrl.self_play.pool import RESULTS_WINDOW
from relayrl.shared.progress import SharedBlob, StepCounters
from relayrl.shared.trajectories import TrajectoryBuffers
from relayrl.shared.weights import SharedWeights
from relayrl.trainer.checkpointer import read_checkpoint
from relayrl.worker.context import WorkerContexts
from relayrl.worker.mapping import MappingError
from relayrl.worker.rollout import RolloutWorker

ROOT = Path(__file__).resolve().parents[1]


def small(tmp_path, env="multiagent_envs:make_leave_join", **changes) -> Config:
    """This module's serial runs: one worker of 2 envs, 1,024 env steps, a report every 0.2 s."""
    settings = dict(
        train_for_env_steps=1024,
        sampling__backend="serial",
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
    contexts = WorkerContexts(cfg, buffers, (weights,), StepCounters(1), SharedBlob(capacity=1 << 16), 0, lambda w: {})
    report = RolloutWorker(contexts(0)).collect(0)
    # rows a, b, c; steps 1..5 are one episode, step 6 starts the next (c not there yet)
    assert buffers.valid[0, :, 0].tolist() == [True, True, True, False, False, True]  # a leaves after step 3
    assert buffers.valid[0, :, 2].tolist() == [False, False, True, True, True, False]  # c joins for steps 3..5
    assert buffers.starts[0, :, 2].tolist()[2] is True  # a joining agent starts its episode
    assert buffers.dones[0, :, 0].tolist() == [False, False, True, False, False, False]
    episodes = {(ep.length, ep.extra["score"]) for ep in report.episodes}
    assert episodes == {(3, 3.0), (5, 5.0), (3, 5.0)}  # a, b, c: each agent's own terminal stats
    assert report.env_steps == 6  # env steps, not agent steps


def test_each_policys_env_steps_in_training_info_is_live_within_a_rollout(tmp_path):
    # No rollout report reaches a trainer here: the published table says 0 steps for both policies, so
    # only the worker's live per-policy counters can make the delivered values grow.
    cfg = small(
        tmp_path,
        sampling__num_envs_per_worker=2,
        sampling__rollout_length=10,
        multi_agent__num_policies=2,
        multi_agent__policy_mapping="multiagent_envs:by_agent",
        training_info__interval=0.0,
    )
    from relayrl.envs.factory import probe_env
    from relayrl.models import build_actor_critic

    obs_space, action_space, agents = probe_env(cfg)
    model = build_actor_critic(obs_space, action_space, cfg.model)
    buffers = TrajectoryBuffers.allocate(1, 10, 2 * 3, obs_space, action_space, 0, shared=False, num_policies=2)
    weights = SharedWeights(model.state_dict())
    weights.publish(model.state_dict(), 0)
    blob = SharedBlob(capacity=1 << 16)
    table = {k: {"policy_version": 0, "env_steps": 0, "stats": {}} for k in (0, 1)}
    blob.publish(info_schema.trainer_part(0.0, table))
    counters = StepCounters(1, base=1000, policy_base=[100, 200])  # resumed from these counts
    contexts = WorkerContexts(cfg, buffers, (weights, weights), counters, blob, 0, lambda w: {})
    worker = RolloutWorker(contexts(0))
    worker.collect(0)
    received = worker.env_batch.envs()[0].received
    steps = [[info["policies"][k]["env_steps"] for k in (0, 1)] for info in received]
    # per env and step: a (policy 0) acts in steps 1-3 of each 5-step episode, b and c (policy 1) 1, 1, 2, 2, 2
    per_step = [(1, 1), (1, 1), (1, 2), (0, 2), (0, 2)] * 2
    expected = [
        [100 + 2 * sum(s[0] for s in per_step[:t]), 200 + 2 * sum(s[1] for s in per_step[:t])] for t in range(10)
    ]
    deliveries_before_steps = [s for s in steps if s in expected]
    assert deliveries_before_steps == sorted(deliveries_before_steps) and len(set(map(tuple, steps))) >= 10
    assert [s for s in expected if s in steps] == expected  # every step's delivery carries the counts so far
    assert counters.policy_totals() == [100 + 2 * 6, 200 + 2 * 16] and counters.total() == 1000 + 2 * 10
    for info in received:  # each agent's entry carries its policy's live count
        for agent, entry in info.get("agents", {}).items():
            assert entry["env_steps"] == info["policies"][entry["policy_id"]]["env_steps"], agent


def test_two_policies_train_on_their_own_agents_and_envs_learn_who_controls_them(tmp_path):
    cfg = small(tmp_path, multi_agent__num_policies=2, multi_agent__policy_mapping="multiagent_envs:by_agent")
    summary = relayrl.train(cfg)
    last = rows(summary)[-1]
    # a -> policy 0, b and c -> policy 1; each env reports the policy its training info named for the agent
    assert last["policy_0/episode_extra_stats/told_policy/mean"] == 0.0
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
        self_play__enabled=True,
        self_play__every=8,
        self_play__pool_size=3,
    )
    summary = relayrl.train(cfg)
    data = read_checkpoint(Path(summary.checkpoint))
    saved = data["self_play"]
    versions = sorted(slot["version"] for slot in saved["slots"].values())
    assert len(versions) == 3 and versions[-1] == saved["last_versions"][0] > 0
    # one of the two players learns in every game step; the snapshot's steps are nobody's
    assert data["policies"][0]["env_steps"] == data["env_steps"]
    progress = rows(summary)
    last = progress[-1]  # the final report, made after the final checkpoint with the same results
    assert last["self_play/pool_size"] == 3.0
    games = {slot: saved["results"].get(f"0:{1 + slot}", []) for slot in saved["slots"]}  # learner 0 vs 1 + slot
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
    more = relayrl.train(replace(cfg, train_for_env_steps=data["env_steps"] + 1, self_play__every=10**6))
    again = read_checkpoint(Path(more.checkpoint))["self_play"]
    assert again["last_versions"][0] == saved["last_versions"][0]
    assert set(again["slots"]) == set(saved["slots"])
    for slot, entry in saved["slots"].items():
        now = again["slots"][slot]
        assert now["version"] == entry["version"]
        assert all(torch.equal(now["weights"][name], w) for name, w in entry["weights"].items())
        # the saved results, then the few games of the one rollout since (a window of RESULTS_WINDOW games)
        before, played = games[slot], again["results"].get(f"0:{1 + slot}", [])
        assert any((before + played[len(played) - n :])[-RESULTS_WINDOW:] == played for n in range(33))


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
    code = cli_main(
        ["train", "--env", "multiagent_envs:make_mismatch", "--train-dir", str(tmp_path), "--backend", "serial"]
    )
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


def test_a_mapping_hook_gets_the_agents_name_the_global_env_index_and_episodes_from_0(tmp_path):
    """What docs/multi-agent.md says of ``function(agent_id, env_index, episode)``."""
    import multiagent_envs

    multiagent_envs.CALLS.clear()
    cfg = small(
        tmp_path,
        multi_agent__num_policies=2,
        multi_agent__policy_mapping="multiagent_envs:record_calls",
        sampling__num_workers=2,
        train_for_env_steps=256,
    )
    relayrl.train(cfg)
    probes, calls = multiagent_envs.CALLS[:12], multiagent_envs.CALLS[12:]
    assert probes == [(agent, e, 0) for e in range(4) for agent in ("a", "b", "c")]  # before anything starts
    assert {agent for agent, _, _ in calls} == {"a", "b", "c"}  # names from possible_agents, not indexes
    assert {e for _, e, _ in calls} == {0, 1, 2, 3}  # worker w's env e is w * num_envs_per_worker + e
    for e in range(4):
        for agent in ("a", "b", "c"):
            episodes = [ep for ag, env, ep in calls if (ag, env) == (agent, e)]
            assert episodes == list(range(len(episodes))) and len(episodes) >= 3  # 0, 1, 2, ... per env


def test_enjoy_and_export_choose_a_policy_of_a_multiagent_run_and_record_a_video(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    cfg = small(
        tmp_path,
        env="relayrl.envs.coin_duel:make_duel",
        multi_agent__num_policies=2,
        multi_agent__policy_mapping="fixed",
        train_for_env_steps=512,
    )
    relayrl.train(cfg)
    base = ["--experiment", "e", "--train-dir", str(tmp_path), "--checkpoint", "latest"]
    assert cli_main(["enjoy", *base, "--num-episodes", "1"]) == 2  # two policies and no --policy
    assert "holds policies 0, 1; choose one with --policy K" in capsys.readouterr().err
    video = tmp_path / "duel.gif"
    args = ["enjoy", *base, "--policy", "1", "--opponent", "policy:0", "--num-episodes", "2", "--video"]
    assert cli_main([*args, "--video-path", str(video), "--max-video-episodes", "1"]) == 0
    out = capsys.readouterr().out
    assert "(policy 1)" in out and f"video:        {video}" in out
    frames = imageio.mimread(video)
    assert frames[0].shape[2] == 3 and len(frames) >= 2  # the reset and the steps of one game
    assert cli_main(["enjoy", *base, "--policy", "1", "--opponent", "bot_4"]) == 2
    assert "relayrl.envs.coin_duel:bot_4" in capsys.readouterr().err
    assert cli_main(["export", *base, "--policy", "1", "--check-samples", "16"]) == 0
    onnx = pytest.importorskip("onnx")
    props = {p.key: p.value for p in onnx.load(str(tmp_path / "e" / "policy_1.onnx")).metadata_props}
    assert props["policy"] == "1"


def test_video_of_a_multiagent_env_that_cannot_render_is_refused(tmp_path, capsys):
    relayrl.train(small(tmp_path, train_for_env_steps=64))
    capsys.readouterr()  # the training's log lines
    video = tmp_path / "none.mp4"
    args = ["enjoy", "--experiment", "e", "--train-dir", str(tmp_path), "--video", "--video-path", str(video)]
    assert cli_main([*args, "--checkpoint", "latest"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "does not render rgb_array frames" in err
    assert not video.exists()
