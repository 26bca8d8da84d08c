"""The league: ratings (hand-computed Weng-Lin updates), opponent weights by rating, the self-play pool's
league table, its checkpoint round trip, ``--self-play-opponents rating`` end to end and ``relayrl league``."""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from conftest import fast_config

import relayrl
from relayrl.cli.main import main as cli_main
from relayrl.config import Config, ConfigError, SelfPlayConfig, replace, validate
from relayrl.league import ratings as ratings_module
from relayrl.league.ratings import DRIFT, MU, SIGMA, SNAPSHOT_WIDEN, Ratings, bot_id, policy_id, snapshot_id
from relayrl.league.selection import rating_weights, weight_of
from relayrl.league.table import LeagueTable, game_score
from relayrl.self_play.pool import SnapshotPool
from relayrl.trainer.checkpointer import read_checkpoint
from relayrl.worker.mapping import AgentMapping
from relayrl.worker.report import EpisodeRecord

BETA = MU / 6  # openskill's default performance spread


def phi(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def plackett_luce_two_players(mu_w: float, s_w: float, mu_l: float, s_l: float) -> tuple[float, ...]:
    """The Weng-Lin Plackett-Luce update of a won game (Weng & Lin 2011, Algorithm 4, with openskill's
    default gamma = sigma_i / c and no tau), written out for two players: (mu_w, s_w, mu_l, s_l) after it."""
    c = math.sqrt(s_w**2 + s_l**2 + 2 * BETA**2)
    p_w = math.exp(mu_w / c) / (math.exp(mu_w / c) + math.exp(mu_l / c))  # the winner first among both
    # the winner: only its own term (rank 1); the loser: the winner's term and its own (sum over itself = 1)
    omega_w, delta_w = (1 - p_w), p_w * (1 - p_w)
    omega_l, delta_l = -(1 - p_w), p_w * (1 - p_w)
    out = []
    for mu, s, omega, delta in ((mu_w, s_w, omega_w, delta_w), (mu_l, s_l, omega_l, delta_l)):
        gamma = s / c
        out += [mu + s**2 / c * omega, s * math.sqrt(max(1 - gamma * s**2 / c**2 * delta, 1e-4))]
    return tuple(out)


# ----- ratings -----


def test_a_won_game_moves_both_ratings_as_computed_by_hand():
    ratings = Ratings()
    ratings.add("a", mu=30.0, sigma=5.0)
    ratings.add("b", mu=22.0, sigma=7.0)
    ratings.record("b", "a", 1.0)  # the underdog wins
    mu_b, s_b, mu_a, s_a = plackett_luce_two_players(22.0, 7.0, 30.0, 5.0)
    assert ratings["b"].mu == pytest.approx(mu_b) and ratings["b"].sigma == pytest.approx(s_b)
    assert ratings["a"].mu == pytest.approx(mu_a) and ratings["a"].sigma == pytest.approx(s_a)
    assert ratings["a"].games == ratings["b"].games == 1
    # two new players (p = 1/2): the winner gains sigma^2 / 2c = 2.635, what the loser loses
    even = Ratings()
    even.add("x")
    even.add("y")
    even.record("x", "y", 0.0)
    assert even["y"].mu == pytest.approx(27.6352, abs=1e-4) and even["x"].mu == pytest.approx(2 * MU - even["y"].mu)
    assert even["x"].sigma == even["y"].sigma == pytest.approx(8.0655, abs=1e-4)


def test_a_draw_pulls_the_means_together_and_narrows_both():
    ratings = Ratings()
    ratings.add("strong", mu=30.0, sigma=5.0)
    ratings.add("weak", mu=20.0, sigma=5.0)
    ratings.record("strong", "weak", 0.5)
    assert 25.0 < ratings["strong"].mu < 30.0 and 20.0 < ratings["weak"].mu < 25.0
    assert ratings["strong"].mu - 30.0 == pytest.approx(20.0 - ratings["weak"].mu)
    assert ratings["strong"].sigma < 5.0 and ratings["weak"].sigma < 5.0


def test_predict_win_is_the_librarys_normal_formula():
    ratings = Ratings()
    ratings.add(policy_id(0), mu=28.0, sigma=2.0)
    ratings.add(bot_id("coin_duel:bot_4"), mu=24.0, sigma=3.0)
    expected = phi(4.0 / math.sqrt(2 * BETA**2 + 4.0 + 9.0))
    assert ratings.predict_win("policy_0", "bot:coin_duel:bot_4") == pytest.approx(expected)
    assert ratings.predict_win("bot:coin_duel:bot_4", "policy_0") == pytest.approx(1 - expected)


def test_a_changing_player_drifts_before_its_game_and_a_frozen_one_does_not():
    ratings = Ratings()
    ratings.add("learner", mu=25.0, sigma=3.0, changing=True)
    ratings.add("frozen", mu=25.0, sigma=3.0)
    ratings.record("learner", "frozen", 1.0)
    mu_w, s_w, mu_l, s_l = plackett_luce_two_players(25.0, math.sqrt(9.0 + DRIFT**2), 25.0, 3.0)
    assert ratings["learner"].sigma == pytest.approx(s_w) and ratings["frozen"].sigma == pytest.approx(s_l)
    assert ratings["learner"].mu == pytest.approx(mu_w) and ratings["frozen"].mu == pytest.approx(mu_l)


def test_a_snapshot_starts_from_its_parent_with_a_wider_sigma_and_the_table_ranks_by_ordinal():
    ratings = Ratings()
    ratings.add(policy_id(0), mu=31.0, sigma=1.5, changing=True)
    ratings.add_snapshot(snapshot_id(0, 40), policy_id(0))
    snap = ratings["snapshot_0_40"]
    assert snap.mu == 31.0 and snap.sigma == pytest.approx(math.hypot(1.5, SNAPSHOT_WIDEN))
    assert not snap.changing and snap.games == 0
    ratings.add("new")
    assert [row.player for row in ratings.table()] == ["policy_0", "snapshot_0_40", "new"]
    assert ratings.table()[2].ordinal == pytest.approx(MU - 3 * SIGMA)
    again = Ratings()
    again.load_state_dict(ratings.state_dict())
    assert again.table() == ratings.table() and again["policy_0"].changing


def test_bad_games_are_refused():
    ratings = Ratings()
    ratings.add("a")
    ratings.add("b")
    with pytest.raises(ValueError, match="score_a"):
        ratings.record("a", "b", 0.7)
    with pytest.raises(KeyError, match="'c' is not rated"):
        ratings.record("a", "c", 1.0)
    with pytest.raises(ValueError, match="already rated"):
        ratings.add("a")


def test_without_openskill_rating_a_game_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "openskill.models", None)  # import fails
    ratings = Ratings()
    ratings.load_state_dict({"players": {"a": {"mu": 25, "sigma": 8}, "b": {"mu": 20, "sigma": 8}}})
    assert [row.player for row in ratings.table()] == ["a", "b"]  # reading a saved table needs no openskill
    with pytest.raises(ConfigError, match=r"pip install 'relayrl\[league\]'"):
        ratings.record("a", "b", 1.0)
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "openskill" else find_spec(name, *a)
    )
    assert not ratings_module.openskill_available()
    cfg = replace(_duel_cfg("train_dir"), self_play__opponents="rating")
    with pytest.raises(ConfigError, match=r"rating needs the openskill package: pip install 'relayrl\[league\]'"):
        validate(cfg)


