"""``benchmarks.suite``'s tables and plot from synthetic run results, and its flag and plan helpers."""

from __future__ import annotations

import json

from benchmarks import suite, suite_report


def _run(tmp_path, fw: str, env: str, seed: int, best: float | None, final: float, wall: float, frames: int) -> dict:
    progress = tmp_path / f"{fw}-{env}-{seed}.jsonl"
    progress.write_text("\n".join(json.dumps({"env_steps": s, "reward_mean": s / 1000}) for s in (1000, 2000)))
    return {
        "framework": fw,
        "env": env,
        "seed": seed,
        "best_return": best,
        "final_return": final,
        "wall_s": wall,
        "frames": frames,
        "fps": frames / wall,
        "progress": str(progress),
    }


def test_targets_table_mean_over_seeds_and_wall_ratio(tmp_path):
    results = [
        _run(tmp_path, "relayrl", "Hopper-v5", 1, 3000.0, 2000.0, 100.0, 1_000_000),
        _run(tmp_path, "relayrl", "Hopper-v5", 2, 3000.0, 3000.0, 120.0, 1_000_000),
        # a peer run stopped at a quarter of the steps: its wall is scaled to 1M by its own frames/s
        _run(tmp_path, "sb3-zoo", "Hopper-v5", 1, None, 1000.0, 250.0, 250_000),
    ]
    table = suite_report.targets_table(results)
    row = next(line for line in table.splitlines() if line.startswith("| Hopper-v5"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "2,500" and cells[2] == "3,000"  # final and best.pt means over the seeds
    assert cells[4] == "final met; best met"  # the Zoo's Hopper result is 2,410
    assert cells[5] == "110"  # median wall of relayrl
    assert cells[6].startswith("1,000 (extrapolated from a run of 250,000 steps)")
    assert cells[7] == "0.110" and cells[8] == "met"


def test_quality_shortfall_is_reported_with_its_size(tmp_path):
    results = [_run(tmp_path, "relayrl", "HalfCheetah-v5", 1, 5000.0, 4000.0, 100.0, 1_000_000)]
    row = suite_report.targets_table(results).splitlines()[-1]
    assert "final -1,819 (69%)" in row and "best -819 (86%)" in row


def test_summary_table_and_plot(tmp_path):
    results = [
        _run(tmp_path, "relayrl", "Ant-v5", 1, 1500.0, 1400.0, 100.0, 1_000_000),
        _run(tmp_path, "relayrl", "Ant-v5", 2, 1700.0, 1600.0, 140.0, 1_000_000),
    ]
    table = suite_report.summary_table(results)
    assert "| relayrl | Ant-v5 | 2 | 1,000,000 | 1,600 ± 141 | 1,500 ± 141 |" in table
    assert "s1: 1,500 / 1,400, s2: 1,700 / 1,600" in table
    png = suite_report.plot_curves(results, tmp_path / "curves.png")
    assert png.stat().st_size > 1000


def test_relayrl_flags_and_plan():
    assert suite.relayrl_flags(["lr=1e-4", "hidden_sizes=256 256"]) == ["--lr", "1e-4", "--hidden-sizes", "256", "256"]
    args = suite.parse_args(["--seeds", "2", "--envs", "Hopper-v5", "--frameworks", "relayrl", "sb3-zoo"])
    assert suite.plan(args) == [("relayrl", "Hopper-v5", 1), ("relayrl", "Hopper-v5", 2), ("sb3-zoo", "Hopper-v5", 1)]
