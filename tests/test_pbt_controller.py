"""The PBT controller on real learners without processes: the copy round trip, clamping, its saved state."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest
import torch
from matplotlib.figure import Figure

from relayrl.config import Config, replace
from relayrl.experiment import Experiment
from relayrl.learning.learner import Learner
from relayrl.pbt import lineage_log
from relayrl.pbt.controller import PopulationController
from relayrl.pbt.plot import lineage_series, plot_lineage
from relayrl.shared.trajectories import TrajectoryBuffers
from relayrl.trainer import checkpointer
from relayrl.trainer.state import PolicyState, TrainState

OBS = gym.spaces.Box(-1.0, 1.0, (3,))
ACT = gym.spaces.Discrete(2)


class FakePublisher:
    """What the controller calls on the training-info publisher: it keeps the values in the train state."""

    def __init__(self, state: TrainState) -> None:
        self.state = state

    def set_reward_shaping(self, shaping: dict[str, Any] | None, policy_id: int) -> None:
        self.state.policies[policy_id].reward_shaping = shaping

    def set_env_params(self, params: dict[str, float] | None, policy_id: int) -> None:
        self.state.policies[policy_id].env_params = params


def population(
    normalize_returns: bool = True, **pbt: Any
) -> tuple[PopulationController, dict[int, Learner], TrainState]:
    pbt_changes = {f"pbt__{k}": v for k, v in pbt.items()}
    cfg = replace(
        Config(),
        multi_agent__num_policies=2,
        pbt__enabled=True,
        model__normalize_returns=normalize_returns,
        **pbt_changes,
    )
    learners = {k: Learner(cfg, OBS, ACT, torch.device("cpu")) for k in (0, 1)}
    state = TrainState(policies={k: PolicyState(reward_shaping={"w": 1.0}) for k in (0, 1)})
    ctl = PopulationController(cfg.pbt, learners, state, FakePublisher(state), seed=0)  # type: ignore[arg-type]
    return ctl, learners, state


def stats(value: float) -> dict[str, Any]:
    return {"reward": {"mean": value}}


def train_once(learner: Learner, seed: int) -> None:
    """One PPO update on a random batch: Adam state and return statistics that depend on ``seed``."""
    torch.manual_seed(seed)
    slots = TrajectoryBuffers.allocate(1, 8, 4, OBS, ACT, learner.model.rnn_state_size, shared=False)
    slots.obs.uniform_(-1, 1)
    slots.actions.random_(0, 2)
    slots.rewards.normal_(float(seed), 1.0)
    slots.log_probs.fill_(math.log(0.5))
    slots.policy_versions.fill_(learner.policy_version)
    learner.train(slots.gather([0]), 0)


def tensors(tree: Any) -> list[torch.Tensor]:
    if isinstance(tree, torch.Tensor):
        return [tree]
    if isinstance(tree, dict):
        return [t for key in sorted(tree, key=str) for t in tensors(tree[key])]
    return []


# return statistics: the model's return normalizer, or the learner's own when returns are not normalized
@pytest.mark.parametrize("normalize_returns", [True, False])
def test_copy_takes_weights_optimizer_and_normalizers_then_mutates(normalize_returns: bool) -> None:
    ctl, learners, state = population(
        normalize_returns,
        start_env_steps=0,
        period_env_steps=10,
        mutation_rate=1.0,
        env_params={"d": [0.0, 1.0]},
    )
    ctl.start_new()
    source = learners[1]
    source.model.update_obs_normalizer(torch.randn(64, 3) * 5 + 2)  # the source's normalizer differs
    for seed in (1, 2):  # Adam moments and return statistics exist, and differ from the copier's
        train_once(source, seed)
    train_once(learners[0], 7)
    learners[0].policy_version = 7
    state.policies[0].env_steps = state.policies[1].env_steps = 10
    changed = ctl.step(20, lambda k: stats(float(k)))  # policy 1 is better
    assert changed == [0]
    copier = learners[0]
    for (name, a), b in zip(source.model.state_dict().items(), copier.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name  # weights and the observation normalizer
        assert a.data_ptr() != b.data_ptr()  # copied, not shared
    moments, copied = source.optimizer.state_dict()["state"], copier.optimizer.state_dict()["state"]
    assert moments and set(copied) == set(moments)
    for a, b in zip(tensors(moments), tensors(copied), strict=True):  # exp_avg, exp_avg_sq, step
        assert torch.equal(a, b) and a.data_ptr() != b.data_ptr()
    returns, copied_returns = source.return_stats.state_dict(), copier.return_stats.state_dict()
    assert float(returns["count"]) > 0
    for a, b in zip(tensors(returns), tensors(copied_returns), strict=True):
        assert torch.equal(a, b) and a.data_ptr() != b.data_ptr()
    assert copier.policy_version == 8  # its own version moves on
    event = ctl.lineage[-1]
    assert event["policy"] == 0 and event["copied_from"] == 1 and event["mutations"]
    names = {mu["name"] for mu in event["mutations"]}
    assert {"lr", "clip_coef", "vf_coef", "reward_shaping/w", "env_params/d"} <= names
    assert state.policies[0].reward_shaping != state.policies[1].reward_shaping  # copied, then mutated
    assert ctl.step(30, lambda k: stats(float(k))) == []  # not due again before another period


def test_a_proposal_outside_the_bounds_is_clamped_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    ctl, learners, state = population(bounds={"lr": [1e-4, 3e-4]}, mutation_rate=1.0)
    with caplog.at_level(logging.WARNING, logger="relayrl.pbt"):
        for _ in range(20):
            ctl.start_new()
            lr = learners[1].hyperparameters(["lr"])["lr"]
            assert 1e-4 <= lr <= 3e-4
    assert "clamped" in caplog.text and "lr" in caplog.text


def test_saved_state_restores_hyperparameters_and_lineage() -> None:
    ctl, learners, _ = population(mutation_rate=1.0, env_params={"d": [0.0, 1.0]})
    ctl.start_new()
    saved = ctl.state_dict()
    fresh, fresh_learners, fresh_state = population(env_params={"d": [0.0, 1.0], "e": [2.0, 4.0]})
    fresh_state.policies[1].env_params = {"d": 0.7, "gone": 1.0}  # as a checkpoint from other declarations left it
    fresh.load_state_dict(saved)
    assert fresh_state.policies[1].env_params == {"d": 0.7, "e": 3.0}  # kept, added at its start, dropped
    assert fresh.lineage == ctl.lineage
    for k in (0, 1):
        names = ["lr", "ent_coef", "clip_coef", "vf_coef"]
        assert fresh_learners[k].hyperparameters(names) == learners[k].hyperparameters(names)
    assert fresh_learners[1].cfg.algorithm.lr != Config().algorithm.lr


def test_two_copies_between_two_reports_are_both_in_the_lineage_file_and_the_plot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctl, learners, state = population(start_env_steps=0, period_env_steps=10, mutation_rate=1.0)
    experiment = Experiment(tmp_path, "e")
    ctl.start_new()
    lineage_log.append_events(experiment, ctl.drain_events())  # the start mutation of policy 1
    rows = [{"env_steps": 0, **ctl.scalars()}]  # a report
    for steps in (10, 20):  # two rankings of policy 0, both copying policy 1, before the next report
        state.policies[0].env_steps = state.policies[1].env_steps = steps
        assert ctl.step(steps * 2, lambda k: stats(float(k))) == [0]
    lineage_log.append_events(experiment, ctl.drain_events())
    assert ctl.drain_events() == []  # each record once
    rows.append({"env_steps": 50, **ctl.scalars()})  # the next report
    assert rows[-1]["pbt/copies_total"] == 2.0
    written = lineage_log.read_lineage(experiment)
    assert written == ctl.lineage and len(experiment.pbt_lineage_path.read_text().splitlines()) == 3
    assert [(e["env_steps"], e["policy"], e["copied_from"]) for e in written] == [(0, 1, None), (20, 0, 1), (40, 0, 1)]

    params, copies = lineage_series(rows, written)
    assert copies == [(20.0, 0, 1), (40.0, 0, 1)]
    lr_xs, lr_ys = params["lr"][0]
    assert lr_xs == [0.0, 20.0, 40.0, 50.0]  # steps at each copy, not at the reports
    assert lr_ys[1:3] == [next(mu["new"] for mu in e["mutations"] if mu["name"] == "lr") for e in written[1:]]
    titles: list[str] = []
    monkeypatch.setattr(Figure, "suptitle", lambda fig, text, *a, **kw: titles.append(text))
    out = plot_lineage("e", rows, tmp_path / "lineage.png", experiment)
    assert out is not None and out.stat().st_size > 0
    assert "(2 copies" in titles[0]


def test_the_plot_reads_the_checkpoints_lineage_when_the_file_is_missing(tmp_path: Path) -> None:
    ctl, _, _ = population(mutation_rate=1.0)
    ctl.start_new()
    experiment = Experiment(tmp_path, "e")
    assert lineage_log.read_lineage(experiment) is None  # neither file nor checkpoint
    experiment.checkpoint_dir.mkdir(parents=True)
    checkpoint = {"format_version": checkpointer.FORMAT_VERSION, "pbt": ctl.state_dict(), "policies": {}}
    torch.save(checkpoint, experiment.checkpoint_path(1, 64))  # what a run before the lineage file left
    assert lineage_log.read_lineage(experiment) == ctl.lineage
