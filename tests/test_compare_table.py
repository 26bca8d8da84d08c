"""``benchmarks.compare``'s table: medians to the target count unsolved runs instead of dropping them."""

from __future__ import annotations

import math

import pytest

from benchmarks import compare


def _run(framework: str, seconds: float | None, fps: float = 1000.0) -> dict:
    solved = seconds is not None
    return {
        "framework": framework,
        "fps": fps,
        "steady_fps": fps,
        "peak_rss_mb": 100.0,
        "peak_pss_mb": 80.0,
        "other_load_cores": 0.0,
        "solved": solved,
        "seconds_to_target": seconds,
        "frames_to_target": None if seconds is None else seconds * fps,
    }


def test_to_target_median_counts_unsolved_runs_as_slowest():
    runs = [_run("a", 10.0), _run("a", 20.0), _run("a", None)]
    assert compare._to_target_median(runs, "seconds_to_target") == 20.0
    assert math.isinf(compare._to_target_median([_run("a", 5.0), _run("a", None)], "seconds_to_target"))
    assert compare._to_target_median([], "seconds_to_target") is None


def _verdict(runs: list[dict]) -> str:
    workload = compare.WORKLOADS["minigrid"]
    workload = compare.Workload(workload.name, ("relayrl", "sample-factory"), workload.params, workload.targets, "t")
    text = compare.summarize(workload, runs, raw=None)
    return next(line for line in text.splitlines() if line.startswith("- target relayrl/sample-factory"))


def test_a_lucky_single_solve_does_not_win_the_time_target():
    # the peer solved one run of three, faster than any of relayrl's: over the solved runs only, its
    # median would be 5 s and relayrl (10 s, 3/3 solved) would miss the 0.7 target
    peer = [_run("sample-factory", 5.0), _run("sample-factory", None), _run("sample-factory", None)]
    mine = [_run("relayrl", 10.0), _run("relayrl", 10.0), _run("relayrl", 12.0)]
    assert "MET" in _verdict(mine + peer) and "NOT" not in _verdict(mine + peer)
    # and the other way round: relayrl's one lucky run is no win either
    mine = [_run("relayrl", 1.0), _run("relayrl", None), _run("relayrl", None)]
    peer = [_run("sample-factory", 10.0), _run("sample-factory", 10.0), _run("sample-factory", 12.0)]
    assert "NOT met" in _verdict(mine + peer)


def test_time_target_ratio_of_all_solved_runs():
    mine = [_run("relayrl", s) for s in (6.0, 7.0, 8.0)]
    peer = [_run("sample-factory", s) for s in (10.0, 11.0, 12.0)]
    assert "0.64 -> MET" in _verdict(mine + peer)
    mine = [_run("relayrl", None)] * 3
    peer = [_run("sample-factory", None)] * 3
    assert "not measured" in _verdict(mine + peer)


def test_set_overrides_parse_json_and_reject_unknown_keys():
    params = compare.WORKLOADS["minigrid"].params
    got = compare._overrides(["ent_coef=0.05", "hidden=[128, 128]", "lr_schedule=linear"], params, "minigrid")
    assert got == {"ent_coef": 0.05, "hidden": [128, 128], "lr_schedule": "linear"}
    for bad in (["entropy=0.1"], ["ent_coef"]):
        with pytest.raises(SystemExit, match="KEY=VALUE.*ent_coef"):
            compare._overrides(bad, params, "minigrid")


def test_doorkey_8x8_workload_differs_from_5x5_only_in_env_budget_and_timeout():
    small, large = compare.WORKLOADS["minigrid"], compare.WORKLOADS["minigrid-8x8"]
    assert large.params["env"] == "MiniGrid-DoorKey-8x8-v0" and large.params["steps"] == 2_000_000
    same = {k: v for k, v in large.params.items() if k not in ("env", "steps")}
    assert same == {k: v for k, v in small.params.items() if k not in ("env", "steps")}
    assert large.targets == small.targets
    assert large.timeout > small.timeout  # an 8x8 run can take ~10 minutes on 2 cores
