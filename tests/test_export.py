"""ONNX export: onnxruntime reproduces the torch policy (actions, values, GRU state), metadata, the CLI."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

from relayrl.cli.main import main
from relayrl.config import ConfigError, ModelConfig
from relayrl.evaluation import policy_from_spaces
from relayrl.experiment import Experiment
from relayrl.models import ActorCritic, build_actor_critic
from relayrl.models.normalization import RunningMeanStd
from relayrl.trainer.checkpointer import read_checkpoint

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from relayrl.export import export_onnx  # noqa: E402
from relayrl.export.check import check_parity  # noqa: E402

N_OBS = 1000
TOL = 1e-5
CARTPOLE = gym.make("CartPole-v1")


def _nontrivial(model: ActorCritic, seed: int, returns: tuple[float, float] = (20.0, 8.0)) -> None:
    """Random observation statistics (mean ~ N(0, 2), std in [0.5, 3]), return statistics
    ``(mean, std)`` and policy logits scaled up, so normalization matters and argmax actions are
    well separated.

    The default return statistics are CartPole's scale (values about -10..50). float32 resolves about
    7 significant digits, so the torch/onnxruntime difference in return units grows with the return
    std: a Nature CNN's value differs from its own float64 result by about 1e-5 at std 8 in torch
    alone, so its case uses Atari's scale (clipped rewards, std 1)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, RunningMeanStd) and module is not model.return_normalizer:
                module.mean.copy_(torch.randn(module.mean.shape, generator=gen, dtype=torch.float64) * 2)
                std = 0.5 + 2.5 * torch.rand(module.var.shape, generator=gen, dtype=torch.float64)
                module.var.copy_(std.square())
                module.count.fill_(1000.0)
        if model.return_normalizer is not None:
            model.return_normalizer.mean.fill_(returns[0])
            model.return_normalizer.var.fill_(returns[1] ** 2)
            model.return_normalizer.count.fill_(1000.0)
        model.policy_head.linear.weight.mul_(100.0)
    model.eval()


def _vector_obs(model: ActorCritic, n: int, gen: np.random.Generator) -> np.ndarray:
    """Vectors around the model's normalizer statistics (a few beyond the clip range of 10 std)."""
    norm = model.obs_preprocessor.normalizers["0"]
    assert isinstance(norm, RunningMeanStd)
    mean, std = norm.mean.numpy(), np.sqrt(norm.var.numpy())
    return (mean + std * gen.normal(size=(n, mean.size)) * 3).astype(np.float32)


def _session(path: Path) -> tuple[Any, list[str]]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session, [o.name for o in session.get_outputs()]


def _errors(got: dict[str, np.ndarray], ref: Any) -> tuple[int, float]:
    """(discrete action mismatches, value max abs error)."""
    mismatches = int((got["action"] != ref.actions.numpy()).sum())
    return mismatches, float(np.abs(got["value"] - ref.values.numpy()).max())


@pytest.mark.parametrize(
    ("name", "obs_space", "action_space", "cfg", "returns"),
    [
        ("mlp_cartpole", CARTPOLE.observation_space, CARTPOLE.action_space, ModelConfig(), (20.0, 8.0)),
        (
            "small_cnn_7x7x3",  # MiniGrid: reward < 1 at the goal only
            gym.spaces.Box(0, 255, (7, 7, 3), np.uint8),
            gym.spaces.Discrete(7),
            ModelConfig(),
            (0.3, 0.4),
        ),
        (
            "nature_cnn_84x84x4",  # Atari: clipped rewards
            gym.spaces.Box(0, 255, (84, 84, 4), np.uint8),
            gym.spaces.Discrete(6),
            ModelConfig(activation="relu"),
            (0.5, 1.0),
        ),
    ],
)
def test_feedforward_parity(
    name: str,
    obs_space: gym.Space,
    action_space: gym.Space,
    cfg: ModelConfig,
    returns: tuple[float, float],
    tmp_path: Path,
) -> None:
    torch.manual_seed(0)
    model = build_actor_critic(obs_space, action_space, cfg)
    _nontrivial(model, seed=1, returns=returns)
    path = export_onnx(model, obs_space, action_space, tmp_path / f"{name}.onnx")
    gen = np.random.default_rng(2)
    if obs_space.dtype == np.uint8:
        obs = gen.integers(0, 256, size=(N_OBS, *obs_space.shape), dtype=np.uint8)
    else:
        obs = _vector_obs(model, N_OBS, gen)
    session, names = _session(path)
    got = dict(zip(names, session.run(None, {"obs": obs}), strict=True))
    with torch.no_grad():
        ref = model.act(torch.from_numpy(obs), None, None, deterministic=True)
    mismatches, value_error = _errors(got, ref)
    assert names == ["action", "value"]
    assert got["action"].dtype == np.int64 and got["action"].shape == (N_OBS,)
    assert len(np.unique(ref.actions.numpy())) > 1  # the comparison can fail
    assert mismatches == 0
    assert value_error <= TOL
    assert np.ptp(ref.values.numpy()) > 0.1 * returns[1]  # values depend on the observation