# ----- selection -----


def test_selection_weights():
    assert weight_of(0.25, "hard") == pytest.approx(0.5625) and weight_of(0.25, "even") == pytest.approx(0.1875)
    assert rating_weights({0: 0.9, 1: 0.5, 2: 0.1}, "hard") == pytest.approx({0: 0.01, 1: 0.25, 2: 0.81})
    assert rating_weights({0: 0.9, 1: 0.5, 2: 0.1}, "even") == pytest.approx({0: 0.09, 1: 0.25, 2: 0.09})
    assert rating_weights({0: 1.0, 1: 1.0}, "hard") == {0: 1.0, 1: 1.0}  # none can be drawn: all can
    with pytest.raises(ValueError, match="unknown weighting"):
        weight_of(0.5, "easy")


def test_an_unplayed_snapshot_is_weighted_by_its_prediction():
    table = LeagueTable("win")
    table.add_learner(0)
    table.ratings["policy_0"].mu = 30.0
    table.add_snapshot(0, "snapshot_0_10")  # taken at mu 30: an even game
    table.ratings["policy_0"].mu = 34.0  # the learner improved since
    table.add_snapshot(0, "snapshot_0_20")
    p = {s: table.ratings.predict_win("policy_0", s) for s in ("snapshot_0_10", "snapshot_0_20")}
    assert p["snapshot_0_10"] > p["snapshot_0_20"] > 0.45
    weights = table.weights(0, {0: "snapshot_0_10", 1: "snapshot_0_20"}, "hard")
    assert weights == pytest.approx({0: (1 - p["snapshot_0_10"]) ** 2, 1: (1 - p["snapshot_0_20"]) ** 2})


