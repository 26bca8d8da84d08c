"""Ratings against scripted opponent levels (``--rate-opponent-levels``) and ``OpponentCurriculum``'s rating
gate: the gate's math, the curriculum reading the league from training info, the trainer-side extension
(priors of new levels, publishing, checkpoint round trip, warnings), bad input, and a run end to end."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from conftest import fast_config
from level_envs import make_ladder

import relayrl
from relayrl import info_schema
from relayrl.cli.main import main as cli_main
from relayrl.config import ConfigError, validate
from relayrl.curriculum.opponents import LEVEL_STEP, rated_level_mu, rating_step
from relayrl.league.opponent_levels import OpponentLevelRatings
from relayrl.league.ratings import MU, SIGMA
from relayrl.trainer.checkpointer import read_checkpoint
from relayrl.worker.report import EpisodeRecord

pytest.importorskip("openskill")


# ----- the gate's math -----


def test_an_unrated_level_counts_one_step_per_level_above_the_rated_levels_below_it():
    mus = {0: 20.0, 1: 27.0, 3: 24.0}
    assert rated_level_mu(mus, 1) == 27.0
    assert rated_level_mu(mus, 2) == pytest.approx(27.0 + LEVEL_STEP)
    assert rated_level_mu(mus, 4) == pytest.approx(27.0 + 3 * LEVEL_STEP)  # from level 1, not the nearer 3
    assert rated_level_mu({0: 20.0}, 3) == pytest.approx(20.0 + 3 * LEVEL_STEP)
    assert rated_level_mu({}, 0) is None and rated_level_mu({2: 30.0}, 1) is None


def test_rating_step_promotes_past_the_next_level_and_demotes_below_its_own():
    mus = {0: 20.0, 1: 26.0, 2: 31.0}
    assert rating_step(27.0, mus, 1, 4, demote=True) == 1  # below level 2
    assert rating_step(31.5, mus, 1, 4, demote=True) == 2
    assert rating_step(34.0, mus, 2, 4, demote=True) == 2  # level 3 unrated: 31 + 25/6 = 35.17
    assert rating_step(35.5, mus, 2, 4, demote=True) == 3
    assert rating_step(30.0, mus, 2, 4, demote=True) == 1  # below level 2's own 31
    assert rating_step(30.0, mus, 2, 4, demote=False) == 2
    assert rating_step(20.0, {0: 22.0}, 1, 4, demote=True) == 1  # level 1 unrated: nothing to fall below
    assert rating_step(99.0, mus, 4, 4, demote=True) == 4  # the top level


# ----- the curriculum -----


def _finish_episode(env) -> None:
    env.reset()
    for _ in range(4):
        env.step(0)


def _league(me: float, **levels: float) -> dict:
    ratings = {"policy_0": {"mu": me, "sigma": 1.0}}
    ratings.update({f"bot:level_{n[1:]}": {"mu": mu, "sigma": 1.0} for n, mu in levels.items()})
    return {"ratings": ratings, "levels": {int(n[1:]): f"bot:level_{n[1:]}" for n in levels}}


def test_the_rating_gate_moves_an_instance_by_the_published_ratings():
    env = make_ladder({"beats": 5, "probe_probability": 0})
    env.reset(seed=0)
    _finish_episode(env)
    env.set_training_info({info_schema.POLICY_ID: 0, info_schema.LEAGUE: _league(24.0, l0=22.0, l1=25.0)})
    _finish_episode(env)
    assert env.level == 0  # 24 has not passed level 1's 25
    env.set_training_info({info_schema.POLICY_ID: 0, info_schema.LEAGUE: _league(26.0, l0=22.0, l1=25.0)})
    _finish_episode(env)
    assert env.level == 1 and env.unwrapped.level == 1
    env.reset()
    assert env.level == 1  # no episode played at level 1 yet (min_episodes 1)
    for _ in range(4):
        env.step(0)
    # level 2 unrated: 25 + 25/6 = 29.17
    env.set_training_info({info_schema.POLICY_ID: 0, info_schema.LEAGUE: _league(29.0, l0=22.0, l1=25.0)})
    _finish_episode(env)
    assert env.level == 1
    env.set_training_info({info_schema.POLICY_ID: 0, info_schema.LEAGUE: _league(24.0, l0=22.0, l1=25.0)})
    _finish_episode(env)
    assert env.level == 0  # fell below level 1's own rating: demoted


def test_the_rating_gate_reads_its_own_policys_rating():
    env = make_ladder({"probe_probability": 0})
    env.reset(seed=0)
    _finish_episode(env)
    league = _league(30.0, l0=22.0)
    league["ratings"]["policy_1"] = {"mu": 10.0, "sigma": 1.0}
    env.set_training_info({info_schema.POLICY_ID: 1, info_schema.LEAGUE: league})
    _finish_episode(env)
    assert env.level == 0  # policy 1 (this env's) is below level 0; policy 0 would have passed it


def test_probe_episodes_play_the_next_level_report_it_and_do_not_count_at_the_instances_level():
    env = make_ladder({"beats": 5, "probe_probability": 1.0})
    env.reset(seed=0)
    for _ in range(3):
        *_, info = env.step(0)
    *_, info = env.step(0)
    assert env.unwrapped.level == 1 and info["episode_extra_stats"]["opponent/level"] == 1.0
    assert env.level == 0 and env.episodes_at_level == 0
    top = make_ladder({"probe_probability": 1.0, "beats": 5})
    top.set_state({"level": 4})
    top.reset(seed=0)
    assert top.unwrapped.level == 4  # nothing above the top level to probe
    assert make_ladder({"gate": "win_rate"}).probe_probability == 0.0  # probes belong to the rating gate
    with pytest.raises(ValueError, match="probe_probability must be in"):
        make_ladder({"probe_probability": 1.5})


def test_without_ratings_the_level_stays_and_a_warning_names_the_flag(caplog):
    env = make_ladder({"beats": 5, "probe_probability": 0})
    env.reset(seed=0)
    with caplog.at_level(logging.WARNING, logger="relayrl.curriculum"):
        for _ in range(101):
            _finish_episode(env)
    assert env.level == 0
    (record,) = [r for r in caplog.records if "gate='rating'" in r.message]
    assert "--rate-opponent-levels" in record.message


def test_a_bad_gate_is_refused():
    with pytest.raises(ValueError, match="gate must be one of win_rate, rating"):
        make_ladder({"gate": "elo"})


# ----- the extension -----


class FakePublisher:
    def __init__(self) -> None:
        self.keys: dict = {}

    def set_key(self, key: str, value) -> None:
        self.keys[key] = value


def _ext() -> tuple[OpponentLevelRatings, FakePublisher]:
    publisher = FakePublisher()
    return OpponentLevelRatings([0], "opponent/level", "win", publisher), publisher


class _Report:
    def __init__(self, *episodes: tuple[int, float], policy: int = 0) -> None:
        self.episodes = [
            EpisodeRecord(
                reward=1.0 if win else -1.0,
                length=4,
                extra={"opponent/level": float(level), "win": win},
                policy_id=policy,
            )
            for level, win in episodes
        ]


def test_levels_join_at_their_first_game_one_step_above_the_strongest_below_and_are_published():
    ext, publisher = _ext()
    ext.start(None)
    ext.on_rollout(_Report((0, 1.0), (0, 1.0)))
    table = ext.table.ratings
    assert table["bot:level_0"].games == 2 and table["bot:level_0"].mu < MU < table["policy_0"].mu
    level0 = table["bot:level_0"].mu
    ext.on_rollout(_Report((2, 0.0)))
    # level 2 started at level 0's mu + LEVEL_STEP with a new player's sigma, then won its game
    assert table["bot:level_2"].games == 1 and table["bot:level_2"].sigma < SIGMA
    assert table["bot:level_2"].mu > level0 + LEVEL_STEP
    ext.on_rollout(_Report((1, 1.0), policy=7))  # not a policy of the run: not rated
    assert "bot:level_1" not in table
    ext.housekeeping(0)
    published = publisher.keys[info_schema.LEAGUE]
    assert published["levels"] == {0: "bot:level_0", 2: "bot:level_2"}
    assert set(published["ratings"]) == {"policy_0", "bot:level_0", "bot:level_2"}
    scalars = ext.scalars()
    assert scalars["league/bot:level_2/mu"] == table["bot:level_2"].mu and "league/policy_0/ordinal" in scalars


def test_the_ratings_round_trip_through_the_checkpoint_entry():
    ext, _ = _ext()
    ext.on_rollout(_Report((0, 1.0), (1, 0.0), (1, 1.0)))
    saved = ext.state_dict()
    again, publisher = _ext()
    again.start(saved)
    for player in ("policy_0", "bot:level_0", "bot:level_1"):
        assert again.table.ratings[player] == ext.table.ratings[player]
    again.housekeeping(0)
    assert publisher.keys[info_schema.LEAGUE]["levels"] == {0: "bot:level_0", 1: "bot:level_1"}


def test_episodes_without_the_level_key_are_warned_about_once(caplog):
    ext, _ = _ext()
    report = _Report()
    report.episodes = [EpisodeRecord(reward=1.0, length=4, extra={"win": 1.0}) for _ in range(100)]
    ext.on_rollout(report)
    with caplog.at_level(logging.WARNING, logger="relayrl.league"):
        ext.scalars()
        ext.scalars()
    (record,) = caplog.records
    assert "'opponent/level'" in record.message and "--opponent-level-key" in record.message


# ----- config and a run -----


def test_rating_opponent_levels_with_self_play_is_refused():
    cfg = fast_config("train_dir", opponent_ratings__enabled=True, self_play__enabled=True)
    with pytest.raises(ConfigError, match="--rate-opponent-levels rates scripted opponents"):
        validate(cfg)
    with pytest.raises(ConfigError, match="--opponent-level-key is empty"):
        validate(fast_config("train_dir", opponent_ratings__level_key=""))


def test_a_run_settles_at_the_highest_level_it_beats_and_climbs_when_the_policy_improves(tmp_path, capsys):
    # the ladder's policy beats levels 0 and 1 until 16k env steps, then levels 0-3
    cfg = fast_config(
        tmp_path,
        "level_envs:make_ladder",
        train_for_env_steps=32_000,
        sampling__backend="serial",
        environment__env_kwargs={"beats": 2, "improve_at": 16_000, "improved": 4},
        logging__report_interval=0.5,
        opponent_ratings__enabled=True,
    )
    summary = relayrl.train(cfg)
    rows = [json.loads(line) for line in (tmp_path / "e" / "progress.jsonl").read_text().splitlines()]
    key = "episode_extra_stats/opponent/level/mean"
    before = [r[key] for r in rows if 8_000 <= r["env_steps"] < 16_000]
    assert before and all(0.9 <= level <= 1.4 for level in before), before  # level 1, and probes of level 2
    assert 2.8 <= rows[-1][key] <= 3.4, rows[-1][key]  # level 3, and probes of level 4 (probes let it climb)
    saved = read_checkpoint(Path(summary.checkpoint))["opponent_ratings"]
    players = saved["league"]["players"]
    assert saved["levels"] == [0, 1, 2, 3, 4]
    assert players["bot:level_4"]["mu"] > players["policy_0"]["mu"] > players["bot:level_3"]["mu"]
    assert "league/bot:level_4/mu" in rows[-1]
    capsys.readouterr()
    assert cli_main(["league", "--experiment", "e", "--train-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "bot:level_4" in out and "scripted" in out and "learner" in out