def test_gru_parity_over_steps_with_resets(tmp_path: Path) -> None:
    """100 envs x 10 steps: the state is fed back; envs that start an episode at step 5 get a zeroed
    state in ONNX and ``starts=True`` in torch, which is the same thing."""
    torch.manual_seed(0)
    obs_space, action_space = CARTPOLE.observation_space, CARTPOLE.action_space
    model = build_actor_critic(obs_space, action_space, ModelConfig(use_rnn=True, rnn_size=32))
    _nontrivial(model, seed=3)
    path = export_onnx(model, obs_space, action_space, tmp_path / "gru.onnx")
    session, names = _session(path)
    assert names == ["action", "value", "rnn_state_out"]
    gen = np.random.default_rng(4)
    envs, steps = 100, 10
    state_ort = np.zeros((envs, model.rnn_state_size), np.float32)
    state_torch = torch.zeros(envs, model.rnn_state_size)
    worst_state, worst_value, actions = 0.0, 0.0, []
    for t in range(steps):
        obs = _vector_obs(model, envs, gen)
        starts = torch.zeros(envs, dtype=torch.bool)
        if t == 5:
            starts = torch.from_numpy(gen.random(envs) < 0.3)
            state_ort[starts.numpy()] = 0.0
        got = dict(zip(names, session.run(None, {"obs": obs, "rnn_state": state_ort}), strict=True))
        with torch.no_grad():
            ref = model.act(torch.from_numpy(obs), state_torch, starts, deterministic=True)
        mismatches, value_error = _errors(got, ref)
        assert mismatches == 0, f"step {t}"
        assert ref.rnn_state is not None
        worst_value = max(worst_value, value_error)
        worst_state = max(worst_state, float(np.abs(got["rnn_state_out"] - ref.rnn_state.numpy()).max()))
        actions.append(ref.actions.numpy())
        state_ort, state_torch = got["rnn_state_out"], ref.rnn_state
    assert worst_value <= TOL and worst_state <= TOL
    assert len(np.unique(np.concatenate(actions))) > 1
    assert float(state_torch.abs().max()) > 0.1  # the state carries something


def test_dict_obs_box_action_clipped_and_metadata(tmp_path: Path) -> None:
    """Dict observation (uint8 image, vector, Discrete one-hot) -> named inputs; a Box action comes
    out clipped to the bounds (``action``) and as the raw Gaussian mean (``action_unclipped``)."""
    torch.manual_seed(0)
    obs_space = gym.spaces.Dict(
        {
            "image": gym.spaces.Box(0, 255, (7, 7, 3), np.uint8),
            "pos": gym.spaces.Box(-np.inf, np.inf, (5,), np.float32),
            "room": gym.spaces.Discrete(4),
        }
    )
    action_space = gym.spaces.Box(np.array([-1.0, 0.0], np.float32), np.array([1.0, 0.5], np.float32))
    model = build_actor_critic(obs_space, action_space, ModelConfig(shared_actor_critic=True))
    _nontrivial(model, seed=5)
    norm = model.obs_preprocessor.normalizers["1"]  # leaves in sorted-key order: image, pos, room
    assert isinstance(norm, RunningMeanStd)
    path = export_onnx(model, obs_space, action_space, tmp_path / "dict.onnx", {"experiment": "demo"})
    session, names = _session(path)
    assert [i.name for i in session.get_inputs()] == ["obs.image", "obs.pos", "obs.room"]
    assert names == ["action", "action_unclipped", "value"]
    gen = np.random.default_rng(6)
    feed = {
        "obs.image": gen.integers(0, 256, size=(N_OBS, 7, 7, 3), dtype=np.uint8),
        "obs.pos": (norm.mean.numpy() + 3 * gen.normal(size=(N_OBS, 5)) * np.sqrt(norm.var.numpy())).astype(np.float32),
        "obs.room": gen.integers(0, 4, size=N_OBS).astype(np.int64),
    }
    got = dict(zip(names, session.run(None, feed), strict=True))
    obs = {key.removeprefix("obs."): torch.from_numpy(value) for key, value in feed.items()}
    with torch.no_grad():
        ref = model.act(obs, None, None, deterministic=True)
    mean = ref.actions.numpy()
    clipped = np.clip(mean, action_space.low, action_space.high)
    assert (mean != clipped).any() and (mean == clipped).any()  # both sides of the bounds are exercised
    assert float(np.abs(got["action"] - clipped).max()) <= TOL
    assert float(np.abs(got["action_unclipped"] - mean).max()) <= TOL
    assert float(np.abs(got["value"] - ref.values.numpy()).max()) <= TOL

    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    import relayrl

    assert props["relayrl_version"] == relayrl.__version__
    assert props["experiment"] == "demo"
    assert props["action"] == "mean clipped to the Box bounds"
    assert json.loads(props["action_space"]) == {
        "type": "Box", "shape": [2], "dtype": "float32", "low": [-1.0, 0.0], "high": [1.0, 0.5]
    }  # fmt: skip
    spaces = json.loads(props["observation_space"])["spaces"]
    assert spaces["image"] == {"type": "Box", "shape": [7, 7, 3], "dtype": "uint8", "low": 0, "high": 255}
    assert spaces["pos"]["low"] == "-inf" and spaces["room"] == {"type": "Discrete", "n": 4, "start": 0}
    assert json.loads(props["inputs"]) == ["obs.image", "obs.pos", "obs.room"]


