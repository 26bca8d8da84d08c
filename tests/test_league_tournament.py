"""``relayrl league --tournament``: the round robin's schedule, the ratings fit, the matrices, the player
specs, reproducible pairs, the printed table and JSON, and bad input (exit 2)."""

from __future__ import annotations

import json

import pytest
from conftest import fast_config

import relayrl
from relayrl.cli.main import main as cli_main
from relayrl.config import ConfigError
from relayrl.experiment import Experiment
from relayrl.league.contestants import SPREAD, default_players, play_tournament
from relayrl.league.tournament import (
    Game,
    check_tournament,
    draw_matrix,
    fit_ratings,
    overall_win_rates,
    round_robin,
    win_matrix,
)

BOT_0 = "relayrl.envs.coin_duel:bot_0"  # random moves
BOT_3 = "relayrl.envs.coin_duel:bot_3"
BOT_4 = "relayrl.envs.coin_duel:bot_4"  # steps toward the coin 75% of the time: the strongest


@pytest.fixture(scope="module")
def duel(tmp_path_factory):
    """A tiny self-play run on CoinDuel: its train dir (experiment ``e``) with a checkpoint."""
    train_dir = tmp_path_factory.mktemp("duel")
    relayrl.train(
        fast_config(
            train_dir,
            "relayrl.envs.coin_duel:make_duel",
            train_for_env_steps=1024,
            sampling__backend="serial",
            self_play__enabled=True,
        )
    )
    return train_dir


# ----- the pure part -----


def test_round_robin_alternates_seats_within_every_pair():
    schedule = round_robin(3, 4)
    assert len(schedule) == 3 * 4
    assert {(a, b) for a, b, _, _ in schedule} == {(0, 1), (0, 2), (1, 2)}
    for pair in [(0, 1), (0, 2), (1, 2)]:
        firsts = [a_first for a, b, _, a_first in schedule if (a, b) == pair]
        assert firsts == [True, False, True, False]


def test_matrices_count_draws_as_half_and_are_complementary():
    games = [Game(0, 1, 0, True, 1.0), Game(0, 1, 1, False, 0.5), Game(0, 2, 0, True, 0.0), Game(1, 2, 0, True, 0.5)]
    m = win_matrix(3, games)
    assert m[0][1] == 0.75 and m[1][0] == 0.25
    assert m[0][2] == 0.0 and m[2][0] == 1.0 and m[1][2] == m[2][1] == 0.5
    assert all(m[i][i] is None for i in range(3))
    assert draw_matrix(3, games)[0][1] == draw_matrix(3, games)[1][0] == 0.5
    assert overall_win_rates(3, games) == pytest.approx([1.5 / 3, 1.0 / 3, 1.5 / 2])  # over games, not pairs


def test_ratings_fit_orders_players_by_strength_and_counts_each_game_once():
    names = ["weak", "middle", "strong"]
    games = [Game(a, b, i, i % 2 == 0, 0.0) for a, b in [(0, 1), (0, 2), (1, 2)] for i in range(30)]
    games += [Game(0, 1, 30 + i, True, 1.0) for i in range(5)]  # the weak one wins a few
    for passes in (1, 2):
        ratings = fit_ratings(names, games, passes)
        mus = [ratings[name].mu for name in names]
        assert mus[0] < mus[1] < mus[2]
        assert [ratings[name].games for name in names] == [65, 65, 60]
        assert ratings.predict_win("strong", "weak") > 0.9
    with pytest.raises(ValueError, match="passes"):
        fit_ratings(names, games, 0)


@pytest.mark.parametrize(
    ("players", "games", "match"),
    [
        (["a"], 10, "at least 2 players"),
        (["a", "b", "a"], 10, "names a twice"),
        (["a", "b"], 0, "--games must be >= 1"),
    ],
)
def test_bad_tournaments_are_refused(players, games, match):
    with pytest.raises(ConfigError, match=match):
        check_tournament(players, games)


