"""``--backend ray`` settings: its flags, their validation, and the error without Ray installed."""

import sys

import pytest

import relayrl
from relayrl.cli.main import main
from relayrl.cli.train import parse_train_args
from relayrl.config import Config, replace


def test_ray_flags_parse_and_bad_values_are_rejected():
    cfg = parse_train_args(
        [
            "--backend",
            "ray",
            "--ray-address",
            "auto",
            "--ray-cpus-per-worker",
            "0.5",
            "--ray-placement-strategy",
            "SPREAD",
        ]
    )
    assert cfg.sampling.backend == "ray"
    assert (cfg.ray.address, cfg.ray.cpus_per_worker, cfg.ray.placement_strategy) == ("auto", 0.5, "SPREAD")
    assert Config.from_dict(cfg.to_dict()) == cfg  # saved with the experiment and read back
    with pytest.raises(relayrl.ConfigError, match="--ray-cpus-per-worker must be > 0"):
        relayrl.config.validate(replace(cfg, ray__cpus_per_worker=0.0))
    with pytest.raises(relayrl.ConfigError, match="--ray-placement-strategy must be PACK or SPREAD"):
        relayrl.config.validate(replace(cfg, ray__placement_strategy="STRICT_PACK"))
    with pytest.raises(relayrl.ConfigError, match="--backend 'dask' is not one of auto, local, ray"):
        relayrl.config.validate(replace(cfg, sampling__backend="dask"))


def test_without_ray_the_backend_exits_2_with_an_install_hint(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    for name in [m for m in sys.modules if m.startswith("relayrl.trainer.sources.ray")]:
        monkeypatch.delitem(sys.modules, name)
    code = main(["train", "--backend", "ray", "--train-dir", str(tmp_path), "--train-for-env-steps", "64"])
    assert code == 2
    err = capsys.readouterr().err
    assert "pip install 'relayrl[ray]'" in err
    assert not list(tmp_path.glob("*/checkpoints/*"))  # stopped before training
