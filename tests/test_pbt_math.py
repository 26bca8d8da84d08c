"""Population-based training: ranking, copy thresholds, mutation bounds, env-parameter declarations."""

from __future__ import annotations

import random

import pytest

from relayrl.errors import ConfigError
from relayrl.pbt import mutation as m


def test_objective_of_reads_return_or_extra_stat() -> None:
    stats = {"reward": {"mean": 3.0}, "episode_extra_stats": {"true_objective": {"mean": 0.25}}}
    assert m.objective_of(stats, "reward") == 3.0
    assert m.objective_of(stats, "true_objective") == 0.25
    assert m.objective_of(stats, "success") is None
    assert m.objective_of({}, "reward") is None


def test_rank_best_first_missing_last_ties_by_id() -> None:
    assert m.rank({0: 1.0, 1: 5.0, 2: None, 3: 5.0, 4: -2.0}) == [1, 3, 0, 4, 2]


def test_split_top_and_bottom_fractions() -> None:
    ranking = [4, 2, 0, 1, 3, 5, 6, 7, 8, 9]
    assert m.split(ranking, 0.3) == ([4, 2, 0], [7, 8, 9])
    assert m.split([1, 0], 0.3) == ([1], [0])  # at least one each
    assert m.split([1, 0, 2], 0.5) == ([1], [2])  # never overlapping
    assert m.split([0], 0.5) == ([], [])


@pytest.mark.parametrize(
    ("worse", "better", "rel", "abs_", "copies"),
    [
        (9.0, 10.0, 0.05, 0.0, True),  # gap 1 > 0.5 = 5% of 10, > 0
        (9.8, 10.0, 0.05, 0.0, False),  # gap 0.2 < 0.5: relative threshold holds it back
        (9.0, 10.0, 0.05, 2.0, False),  # gap 1 < 2: absolute threshold holds it back
        (-10.0, -5.0, 0.5, 1.0, True),  # gap 5 > 2.5 (50% of |-5|) and > 1
        (-10.0, -5.0, 1.1, 1.0, False),
        (None, 1.0, 0.05, 0.0, True),  # a copier without episodes copies one that has them
        (1.0, None, 0.0, 0.0, False),
    ],
)
def test_gap_needs_both_thresholds(worse, better, rel, abs_, copies) -> None:  # type: ignore[no-untyped-def]
    assert m.gap_exceeds(worse, better, rel, abs_) is copies


def test_choose_copy_only_bottom_copies_from_top() -> None:
    objectives: dict[int, float | None] = {0: 10.0, 1: 1.0, 2: 5.0, 3: 9.0}
    rng = random.Random(0)
    sources = {m.choose_copy(1, objectives, 0.25, 0.05, 0.0, rng) for _ in range(50)}
    assert sources == {0}  # top quarter of 4: policy 0 only
    assert all(m.choose_copy(k, objectives, 0.5, 0.0, 0.0, rng) is None for k in (0, 3))  # top half copies nothing
    assert {m.choose_copy(1, objectives, 0.5, 0.0, 0.0, rng) for _ in range(50)} == {0, 3}
    assert m.choose_copy(1, objectives, 0.25, 0.0, 20.0, rng) is None  # gap 9 < 20


def test_hyperparameter_mutation_stays_in_bounds_and_logs_clamps() -> None:
    bounds = {"lr": (1e-4, 1e-3), "ent_coef": (0.0, 0.1), "gamma": (0.9, 0.999)}
    values = {"lr": 1e-3, "ent_coef": 0.01, "gamma": 0.99}
    rng = random.Random(1)
    clamped = 0
    for _ in range(200):
        values, events = m.mutate_hyperparameters(values, bounds, 1.0, 1.5, rng)
        assert len(events) == 3  # rate 1: everything mutates
        for name, (low, high) in bounds.items():
            assert low <= values[name] <= high
        for e in events:
            assert e.clamped == (e.proposed != e.new)
            clamped += e.clamped
    assert clamped > 0  # 1.5x steps from the upper lr bound must have been clamped


def test_hyperparameter_mutation_rate_zero_changes_nothing() -> None:
    values = {"lr": 3e-4, "clip_coef": 0.2}
    new, events = m.mutate_hyperparameters(values, {}, 0.0, 1.2, random.Random(0))
    assert new == values and events == []


def test_gamma_mutates_its_horizon() -> None:
    new, (event,) = m.mutate_hyperparameters({"gamma": 0.99}, {}, 1.0, 2.0, random.Random(0))
    assert new["gamma"] in (pytest.approx(0.98), pytest.approx(0.995))
    assert event.name == "gamma"


def test_invalid_proposal_is_clamped_never_applied() -> None:
    # a proposal below the bounds (here: a non-finite one) is replaced by a valid value
    event = m.clamp("lr", 1e-3, float("nan"), 1e-6, 1e-2)
    assert event.clamped and event.new == 1e-3
    event = m.clamp("lr", 1e-3, -1e-3, 1e-6, 1e-2)
    assert event.clamped and event.new == 1e-6


def test_env_params_move_within_range() -> None:
    ranges = {"difficulty": m.EnvParamRange(0.0, 1.0, 0.5)}
    values = {"difficulty": 0.5}
    rng = random.Random(3)
    seen = set()
    for _ in range(100):
        values, events = m.mutate_env_params(values, ranges, 1.0, 1.2, rng)
        assert 0.0 <= values["difficulty"] <= 1.0
        seen.add(round(values["difficulty"], 6))
    assert {0.0, 1.0} <= seen  # it reached both ends and was clamped there


def test_shaping_leaves_mutate_keep_sign_and_structure() -> None:
    shaping = {"distance": 0.5, "penalty": -1.0, "nested": {"coin": 2.0, "on": True}, "name": "x"}
    new, events = m.mutate_shaping(shaping, 1.0, 2.0, random.Random(0))
    assert new is not None
    assert new["name"] == "x" and new["nested"]["on"] is True
    assert new["distance"] in (1.0, 0.25) and new["penalty"] in (-2.0, -0.5) and new["nested"]["coin"] in (4.0, 1.0)
    assert sorted(e.name for e in events) == ["distance", "nested/coin", "penalty"]
    assert shaping["distance"] == 0.5  # the input is not changed


def test_env_param_declarations() -> None:
    ranges = m.parse_env_params({"difficulty": [0.0, 1.0], "threshold": [0.5, 0.9, 0.8]})
    assert ranges["difficulty"] == m.EnvParamRange(0.0, 1.0, 0.5)
    assert ranges["threshold"].start == 0.8
    for bad in ({"difficulty": None}, {"difficulty": 0.5}, {"d": [1.0]}, {"d": [1.0, 0.0]}, {"d": [0, 1, 2]}):
        with pytest.raises(ConfigError, match="--pbt-env-params"):
            m.parse_env_params(bad)