# ----- the league table of self-play -----


def _ep(reward: float, **extra: float) -> EpisodeRecord:
    return EpisodeRecord(reward, 10, dict(extra), policy_id=0, opponent=1)


def test_game_score_from_the_win_key_else_the_return_sign():
    assert [game_score(_ep(1.0, win=1.0), "win"), game_score(_ep(-1.0, win=0.0), "win")] == [1.0, 0.0]
    assert game_score(_ep(0.0, win=0.0, draw=1.0), "win") == 0.5  # not won, return 0: a draw
    assert game_score(_ep(0.3, win=0.0), "win") == 0.0  # the key says it was not won
    assert [game_score(_ep(r), "win") for r in (2.0, 0.0, -0.5)] == [1.0, 0.5, 0.0]


def test_the_win_key_warning_comes_once_at_the_first_report_with_games(caplog):
    table = LeagueTable("victory")
    table.add_learner(0)
    table.add_snapshot(0, "snapshot_0_0")
    with caplog.at_level(logging.WARNING, logger="relayrl.league"):
        table.scalars()  # no game yet: nothing to judge by
        assert not caplog.records
        table.game(0, "snapshot_0_0", _ep(1.0, win=1.0, draw=0.0))
        table.scalars()
        table.scalars()
    (record,) = caplog.records
    assert "--self-play-win-key 'victory'" in record.message and "draw, win" in record.message
    caplog.clear()
    right = LeagueTable("win")
    right.add_learner(0)
    right.add_snapshot(0, "snapshot_0_0")
    with caplog.at_level(logging.WARNING, logger="relayrl.league"):
        right.game(0, "snapshot_0_0", _ep(1.0, win=1.0))
        right.scalars()
    assert not caplog.records


def _learning(state: dict) -> SimpleNamespace:
    learner = SimpleNamespace(model=SimpleNamespace(state_dict=lambda: state), policy_version=0)
    return SimpleNamespace(id=0, learner=learner, version=0)


def _pool(**cfg) -> SnapshotPool:
    state = {"w": torch.zeros(2)}
    config = SelfPlayConfig(**{"enabled": True, "every": 10, "pool_size": 2, **cfg})
    return SnapshotPool(config, [_learning(state)], ctx=torch.multiprocessing)


