"""Multi-agent: the PettingZoo-shaped adapter, mapping, per-agent training info, snapshot pool, opponent curriculum."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import fast_config
from multiagent_envs import LeaveJoinEnv, MismatchEnv

from relayrl import info_schema
from relayrl.config import Config, ConfigError, SelfPlayConfig, replace, validate
from relayrl.curriculum.opponents import OpponentCurriculum
from relayrl.envs.coin_duel import CELL, CoinDuel, CoinDuelVsBot
from relayrl.envs.multiagent_batch import MultiAgentEnvBatch
from relayrl.envs.parallel_contract import agent_spaces, is_multiagent_env
from relayrl.evaluation.matches import opponent_refused_hint, resolve_opponent
from relayrl.self_play.pool import SnapshotPool, sampling_weights
from relayrl.shared.trajectories import TrajectoryBuffers
from relayrl.worker.agent_info import AgentInfo, PoolTable
from relayrl.worker.mapping import AgentMapping, MappingError, validate_mapping
from relayrl.worker.report import EpisodeRecord

# ----- the adapter -----


def test_detects_the_parallel_env_shape_and_refuses_mixed_spaces():
    assert is_multiagent_env(LeaveJoinEnv())
    assert not is_multiagent_env(CoinDuelVsBot())
    agents, obs_space, _ = agent_spaces(LeaveJoinEnv(), "x")
    assert agents == ("a", "b", "c") and obs_space.shape == (2,)
    with pytest.raises(ConfigError, match=r"agent 'c' has observation space .*agent 'a'"):
        agent_spaces(MismatchEnv(), "mismatch")


def test_rows_follow_agents_leaving_and_joining_and_terminal_infos_survive_the_reset():
    batch = MultiAgentEnvBatch([LeaveJoinEnv(), LeaveJoinEnv()], "leave_join")
    assert batch.num_envs == 6  # 2 envs x 3 possible agents
    batch.reset()
    assert batch.active.tolist() == [True, True, False] * 2  # c has not joined
    actions = np.ones(6, dtype=np.int64)
    r1 = batch.step(actions)
    assert r1.rewards.tolist() == [1, 1, 0] * 2
    r2 = batch.step(actions)
    assert r2.active.tolist() == [True, True, True] * 2  # c joined after step 2
    r3 = batch.step(actions)
    assert r3.terminated.tolist() == [True, False, False] * 2
    assert r3.episode_infos[0]["episode_extra_stats"]["score"] == 3.0
    assert r3.active.tolist() == [False, True, True] * 2  # a left
    r4 = batch.step(actions)
    assert r4.rewards.tolist() == [0, 1, 1] * 2  # a's row gets nothing
    r5 = batch.step(actions)  # b and c truncated: the env resets in the same step
    assert r5.truncated.tolist() == [False, True, True] * 2
    assert r5.episode_infos[1]["episode_extra_stats"] == {"score": 5.0}  # kept through the reset
    assert r5.final_obs[2].tolist() == [5.0, 2.0]
    assert r5.active.tolist() == [True, True, False] * 2  # new episode
    assert r5.obs[0].tolist() == [0.0, 0.0]
    assert batch.envs()[0].actions_seen[3] == {"b": 1, "c": 1}  # only acting agents get actions


# ----- mapping -----


def _cfg(self_play: bool = False, **ma) -> Config:
    changes = {f"multi_agent__{k}": v for k, v in ma.items()}
    return fast_config("train_dir", "multiagent_envs:make_leave_join", self_play__enabled=self_play, **changes)


def test_mapping_kinds():
    fixed = AgentMapping(_cfg(num_policies=2, policy_mapping="fixed"), ["a", "b", "c"], 2, 0, seed=0)
    fixed.new_episode(1)
    assert fixed.controller.tolist() == [0, 0, 0, 0, 1, 0]
    hook = AgentMapping(_cfg(num_policies=2, policy_mapping="multiagent_envs:by_agent"), ["a", "b", "c"], 1, 0, 0)
    hook.new_episode(0)
    assert hook.controller.tolist() == [0, 1, 1]
    rand = AgentMapping(_cfg(num_policies=3), ["a", "b", "c"], 50, 0, seed=1)
    for e in range(50):
        rand.new_episode(e)
    assert set(rand.controller.tolist()) == {0, 1, 2}


def test_a_hook_that_raises_mid_run_names_the_hook():
    mapping = AgentMapping(_cfg(num_policies=2, policy_mapping="multiagent_envs:raises_later"), ["a"], 1, 0, 0)
    for _ in range(3):
        mapping.new_episode(0)
    mapping.raise_failure()  # episodes 0..2 map fine
    mapping.new_episode(0)
    with pytest.raises(MappingError, match=r"multiagent_envs:raises_later.*no mapping for late episodes.*episode 3"):
        mapping.raise_failure()


@pytest.mark.parametrize(
    ("ma", "agents", "match"),
    [
        (dict(num_policies=2, policy_mapping="multiagent_envs:unknown_id"), ("a", "b"), "returned 7"),
        (
            dict(num_policies=2, policy_mapping="round_robin"),
            ("a", "b"),
            "'round_robin' is unknown; choose random, fixed, or a hook package.module:function",
        ),
        (dict(num_policies=4, policy_mapping="fixed"), ("a", "b"), "would never act"),
        (dict(num_policies=9), ("a", "b"), "exceeds the 8 agents"),
        (dict(self_play=True), None, "needs a multi-agent env"),
    ],
)
def test_bad_mapping_settings_are_refused_up_front(ma, agents, match):
    with pytest.raises(ConfigError, match=match):
        validate_mapping(_cfg(**ma), agents, num_envs_total=4)


def test_self_play_maps_one_learner_against_a_pool_snapshot():
    mapping = AgentMapping(_cfg(self_play=True), ["a", "b"], 20, 0, seed=3, pool_weights=lambda k: {1: 1.0, 3: 1.0})
    for e in range(20):
        mapping.new_episode(e)
        rows = mapping.controller[2 * e : 2 * e + 2].tolist()
        assert sorted(rows)[0] == 0 and sorted(rows)[1] in (1, 3)  # policy 0 vs slot 0 or 2 (ids 1 + slot)
    assert mapping.opponent_of(0, mapping.controller) in (1, 3)


# ----- per-agent training info -----


def test_agent_info_names_each_agents_policy_and_its_progress():
    mapping = AgentMapping(_cfg(num_policies=2, policy_mapping="multiagent_envs:by_agent"), ["a", "b", "c"], 1, 0, 0)
    mapping.new_episode(0)
    part = info_schema.trainer_part(
        1.0,
        policies={
            0: {"policy_version": 5, "env_steps": 10, "stats": {"episodes": 1}},
            1: {"policy_version": 9, "env_steps": 20, "stats": {"episodes": 2}},
        },
    )
    info = AgentInfo(mapping, ["a", "b", "c"], PoolTable(None)).decorate(0, info_schema.complete(part, 100))
    # the top level: the lowest-numbered policy among the env's agents (a -> 0, b and c -> 1)
    assert info["policy_id"] == 0 and info["policy_version"] == 5 and info["approx_total_training_steps"] == 100
    assert info["agents"]["a"]["policy_id"] == 0 and info["agents"]["a"]["policy_version"] == 5
    assert info["agents"]["b"] == {"policy_id": 1, "policy_version": 9, "env_steps": 20, "stats": {"episodes": 2}}
    single = AgentMapping(_cfg(num_policies=2, policy_mapping="fixed"), [0], 2, 0, 0)
    single.controller[:] = [0, 1]
    one = AgentInfo(single, None, PoolTable(None))
    assert one.decorate(0, dict(part))["policy_version"] == 5
    as_policy_1 = one.decorate(1, dict(part))
    assert (
        as_policy_1["policy_id"] == 1 and as_policy_1["policy_version"] == 9 and as_policy_1["stats"] == {"episodes": 2}
    )


def test_a_batch_for_one_policy_keeps_only_its_steps():
    space = LeaveJoinEnv().observation_space("a")
    buffers = TrajectoryBuffers.allocate(
        1, 2, 3, space, LeaveJoinEnv().action_space("a"), 0, shared=False, num_policies=2
    )
    buffers.policy_ids[0] = torch.tensor([[0, 1, 2], [0, 1, 2]], dtype=torch.int16)
    buffers.policy_versions[0] = torch.tensor([4, 7])
    buffers.valid[0, 1, 0] = False
    batch = buffers.gather([0])
    own = batch.for_policy(1)
    assert own.valid.tolist() == [[False, True, False], [False, True, False]]
    assert own.policy_version.tolist() == [7, 7, 7]
    assert batch.for_policy(0).valid.tolist() == [[True, False, False], [False, False, False]]


# ----- self-play pool -----


def _state(x: float) -> dict[str, torch.Tensor]:
    return {"w": torch.full((2,), x)}


def _learning(state: dict) -> SimpleNamespace:
    """A stand-in for the learning ``Policy`` of a pool (its id, version and model weights)."""
    learner = SimpleNamespace(model=SimpleNamespace(state_dict=lambda: state), policy_version=0)
    return SimpleNamespace(id=0, learner=learner, version=0)


def test_pool_snapshots_every_k_versions_replaces_the_oldest_and_round_trips():
    cfg = SelfPlayConfig(enabled=True, every=10, pool_size=2, opponents="hardest")
    pool = SnapshotPool(cfg, [_learning(_state(0.0))], ctx=torch.multiprocessing)
    assert pool.maybe_add(_state(0.0), 0)
    assert not pool.maybe_add(_state(1.0), 5)
    assert pool.maybe_add(_state(1.0), 10) and pool.maybe_add(_state(2.0), 20)
    assert pool.versions == {0: 20, 1: 10}  # slot 0 (version 0, the oldest) was reused
    pool.record([EpisodeRecord(1.0, 5, {"win": 1.0}, policy_id=0, opponent=1 + 1)] * 3)
    pool.record([EpisodeRecord(-1.0, 5, {"win": 0.0}, policy_id=0, opponent=1 + 0)])
    pool.record([EpisodeRecord(1.0, 5, {"win": 1.0}, policy_id=1, opponent=0)])  # the snapshot's own episode
    assert pool.win_rates() == {0: 0.0, 1: 1.0}
    restored = SnapshotPool(cfg, [_learning(_state(0.0))], ctx=torch.multiprocessing)
    restored.load_state_dict(pool.state_dict())
    assert restored.versions == pool.versions and restored.win_rates() == pool.win_rates()
    assert restored.weights[0].tensors["w"].tolist() == [2.0, 2.0] and int(restored.weights[0].version[0]) == 20
    _, table = restored.table.read()
    weights = table["weights"][0]  # learner 0's, by controller id (1 + slot)
    assert weights[1 + 0] > weights[1 + 1]  # hardest: the slot the learner never beats
    assert restored.maybe_add(_state(3.0), 25) is False  # the cadence continues from the restored version


def test_sampling_weights():
    assert sampling_weights({0: 0.2, 1: None}, "uniform") == {0: 1.0, 1: 1.0}
    weights = sampling_weights({0: 0.0, 1: 1.0, 2: None}, "hardest")
    assert weights[0] == pytest.approx(1.05) and weights[1] == pytest.approx(0.05) and weights[2] == 1.0


# ----- opponent curriculum -----


def _play(env: OpponentCurriculum, win: bool) -> None:
    env.reset()
    inner = env.unwrapped
    while True:
        # a win: walk onto the coin; a loss: stand still (the bot collects)
        from relayrl.envs.coin_duel import greedy_action

        action = greedy_action(inner.core.pos[0], inner.core.coin) if win else 0
        _, _, term, trunc, info = env.step(action)
        if term or trunc:
            return


def test_opponent_curriculum_promotes_and_demotes_on_this_instances_win_rate():
    env = OpponentCurriculum(
        CoinDuelVsBot({"bot_level": 0}), levels=5, window=4, promote_threshold=0.7, demote_threshold=0.3
    )
    env.reset(seed=0)
    for _ in range(4):
        _play(env, win=True)  # greedy beats the random bot
    env.reset()
    assert env.unwrapped.bot_level == 1 and env.level == 1
    state = env.get_state()
    for _ in range(4):
        _play(env, win=False)
    env.reset()
    assert env.unwrapped.bot_level == 0
    other = OpponentCurriculum(CoinDuelVsBot(), levels=5)
    other.set_state(state)
    other.reset(seed=1)
    assert other.unwrapped.bot_level == 1  # restored from a checkpointed state


def test_self_play_config_round_trips():
    cfg = replace(_cfg(), self_play__enabled=True, self_play__pool_size=3)
    assert Config.from_dict(cfg.to_dict()).self_play.pool_size == 3


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        (dict(multi_agent__num_policies=0), "--num-policies must be >= 1"),
        (dict(self_play__every=0), "--self-play-every"),
        (dict(self_play__pool_size=0), "--self-play-pool-size"),
        (dict(multi_agent__policy_mapping="round_robin"), "not one of random, fixed or 'package.module:function'"),
    ],
)
def test_bad_multi_agent_values(changes, match):
    with pytest.raises(ConfigError, match=match):
        validate(replace(_cfg(), **changes))


def test_snapshot_age_curriculum_moves_to_newer_snapshots_as_the_learner_wins():
    from relayrl.curriculum.snapshots import SnapshotAgeCurriculum, find_opponent_level
    from relayrl.envs.coin_duel import CoinDuel, greedy_action

    env = SnapshotAgeCurriculum(CoinDuel(), levels=3, window=3, promote_threshold=0.7, demote_threshold=0.2)
    assert find_opponent_level(env) == 0
    env.set_training_info({"agents": {"player_0": {"policy_id": 0}, "player_1": {"policy_id": None}}})
    levels = []
    for _ in range(3):
        obs, _ = env.reset(seed=len(levels))
        while env.agents:
            game = env.env.core
            _, _, _, _, infos = env.step({"player_0": greedy_action(game.pos[0], game.coin), "player_1": 0})
        levels.append(infos["player_0"]["episode_extra_stats"]["opponent/level"])
        assert "opponent/level" not in infos["player_1"].get("episode_extra_stats", {})
    assert levels == [0.0, 0.0, 0.0] and env.opponent_level == 1  # 3 wins of 3: one level up
    other = SnapshotAgeCurriculum(CoinDuel(), levels=3)
    other.set_state(env.get_state())
    assert other.opponent_level == 1
    # the mapping plays the snapshot of that age: level 1 = the second oldest
    mapping = AgentMapping(
        _cfg(self_play=True),
        ["player_0", "player_1"],
        1,
        0,
        seed=0,
        pool_weights=lambda k: {1: 1.0, 2: 1.0, 3: 1.0},
        pool_versions=lambda k: {0: 30, 1: 10, 2: 20},
        opponent_level=lambda e: 1,
    )
    mapping.new_episode(0)
    assert sorted(mapping.controller.tolist()) == [0, 1 + 2]  # slot 2 holds version 20


def test_a_policys_share_of_a_batch_keeps_the_minibatch_size():
    from relayrl.learning.learner import own_minibatches

    assert own_minibatches(1024, 2048, 4) == 2  # half the steps: half the minibatches, same size
    assert own_minibatches(2048, 2048, 4) == 4
    assert own_minibatches(10, 2048, 4) == 1
    assert own_minibatches(700, 2048, 4) == 1


def test_opponent_specs_and_what_a_bare_name_suggests():
    assert resolve_opponent("policy:1", [0, 1], "relayrl.envs.coin_duel:make_duel") == 1
    bot = resolve_opponent("relayrl.envs.coin_duel:bot_4", [0], "relayrl.envs.coin_duel:make_duel")
    assert callable(bot) and bot.__name__ == "bot_4"
    with pytest.raises(ConfigError, match=r"give policy:J \(J a policy of the checkpoint: 0, 1\).*"
                       r"--opponent relayrl\.envs\.coin_duel:bot_4\."):  # fmt: skip
        resolve_opponent("bot_4", [0, 1], "multiagent_envs:make_leave_join")
    with pytest.raises(ConfigError, match=r"--opponent multiagent_envs:by_agent\."):  # found in the env's module
        resolve_opponent("by_agent", [0], "multiagent_envs:make_leave_join")
    with pytest.raises(ConfigError, match=r"policy:J with J a policy of the checkpoint \(0, 1\)"):
        resolve_opponent("policy:2", [0, 1], "relayrl.envs.coin_duel:make_duel")


def test_a_refused_opponent_names_the_envs_bot_level_kwarg():
    hint = opponent_refused_hint(
        OpponentCurriculum(CoinDuelVsBot(), "set_bot_level", 5), "relayrl.envs.coin_duel:bot_4"
    )
    assert hint.endswith("""--env-kwargs '{"bot_level": 4}'""")
    assert opponent_refused_hint(CoinDuelVsBot({"bot_level": 2}), "policy:0").endswith("""'{"bot_level": 2}'""")
    assert opponent_refused_hint(LeaveJoinEnv(), "x:bot_4") == ""


def test_coin_duel_renders_rgb_frames_only_when_asked():
    env = CoinDuel({"size": 5}, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame is not None and frame.shape == (5 * CELL, 5 * CELL, 3) and frame.dtype == np.uint8
    (x, y) = env.core.pos[0]
    assert tuple(frame[y * CELL + CELL // 2, x * CELL + CELL // 2]) == (210, 50, 50)  # player_0 is red
    assert CoinDuel().render() is None
    vs_bot = CoinDuelVsBot(render_mode="rgb_array")
    vs_bot.reset(seed=0)
    assert vs_bot.render().shape == (7 * CELL, 7 * CELL, 3)