def test_default_players_spread_over_the_kept_checkpoints(tmp_path):
    experiment = Experiment(tmp_path, "e")
    experiment.checkpoint_dir.mkdir(parents=True)
    with pytest.raises(ConfigError, match="no checkpoint"):
        default_players(experiment, 1)
    steps = [1000 * (v + 1) for v in range(10)]
    for v, s in enumerate(steps):
        experiment.checkpoint_path(v, s).touch()
    picked = default_players(experiment, 1)
    assert len(picked) == SPREAD and picked[0] == "checkpoint:1000" and picked[-1] == "checkpoint:10000"
    experiment.best_checkpoint.touch()
    assert default_players(experiment, 1)[-1] == "checkpoint:best"
    two = default_players(experiment, 2)
    assert two[:2] == ["policy:0@1000", "policy:1@1000"] and two[-1] == "policy:1@best"


# ----- playing -----


def test_tournament_of_a_checkpoint_and_two_bots(duel, tmp_path, capsys):
    out = tmp_path / "t.json"
    players = f"checkpoint:latest,{BOT_0},{BOT_4}"
    argv = ["league", "--experiment", "e", "--train-dir", str(duel), "--tournament", "--games", "30"]
    assert cli_main([*argv, "--players", players, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "tournament: 3 players, 30 games per pair" in printed and "win rate of the row player" in printed
    data = json.loads(out.read_text())
    assert data["players"] == players.split(",") and len(data["games"]) == 3 * 30
    m, p = data["win_rate"], data["predicted_win"]
    for a in range(3):
        assert m[a][a] is None and p[a][a] is None
        for b in range(3):
            if a != b:
                assert 0.0 <= m[a][b] <= 1.0 and m[a][b] + m[b][a] == pytest.approx(1.0)
                assert p[a][b] + p[b][a] == pytest.approx(1.0)
    assert m[2][1] > 0.8  # bot 4 beats the random bot
    ratings = data["ratings"]
    assert ratings[BOT_4]["mu"] > ratings[BOT_0]["mu"] and ratings[BOT_4]["ordinal"] > ratings[BOT_0]["ordinal"]
    assert all(r["games"] == 60 for r in ratings.values())
    assert sum(g[3] for g in data["games"]) == 3 * 15  # each pair: the first player has the first seat half the time
    # the table: best conservative estimate first
    rows = printed.split("\n\n")[0].splitlines()[2:]
    best_first = sorted((r["ordinal"] for r in ratings.values()), reverse=True)
    assert [float(line.split()[4]) for line in rows] == pytest.approx(best_first, abs=0.01)


def test_a_pairs_games_do_not_depend_on_the_other_players(duel):
    experiment = Experiment.existing(duel, "e")
    cfg = experiment.read_config()
    pair = [BOT_3, BOT_4]  # close enough that their games differ from seed to seed
    alone = play_tournament(experiment, cfg, pair, 20, seed=3)
    again = play_tournament(experiment, cfg, ["checkpoint:latest", *pair], 20, seed=3)
    assert [g.score_a for g in alone.games] == [g.score_a for g in again.games if (g.a, g.b) == (1, 2)]
    other_seed = play_tournament(experiment, cfg, pair, 20, seed=4)
    assert [g.score_a for g in alone.games] != [g.score_a for g in other_seed.games]


@pytest.mark.parametrize(
    ("players", "games", "named"),
    [
        (f"bot_9,{BOT_4}", "10", "bot_9"),
        (f"nosuch.module:bot,{BOT_4}", "10", "nosuch.module:bot"),
        (f"checkpoint:123456,{BOT_4}", "10", "checkpoint:123456"),
        (f"policy:3,{BOT_4}", "10", "policy:3"),
        (f"policy:x,{BOT_4}", "10", "policy:x"),
        (BOT_4, "10", "at least 2 players"),
        (f"{BOT_0},{BOT_4}", "0", "--games must be >= 1"),
    ],
)
def test_bad_input_exits_2_naming_it(duel, capsys, players, games, named):
    argv = ["league", "--experiment", "e", "--train-dir", str(duel), "--tournament", "--games", games]
    assert cli_main([*argv, "--players", players]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and named in err[0]