def test_the_pool_rates_its_games_reports_active_players_and_round_trips():
    pool = _pool(opponents="rating", rating_weight="even")
    w = {"w": torch.zeros(2)}
    pool.add(w, 0)
    pool.add(w, 10)
    pool.record([EpisodeRecord(1.0, 5, {"win": 1.0}, policy_id=0, opponent=1 + 0)] * 4)  # beats version 0
    pool.record([EpisodeRecord(-1.0, 5, {"win": 0.0}, policy_id=0, opponent=1 + 1)] * 4)  # loses to version 10
    ratings = pool.league.ratings
    assert ratings["policy_0"].games == 8 and ratings["snapshot_0_0"].games == ratings["snapshot_0_10"].games == 4
    assert ratings["snapshot_0_10"].mu > ratings["policy_0"].mu > ratings["snapshot_0_0"].mu
    p = {slot: ratings.predict_win("policy_0", snapshot_id(0, v)) for slot, v in pool.versions.items()}
    pool.publish_table()  # as the trainer's housekeeping does every TABLE_SECONDS
    _, table = pool.table.read()
    weights = table["weights"][0]  # learner 0's, by controller id (1 + slot)
    assert weights[1 + 1] == pytest.approx(p[1] * (1 - p[1])) and weights[1 + 0] == pytest.approx(p[0] * (1 - p[0]))
    pool.add(w, 20)  # replaces version 0 (the oldest)
    scalars = pool.scalars()
    players = {key.split("/")[1] for key in scalars if key.startswith("league/")}
    assert players == {"policy_0", "snapshot_0_10", "snapshot_0_20"}
    assert scalars["league/snapshot_0_10/ordinal"] == pytest.approx(
        ratings["snapshot_0_10"].mu - 3 * ratings["snapshot_0_10"].sigma
    )
    assert ratings["snapshot_0_20"].mu == ratings["policy_0"].mu  # from the learner when added
    saved = pool.state_dict()
    assert saved["league"]["active"] == ["policy_0", "snapshot_0_10", "snapshot_0_20"]
    restored = _pool(opponents="rating", rating_weight="even")
    restored.load_state_dict(saved)
    assert restored.league.ratings.table() == ratings.table()  # the retired snapshot_0_0 too
    assert restored.league.active == pool.league.active
    old = {key: value for key, value in saved.items() if key != "league"}  # a checkpoint from before ratings
    fresh = _pool()
    fresh.load_state_dict(old)
    assert {row.player for row in fresh.league.ratings.table()} == {"policy_0", "snapshot_0_10", "snapshot_0_20"}


def test_latest_plays_only_the_newest_snapshot():
    pool = _pool(opponents="latest", pool_size=3)
    for version in (0, 10, 20):
        pool.add({"w": torch.zeros(2)}, version)
    pool.add({"w": torch.zeros(2)}, 30)  # into slot 0
    _, table = pool.table.read()
    assert table["weights"][0] == {1 + 0: 1.0, 1 + 1: 0.0, 1 + 2: 0.0}


# ----- config -----


def _duel_cfg(train_dir, **changes) -> Config:
    settings = dict(
        train_for_env_steps=2048,
        sampling__backend="serial",
        sampling__num_envs_per_worker=4,
        logging__report_interval=0.3,
        self_play__enabled=True,
    )
    return fast_config(train_dir, "relayrl.envs.coin_duel:make_duel", **{**settings, **changes})


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        (dict(self_play__opponents="strongest"), "--self-play-opponents 'strongest' is not one of uniform, hardest"),
        (dict(self_play__rating_weight="easy"), "--self-play-rating-weight 'easy' is not one of hard, even"),
        (dict(self_play__rating_weight="even"), "applies only to --self-play-opponents rating"),
    ],
)
def test_bad_selection_values(changes, match):
    with pytest.raises(ConfigError, match=match):
        validate(replace(_duel_cfg("train_dir"), **changes))
    validate(replace(_duel_cfg("train_dir"), self_play__opponents="rating", self_play__rating_weight="even"))