def test_multidiscrete_parity(tmp_path: Path) -> None:
    torch.manual_seed(0)
    obs_space = CARTPOLE.observation_space
    action_space = gym.spaces.MultiDiscrete([3, 5])
    model = build_actor_critic(obs_space, action_space, ModelConfig())
    _nontrivial(model, seed=7)
    path = export_onnx(model, obs_space, action_space, tmp_path / "md.onnx")
    session, names = _session(path)
    obs = _vector_obs(model, N_OBS, np.random.default_rng(8))
    got = dict(zip(names, session.run(None, {"obs": obs}), strict=True))
    with torch.no_grad():
        ref = model.act(torch.from_numpy(obs), None, None, deterministic=True)
    assert got["action"].shape == (N_OBS, 2)
    assert len(np.unique(got["action"][:, 1])) > 1  # not one constant action: the check can fail
    mismatches, value_error = _errors(got, ref)
    assert mismatches == 0 and value_error <= TOL


def test_check_parity_flags_a_different_model(tmp_path: Path) -> None:
    torch.manual_seed(0)
    obs_space, action_space = CARTPOLE.observation_space, CARTPOLE.action_space
    model = build_actor_critic(obs_space, action_space, ModelConfig(use_rnn=True, rnn_size=16))
    _nontrivial(model, seed=9)
    path = export_onnx(model, obs_space, action_space, tmp_path / "p.onnx")
    report = check_parity(model, obs_space, action_space, path, samples=128)
    assert report.ok(), report.describe()
    assert report.value_max_abs > 1.0
    with torch.no_grad():
        model.obs_preprocessor.normalizers["0"].mean.add_(1.0)  # e.g. statistics not folded in
    changed = check_parity(model, obs_space, action_space, path, samples=128)
    assert not changed.ok()
    assert changed.value_max_abs_error > 1e-3 and changed.rnn_state_max_abs_error > 1e-3


def test_check_parity_on_box_actions_and_dict_observations(tmp_path: Path) -> None:
    obs_space = gym.spaces.Dict({"v": gym.spaces.Box(-1.0, 1.0, (3,), np.float32), "k": gym.spaces.Discrete(3)})
    action_space = gym.spaces.Box(-0.2, 0.2, (2,), np.float32)
    model = build_actor_critic(obs_space, action_space, ModelConfig())
    _nontrivial(model, seed=11)
    path = export_onnx(model, obs_space, action_space, tmp_path / "box.onnx")
    report = check_parity(model, obs_space, action_space, path, samples=128)
    assert report.ok() and report.continuous_actions, report.describe()
    assert "action max abs error" in report.describe()
    with torch.no_grad():
        model.policy_head.linear.bias.add_(0.01)  # the file no longer matches: every mean moves by 0.01
    assert not check_parity(model, obs_space, action_space, path, samples=128).ok()


