"""Population-based training end to end (serial runs): delivery of env parameters to only the policy's
envs, hyperparameters in effect, lineage in the progress file and checkpoints, resume, bad input."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
from conftest import fast_config

import relayrl
from relayrl.cli.main import main as cli_main
from relayrl.cli.plot import PlotConfig, plot
from relayrl.config import Config, ConfigError, replace
from relayrl.experiment import Experiment
from relayrl.trainer.checkpointer import read_checkpoint


def small(tmp_path: Path, **changes: object) -> Config:
    """This module's serial runs: two PBT policies on the probe env with a declared ``difficulty``."""
    settings: dict[str, object] = dict(
        seed=3,
        sampling__backend="serial",
        train_for_env_steps=2048,
        algorithm__lr_schedule="constant",
        logging__report_interval=0.05,
        logging__stats_window=16,
        training_info__interval=0.0,
        multi_agent__num_policies=2,
        pbt__enabled=True,
        pbt__env_params={"difficulty": [0.0, 1.0]},
    )
    return fast_config(tmp_path, "pbt_envs:make_probe", **{**settings, **changes})


def rows(summary: relayrl.TrainSummary) -> list[dict]:
    with open(f"{summary.experiment_dir}/progress.jsonl") as f:
        return [json.loads(line) for line in f]


@pytest.mark.parametrize(
    "processes", [False, pytest.param(True, marks=[pytest.mark.multiprocess, pytest.mark.timeout(60)])]
)
def test_env_params_reach_only_the_envs_of_their_policy(tmp_path: Path, processes: bool) -> None:
    # no ranking in this run: the start mutation alone makes policy 1's difficulty differ from policy 0's
    workers = {"sampling__backend": "local", "sampling__num_workers": 2} if processes else {}
    summary = relayrl.train(small(tmp_path, pbt__start_env_steps=10**9, **workers))
    data = read_checkpoint(Path(summary.checkpoint))  # type: ignore[arg-type]
    own = {k: data["policies"][k]["env_params"]["difficulty"] for k in (0, 1)}
    assert own[0] == 0.5 and own[1] in (pytest.approx(0.3), pytest.approx(0.7))
    last = rows(summary)[-1]
    for k in (0, 1):
        seen = f"policy_{k}/episode_extra_stats/difficulty"
        assert last[f"{seen}/min"] == pytest.approx(own[k]) and last[f"{seen}/max"] == pytest.approx(own[k])
        assert last[f"policy_{k}/episode_extra_stats/told_policy/mean"] == k
        assert last[f"policy_{k}/episode_extra_stats/mixed/mean"] == 0.0
        assert last[f"pbt/policy_{k}/env_params/difficulty"] == pytest.approx(own[k])
    # each learner trains with its own, mutated hyperparameters
    assert last["policy_1/learner/lr"] == pytest.approx(last["pbt/policy_1/lr"])
    assert last["policy_0/learner/lr"] == pytest.approx(3e-4) and last["pbt/policy_1/lr"] != pytest.approx(3e-4)


def lineage_file(experiment: Experiment) -> list[dict]:
    return [json.loads(line) for line in experiment.pbt_lineage_path.read_text().splitlines()]


def lineage_run(tmp_path: Path, steps: int) -> relayrl.TrainSummary:
    # the envs report their policy id, so policy 1 always ranks first and policy 0 copies it every period
    return relayrl.train(
        small(
            tmp_path,
            train_for_env_steps=steps,
            pbt__objective="told_policy",
            pbt__start_env_steps=256,
            pbt__period_env_steps=256,
            pbt__replace_threshold_rel=0.0,
            pbt__replace_threshold_abs=0.5,
        )
    )


def test_copies_are_in_the_progress_file_and_the_checkpoint_and_resume_continues(tmp_path: Path) -> None:
    first = lineage_run(tmp_path, 2048)
    saved = read_checkpoint(Path(first.checkpoint))["pbt"]  # type: ignore[arg-type]
    experiment = Experiment(tmp_path, "e")
    assert lineage_file(experiment) == saved["lineage"]  # every event, as it happened
    copied = [e for e in saved["lineage"] if e["copied_from"] is not None]
    assert {(e["policy"], e["copied_from"]) for e in copied} == {(0, 1)}  # the best never copies
    assert rows(first)[-1]["pbt/copies_total"] == len(copied) > 1
    assert saved["lineage"][0]["copied_from"] is None and saved["lineage"][0]["policy"] == 1  # the start mutation
    assert saved["last_ranked"][0] >= 256
    written = plot(PlotConfig(experiment=("e",), train_dir=str(tmp_path)))
    assert [p.name for p in written] == ["e.png", "e_pbt_e.png"] and written[1].stat().st_size > 0

    second = lineage_run(tmp_path, 4096)  # same experiment: resumes
    resumed = read_checkpoint(Path(second.checkpoint))["pbt"]  # type: ignore[arg-type]
    assert resumed["lineage"][: len(saved["lineage"])] == saved["lineage"]  # continued, not restarted
    assert len(resumed["lineage"]) > len(saved["lineage"])
    assert sum(e["copied_from"] is None for e in resumed["lineage"]) == 1  # no second start mutation
    assert resumed["last_ranked"][0] > saved["last_ranked"][0]
    assert lineage_file(experiment) == resumed["lineage"]  # appended to
    after = [r for r in rows(second) if r["env_steps"] > first.env_steps]
    assert after[0]["pbt/policy_1/lr"] == pytest.approx(saved["hyperparameters"][1]["lr"])  # not the config's


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--pbt"], "--num-policies 2 or more"),
        (["--pbt", "--num-policies", "2", "--pbt-env-params", '{"difficulty": 0.5}'], "has no range"),
        (["--pbt", "--num-policies", "2", "--pbt-bounds", '{"lr": [-1.0, 0.1]}'], "would allow invalid values"),
    ],
)
def test_bad_pbt_input_exits_2_before_training(tmp_path: Path, capsys, args, message) -> None:  # type: ignore[no-untyped-def]
    code = cli_main(
        ["train", "--env", "pbt_envs:make_probe", "--train-dir", str(tmp_path), "--backend", "serial", *args]
    )
    assert code == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


class Warnings(logging.Handler):
    """The warnings of one logger (the "relayrl" logger does not propagate to pytest's ``caplog``)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_a_misspelled_objective_warns_at_the_first_episodes_naming_the_keys_there_are(tmp_path: Path) -> None:
    cfg = small(tmp_path, train_for_env_steps=1024, pbt__objective="told_polcy")  # told_policy, misspelled
    pbt_log, warnings = logging.getLogger("relayrl.pbt"), Warnings()
    pbt_log.addHandler(warnings)
    try:
        summary = relayrl.train(cfg)
    finally:
        pbt_log.removeHandler(warnings)
    (warning,) = [m for m in warnings.messages if "--pbt-objective" in m]  # once
    assert "'told_polcy'" in warning and "told_policy" in warning and "difficulty" in warning
    warned_at = int(re.search(r"\((\d+) env steps\)", warning)[1])  # type: ignore[index]
    first_report = next(r for r in rows(summary) if r.get("policy_0/episodes") or r.get("policy_1/episodes"))
    assert warned_at <= first_report["env_steps"]  # at the latest by the first report with episodes


def test_pbt_config_round_trips(tmp_path: Path) -> None:
    cfg = small(tmp_path)
    assert Config.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(ConfigError, match="--pbt-replace-fraction"):
        relayrl.config.validate(replace(cfg, pbt__replace_fraction=0.9))