def test_an_unknown_mode_on_the_command_line_exits_2(capsys):
    assert cli_main(["train", "--env", "relayrl.envs.coin_duel:make_duel", "--self-play-opponents", "best"]) == 2
    assert "best" in capsys.readouterr().err


# ----- end to end -----


def test_rating_selection_trains_resumes_with_its_ratings_and_prints_the_table(tmp_path, capsys):
    cfg = _duel_cfg(
        tmp_path,
        train_for_env_steps=3000,
        self_play__every=4,
        self_play__pool_size=2,
        self_play__opponents="rating",
        self_play__rating_weight="even",
    )
    summary = relayrl.train(cfg)
    saved = read_checkpoint(Path(summary.checkpoint))["self_play"]["league"]
    players = saved["players"]
    assert players["policy_0"]["changing"] and players["policy_0"]["games"] > 0
    assert len(players) > 3 and len(saved["active"]) == 3  # retired snapshots keep their ratings
    rows = [line for line in (tmp_path / "e" / "progress.jsonl").read_text().splitlines() if '"league/' in line]
    assert rows and '"league/policy_0/ordinal"' in rows[-1]
    # resume: the ratings go on from the saved ones (a retired snapshot is exactly as saved)
    more = relayrl.train(replace(cfg, train_for_env_steps=summary.env_steps + 600))
    again = read_checkpoint(Path(more.checkpoint))["self_play"]["league"]["players"]
    retired = [p for p in players if p not in saved["active"]]
    assert all(again[p] == players[p] for p in retired)
    assert again["policy_0"]["games"] > players["policy_0"]["games"]
    assert cli_main(["league", "--experiment", "e", "--train-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "league table of" in out[0] and "mu-3sigma" in out[1]
    ordinals = [float(line.split()[4]) for line in out[2:]]
    assert len(ordinals) == len(again) and ordinals == sorted(ordinals, reverse=True)
    assert sum(line.endswith("learner") for line in out) == 1 and sum(line.endswith("in pool") for line in out) == 2


def test_league_of_an_experiment_without_ratings_exits_2(tmp_path, capsys):
    relayrl.train(fast_config(tmp_path, train_for_env_steps=256, sampling__backend="serial"))
    capsys.readouterr()  # the run's log
    assert cli_main(["league", "--experiment", "e", "--train-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds no league ratings" in err[0] and "--self-play" in err[0]
    assert cli_main(["league", "--experiment", "nope", "--train-dir", str(tmp_path)]) == 2


# ----- several learners -----


def _learner(k: int) -> SimpleNamespace:
    learner = SimpleNamespace(model=SimpleNamespace(state_dict=lambda: {"w": torch.zeros(2)}), policy_version=0)
    return SimpleNamespace(id=k, learner=learner, version=0)


def test_a_pool_of_two_learners_gives_each_its_own_slots_and_plays_them_against_each_other():
    config = SelfPlayConfig(enabled=True, every=10, pool_size=2, opponents="hardest")
    pool = SnapshotPool(config, [_learner(0), _learner(1)], ctx=torch.multiprocessing)
    assert len(pool.weights) == 4  # 2 slots per learner
    pool.start(None)  # each learner's first snapshot
    assert pool.owner == {0: 0, 2: 1}
    for version in (10, 20):
        pool.maybe_add({"w": torch.zeros(2)}, version, k=1)
    assert pool.owner == {0: 0, 2: 1, 3: 1} and pool.versions[2] == 20  # learner 1's oldest slot was reused
    # learner 0 (controller 0) beats learner 1 (controller 1): both sides' episodes, rated once
    pool.record([EpisodeRecord(1.0, 5, {"win": 1.0}, policy_id=0, opponent=1)] * 3)
    pool.record([EpisodeRecord(-1.0, 5, {"win": 0.0}, policy_id=1, opponent=0)] * 3)
    pool.record([EpisodeRecord(-1.0, 5, {"win": 0.0}, policy_id=0, opponent=2 + 3)])  # vs learner 1's snapshot
    ratings = pool.league.ratings
    assert ratings["policy_0"].games == 4 and ratings["policy_1"].games == 3
    assert ratings["policy_0"].mu > ratings["policy_1"].mu
    assert set(pool.candidates(0)) == {1, 2 + 0, 2 + 2, 2 + 3}  # learner 1 and every snapshot, not itself
    weights = pool.opponent_weights(1)
    assert weights[0] == pytest.approx(1.05) and weights[2 + 0] == 1.0  # learner 1 never beat learner 0
    scalars = pool.scalars()
    assert scalars["self_play/policy_0/win_rate_vs_policy_1"] == 1.0
    assert scalars["self_play/policy_1/win_rate_vs_policy_0"] == 0.0
    assert scalars["self_play/policy_0/win_rate_vs_pool"] == 0.0
    _, table = pool.table.read()
    assert set(table["weights"]) == {0, 1} and table["slots"][3] == {"version": 10, "policy": 1}
    restored = SnapshotPool(config, [_learner(0), _learner(1)], ctx=torch.multiprocessing)
    restored.start(pool.state_dict())
    assert restored.owner == pool.owner and restored.versions == pool.versions
    assert restored.opponent_weights(1) == weights and restored.league.ratings.table() == ratings.table()
    assert restored.maybe_add({"w": torch.zeros(2)}, 25, k=1) is False  # learner 1's cadence goes on from 20


def test_a_single_learner_checkpoint_loads_into_learner_0s_slots():
    old = {  # the self_play entry of a checkpoint written before leagues of several learners
        "slots": {
            0: {"version": 20, "weights": {"w": torch.ones(2)}, "results": [1.0, 0.0]},
            1: {"version": 10, "weights": {"w": torch.zeros(2)}, "results": [1.0]},
        },
        "last_version": 20,
    }
    config = SelfPlayConfig(enabled=True, every=10, pool_size=2)
    pool = SnapshotPool(config, [_learner(0), _learner(1)], ctx=torch.multiprocessing)
    pool.start(old)
    assert pool.owner == {0: 0, 1: 0, 2: 1} and pool.versions[0] == 20
    assert pool.win_rates(0) == {0: 0.5, 1: 1.0, 2: None}  # controller ids moved from 1 + slot to 2 + slot
    assert pool.maybe_add({"w": torch.zeros(2)}, 25, k=0) is False


def test_self_play_draws_the_learner_and_can_pair_two_learners():
    cfg = replace(relayrl.Config(env="x"), self_play__enabled=True, multi_agent__num_policies=2)
    table = {0: {1: 1.0}, 1: {0: 1.0, 2: 1.0}}  # learner 0 plays learner 1; learner 1 plays 0 or snapshot slot 0
    mapping = AgentMapping(cfg, ["a", "b"], 40, 0, seed=1, pool_weights=lambda k: table[k])
    pairs = set()
    for e in range(40):
        mapping.new_episode(e)
        pairs.add(tuple(sorted(mapping.controller[2 * e : 2 * e + 2].tolist())))
    assert pairs == {(0, 1), (1, 2)}  # learner vs learner, and learner 1 vs the snapshot (controller 2)


def test_a_league_of_three_learners_trains_end_to_end(tmp_path):
    cfg = _duel_cfg(tmp_path, train_for_env_steps=3000, multi_agent__num_policies=3, self_play__every=4)
    summary = relayrl.train(cfg)
    assert summary.env_steps >= 3000
    saved = read_checkpoint(Path(summary.checkpoint))
    assert all(p["policy_version"] > 0 for p in saved["policies"].values()) and len(saved["policies"]) == 3
    owners = {entry["policy"] for entry in saved["self_play"]["slots"].values()}
    assert owners == {0, 1, 2}
    rows = [json.loads(line) for line in (tmp_path / "e" / "progress.jsonl").read_text().splitlines()]
    keys = set().union(*rows)
    assert {f"league/policy_{k}/ordinal" for k in range(3)} <= keys
    assert any(key.startswith("self_play/policy_2/win_rate_vs_policy_") for key in keys)


def test_evaluation_matches_against_bots_rate_the_bots_in_the_league(tmp_path):
    cfg = _duel_cfg(
        tmp_path,
        train_for_env_steps=1500,
        evaluation__every_env_steps=512,
        evaluation__episodes=4,
        evaluation__opponents="relayrl.envs.coin_duel:bot_0,relayrl.envs.coin_duel:bot_4",
    )
    summary = relayrl.train(cfg)
    players = read_checkpoint(Path(summary.checkpoint))["self_play"]["league"]["players"]
    evaluations = [
        row
        for row in map(json.loads, (tmp_path / "e" / "progress.jsonl").read_text().splitlines())
        if "eval/reward" in row
    ]
    for bot in ("bot_0", "bot_4"):
        # every evaluation game (4 per evaluation, the final one included) rated the bot, a fixed player
        assert players[f"bot:relayrl.envs.coin_duel:{bot}"]["games"] == 4 * len(evaluations)
        assert not players[f"bot:relayrl.envs.coin_duel:{bot}"]["changing"]
    assert "league/bot:relayrl.envs.coin_duel:bot_4/ordinal" in json.loads(
        (tmp_path / "e" / "progress.jsonl").read_text().splitlines()[-1]
    )


def test_the_snapshot_age_curriculum_can_promote_by_rating():
    from relayrl.curriculum.snapshots import SnapshotAgeCurriculum
    from relayrl.envs.coin_duel import CoinDuel

    env = SnapshotAgeCurriculum(CoinDuel(), levels=3, gate="rating")
    league = {
        "ratings": {"policy_1": {"mu": 26.0, "sigma": 2.0}, "snapshot_1_0": {"mu": 20.0, "sigma": 3.0}},
        "snapshots": {1: ["snapshot_1_0", "snapshot_1_10", "snapshot_1_20"]},
    }
    league["ratings"].update({"snapshot_1_10": {"mu": 25.0, "sigma": 3.0}, "snapshot_1_20": {"mu": 27.0, "sigma": 3.0}})

    def episode() -> None:
        env.set_training_info(
            {"agents": {"player_0": {"policy_id": 1}, "player_1": {"policy_id": None}}, "league": league}
        )
        env.reset(seed=0)
        while env.agents:
            env.step({"player_0": 0, "player_1": 0})  # results do not matter: the ratings decide

    episode()
    assert env.opponent_level == 1  # policy_1 (mu 26) passed the next level's snapshot_1_10 (mu 25)
    episode()
    assert env.opponent_level == 1  # not snapshot_1_20 (mu 27)
    league["ratings"]["policy_1"]["mu"] = 27.5
    episode()
    assert env.opponent_level == 2
    with pytest.raises(ValueError, match="gate must be one of win_rate, rating"):
        SnapshotAgeCurriculum(CoinDuel(), levels=3, gate="elo")


def test_self_play_publishes_the_league_in_training_info(tmp_path):
    from relayrl import info_schema

    assert info_schema.LEAGUE in info_schema.RESERVED_KEYS
    published: dict = {}
    pool = SnapshotPool(
        SelfPlayConfig(enabled=True, every=10, pool_size=2),
        [_learner(0), _learner(1)],
        ctx=torch.multiprocessing,
        publisher=SimpleNamespace(set_key=published.__setitem__),
    )
    pool.start(None)
    pool.maybe_add({"w": torch.zeros(2)}, 10, k=0)
    league = published[info_schema.LEAGUE]
    assert league["snapshots"] == {0: ["snapshot_0_0", "snapshot_0_10"], 1: ["snapshot_1_0"]}
    assert set(league["ratings"]) == {"policy_0", "policy_1", "snapshot_0_0", "snapshot_0_10", "snapshot_1_0"}