def test_export_does_not_change_the_model(tmp_path: Path) -> None:
    model = build_actor_critic(CARTPOLE.observation_space, CARTPOLE.action_space, ModelConfig())
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    export_onnx(model, CARTPOLE.observation_space, CARTPOLE.action_space, tmp_path / "m.onnx")
    assert model.training
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_onnxscript_too_old_for_torch_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def missing_module(*args: Any, **kwargs: Any) -> None:
        raise ModuleNotFoundError("No module named 'onnxscript._framework_apis.torch_2_11'", name="onnxscript._x")

    monkeypatch.setattr(torch.onnx, "export", missing_module)
    model = build_actor_critic(CARTPOLE.observation_space, CARTPOLE.action_space, ModelConfig())
    with pytest.raises(ConfigError, match="pip install -U onnxscript"):
        export_onnx(model, CARTPOLE.observation_space, CARTPOLE.action_space, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


# ----- command line -----


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    train_dir = tmp_path_factory.mktemp("train")
    code = main(
        ["train", "--env", "CartPole-v1", "--backend", "serial", "--num-workers", "1", "--num-envs-per-worker", "4",
         "--rollout-length", "16", "--train-for-env-steps", "1024", "--train-dir", str(train_dir),
         "--experiment", "e", "--seed", "1", "--no-progress-bar", "--no-tensorboard"]
    )  # fmt: skip
    assert code == 0
    return train_dir


def test_cli_export_writes_a_checked_file(trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["export", "--experiment", "e", "--train-dir", str(trained), "--checkpoint", "latest", "--format", "onnx"]
    assert main(args) == 0
    out = capsys.readouterr().out
    path = trained / "e" / "policy.onnx"
    assert f"onnx file:    {path}" in out
    assert "256 observations: action mismatches 0" in out
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert props["env"] == "CartPole-v1" and props["experiment"] == "e"
    assert re.fullmatch(r"checkpoint_\d{9}_\d+\.pt", props["checkpoint"])
    assert int(props["env_steps"]) >= 1024


def test_docs_example_runs_without_torch_or_relayrl(trained: Path, tmp_path: Path) -> None:
    """The first export command of docs/export.md, then its Python block as written, in the folder the
    export wrote to, in a process where importing torch or relayrl fails."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "export.md").read_text()
    command = re.search(r"^relayrl export (.*--output (\S+).*)$", doc, re.M)
    block = re.search(r"```python\n(.*?)```", doc, re.S)
    assert command is not None and block is not None
    flags = command.group(1).split()
    flags[flags.index("--experiment") + 1] = "e"
    args = ["export", *flags, "--train-dir", str(trained)]
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)  # the export writes the relative --output path where the snippet reads it
        assert main(args) == 0
    assert (tmp_path / command.group(2)).is_file()
    guard = "import sys\nsys.modules['torch'] = None\nsys.modules['relayrl'] = None\n"
    proc = subprocess.run(
        [sys.executable, "-c", guard + block.group(1)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("return ")


def test_cli_export_without_packages_exits_2(
    trained: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` fail
    out = trained / "none.onnx"
    assert main(["export", "--experiment", "e", "--train-dir", str(trained), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert "onnxruntime" in err and "pip install 'relayrl[export]'" in err
    assert not out.exists()


def test_cli_export_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--experiment", "nope", "--train-dir", str(tmp_path)]) == 2
    assert str(tmp_path / "nope") in capsys.readouterr().err
    assert main(["export", "--experiment", "x", "--format", "tflite"]) == 2


def test_cli_export_help(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["export", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--output" in out and "--check-samples" in out and "policy.onnx" in out


@pytest.fixture(scope="module")
def two_policies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    train_dir = tmp_path_factory.mktemp("two")
    code = main(
        ["train", "--env", "CartPole-v1", "--backend", "serial", "--num-workers", "1", "--num-envs-per-worker", "8",
         "--rollout-length", "16", "--train-for-env-steps", "2048", "--num-policies", "2", "--train-dir",
         str(train_dir), "--experiment", "two", "--seed", "1", "--no-progress-bar", "--no-tensorboard"]
    )  # fmt: skip
    assert code == 0
    return train_dir


def test_cli_export_policy_k_writes_that_policys_network(
    two_policies: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    best_1 = two_policies / "two" / "checkpoints" / "best_policy_1.pt"
    args = ["export", "--experiment", "two", "--train-dir", str(two_policies), "--check-samples", "0"]
    assert main([*args, "--checkpoint", str(best_1)]) == 2  # several policies: no silent policy 0
    assert "choose one with --policy K" in capsys.readouterr().err
    assert main([*args, "--policy", "1"]) == 0
    path = two_policies / "two" / "policy_1.onnx"
    assert f"exported:     policy 1 of {best_1}" in capsys.readouterr().out
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert props["policy"] == "1" and props["checkpoint"] == "best_policy_1.pt"
    data = read_checkpoint(best_1)
    cfg = Experiment(two_policies, "two").read_config()
    obs = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    session, names = _session(path)
    got = dict(zip(names, session.run(None, {"obs": obs}), strict=True))
    for k in (0, 1):
        model = policy_from_spaces(cfg, CARTPOLE.observation_space, CARTPOLE.action_space, data, k)
        ref = model.act(torch.from_numpy(obs), None, None, deterministic=True)
        assert np.allclose(got["value"], ref.values.detach().numpy(), atol=1e-4) == (k == 1), f"policy {k}"
