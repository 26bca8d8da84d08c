"""PufferLib as a peer of ``benchmarks.compare``: its settings mapping and its build steps (no PufferLib needed)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from benchmarks import compare, puffer_venv

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks" / "peer_runners"))
import puffer_settings as ps  # noqa: E402

# Every key PuffeRL.__init__ / evaluate / train / close read from its config (pufferlib 3.0.0, pufferl.py).
PUFFERL_KEYS = {
    "seed", "torch_deterministic", "cpu_offload", "device", "optimizer", "anneal_lr", "precision",
    "total_timesteps", "learning_rate", "gamma", "gae_lambda", "update_epochs", "clip_coef", "vf_coef",
    "vf_clip_coef", "max_grad_norm", "ent_coef", "adam_beta1", "adam_beta2", "adam_eps", "data_dir",
    "checkpoint_interval", "batch_size", "minibatch_size", "max_minibatch_size", "bptt_horizon", "compile",
    "compile_mode", "compile_fullgraph", "vtrace_rho_clip", "vtrace_c_clip", "prio_alpha", "prio_beta0",
    "use_rnn", "env",
}  # fmt: skip


def _params(**changes) -> dict:
    return {**compare.CARTPOLE, "seed": 3, "work_dir": "/tmp/x", **changes}


def test_train_config_matches_the_cartpole_workload():
    p = _params()
    cfg = ps.train_config(p, "/tmp/x/puffer")
    assert PUFFERL_KEYS <= set(cfg)
    # one update per 1,024 steps in 32 segments of 32 steps; 4 epochs x 4 minibatches of 256, no accumulation
    assert (cfg["batch_size"], cfg["bptt_horizon"], cfg["minibatch_size"]) == (1024, 32, 256)
    assert cfg["max_minibatch_size"] == cfg["minibatch_size"] and cfg["update_epochs"] == 4
    assert ps.gradient_steps(cfg) == p["epochs"] * p["minibatches"] == 16
    # PuffeRL's own checks: every env fills one segment per update; minibatches are whole segments
    assert p["num_workers"] * p["envs_per_worker"] <= cfg["batch_size"] // cfg["bptt_horizon"]
    assert cfg["minibatch_size"] % cfg["bptt_horizon"] == 0
    same = {"learning_rate": "lr", "gamma": "gamma", "gae_lambda": "gae_lambda", "clip_coef": "clip"}
    same |= {"ent_coef": "ent_coef", "vf_coef": "vf_coef", "max_grad_norm": "max_grad_norm", "adam_eps": "adam_eps"}
    assert {k: cfg[k] for k in same} == {k: p[v] for k, v in same.items()}
    assert (cfg["total_timesteps"], cfg["seed"], cfg["device"]) == (p["steps"], 3, "cpu")
    # PufferLib's extras off: Adam (not Muon), uniform segments of weight 1, value clipping never binding
    assert (cfg["optimizer"], cfg["adam_beta1"], cfg["adam_beta2"]) == ("adam", 0.9, 0.999)
    assert cfg["prio_alpha"] == 0.0 and cfg["prio_beta0"] == 0.0 and cfg["vf_clip_coef"] >= 1e6
    assert not cfg["compile"] and not cfg["use_rnn"] and cfg["precision"] == "float32"
    assert cfg["anneal_lr"] is False  # the workload's constant lr
    assert ps.train_config(_params(lr_schedule="linear"), "d")["anneal_lr"] is True  # its nearest: cosine


def test_vec_settings_of_both_backends():
    p = _params()
    serial = ps.vec_settings(p, "Serial")
    assert serial == {"backend": "Serial", "num_envs": 32}  # a batch_size would change Serial's env count
    mp = ps.vec_settings(p, "Multiprocessing")
    assert mp["num_envs"] == 32 and mp["num_workers"] == 2 and mp["batch_size"] == 16
    with pytest.raises(ValueError, match="backend"):
        ps.vec_settings(p, "Ray")


def test_compare_runs_pufferlib_in_its_own_venv_as_two_rows():
    single, multi = compare.FRAMEWORKS["pufferlib"], compare.FRAMEWORKS["pufferlib-mp"]
    assert single.venv == multi.venv == "puffer" and single.script == multi.script == "run_puffer.py"
    assert single.extra == {"backend": "Serial"} and multi.extra == {"backend": "Multiprocessing"}
    assert compare.PEER_BUILDS["puffer"] is puffer_venv.build and "puffer" in compare.PEER_VENVS
    targets = compare.WORKLOADS["cartpole"].targets
    assert targets["pufferlib process fps"] == targets["pufferlib-mp process fps"] == ("process_fps", "min", 2.0)


def test_patch_setup_defines_the_missing_name(tmp_path):
    # the shape of PufferLib 3.0.0's setup.py: the name is only set in the Ocean branch, read after it
    setup_py = tmp_path / "setup.py"
    setup_py.write_text(
        "NO_OCEAN = True\nc_extensions = []\nif not NO_OCEAN:\n    c_extension_paths = ['a']\npaths = c_extension_paths\n"
    )
    with pytest.raises(NameError, match="c_extension_paths"):
        exec(setup_py.read_text(), {})
    puffer_venv.patch_setup(setup_py)
    scope: dict = {}
    exec(setup_py.read_text(), scope)
    assert scope["paths"] == []
    setup_py.write_text("setup()\n")  # another version's setup.py: no line to patch
    with pytest.raises(SystemExit, match="expected one line"):
        puffer_venv.patch_setup(setup_py)


def test_path_without_nvcc_drops_only_folders_with_an_nvcc(tmp_path):
    cuda, other = tmp_path / "cuda", tmp_path / "bin"
    cuda.mkdir()
    other.mkdir()
    (cuda / "nvcc").write_text("#!/bin/sh\n")
    (cuda / "nvcc").chmod(0o755)
    assert puffer_venv.path_without_nvcc(os.pathsep.join([str(cuda), str(other)])) == str(other)
