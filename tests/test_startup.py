"""Start-up: what lies between the process start and the first env step (docs/architecture.md, "Start-up")."""

import queue

import pytest

from relayrl.cli.train import flags_before_parsing, parse_train_args
from relayrl.config import Config, replace
from relayrl.config.presets import PRESETS
from relayrl.trainer.sources import layout
from relayrl.trainer.sources.base import SlotLayout
from relayrl.trainer.sources.processes import ProcessSource
from relayrl.worker.messages import Ready


class ScriptedOutbox:
    """An outbox that hands out the given messages, then is empty; counts the waits on it."""

    def __init__(self, messages: list) -> None:
        self.messages = list(messages)
        self.gets = 0

    def get(self, timeout: float | None = None):
        self.gets += 1
        if not self.messages:
            raise queue.Empty
        return self.messages.pop(0)


def test_process_source_is_ready_at_the_last_ready_message() -> None:
    """The loop grants the first slots once every worker is ready: waiting on after the last Ready
    (for a rollout that cannot come before a grant) delayed every run's first env step by the poll
    interval (0.5 s)."""
    source = ProcessSource(Config(env="CartPole-v1"), SlotLayout(2, 2), lambda w, gen: None)
    source.outbox = ScriptedOutbox([Ready(1, 0), Ready(0, 0)])
    source.wait_ready(stop=lambda: False)
    assert source.ready == {0, 1}
    assert source.outbox.gets == 2


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--backend", "serial"],
        ["--backend=ray", "--device=cuda"],
        ["--backend", "serial", "--backend", "local", "--device", "auto"],
        *(["--preset", name] for name in sorted(PRESETS)),
    ],
)
def test_the_flags_read_before_parsing_are_the_parsed_ones(argv) -> None:
    """``relayrl train`` starts the chosen backend's workers before it parses its flags (the local
    forkserver's imports then overlap the parsing), from a light reading of ``--backend`` and ``--device``."""
    argv = ["--env", "CartPole-v1", *argv]
    cfg = parse_train_args(argv)
    assert flags_before_parsing(argv) == {"--backend": cfg.sampling.backend, "--device": cfg.device}


def test_nothing_starts_early_for_help() -> None:
    assert flags_before_parsing(["--help"]) is None and flags_before_parsing(["--env", "x", "-h"]) is None


@pytest.mark.parametrize("backend", ["auto", "local", "serial"])
@pytest.mark.parametrize("device", ["cpu", "auto", "cuda"])
@pytest.mark.parametrize("busy", [0.0, 1.0, None])
def test_the_early_backend_is_the_one_auto_resolves_to(backend, device, busy) -> None:
    seen = layout.Machine(2.0, busy)
    cfg = replace(Config(env="CartPole-v1"), sampling__backend=backend, device=device)
    assert layout.backend_for(backend, device, seen) == layout.resolve(cfg, seen).sampling.backend


def test_train_starts_the_backend_before_parsing_its_flags(monkeypatch) -> None:
    import relayrl.cli.train as cli_train

    calls: list[tuple] = []

    def parse(argv):
        calls.append(("parse",))
        raise SystemExit(2)

    monkeypatch.setattr(layout, "measure", lambda: layout.Machine(2.0, 0.0))
    monkeypatch.setattr(cli_train.sources, "start_early", lambda backend: calls.append(("start", backend)))
    monkeypatch.setattr(cli_train, "parse_train_args", parse)
    with pytest.raises(SystemExit):
        cli_train.run(["--env", "CartPole-v1"])
    assert calls == [("start", "local"), ("parse",)]


def test_the_python_api_is_light_to_import() -> None:
    import subprocess
    import sys

    code = "import sys, relayrl; relayrl.train; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False"


def test_the_python_api_starts_the_backend_before_the_trainer(monkeypatch) -> None:
    """``relayrl.train`` runs the backend's early start (the forkserver's imports) before it imports and
    runs the trainer, whose own ``import torch`` then runs beside the forkserver's."""
    import relayrl
    import relayrl.trainer.trainer as trainer_module
    from relayrl.trainer import launch

    calls: list[tuple] = []
    monkeypatch.setattr(launch.sources, "start_early", lambda backend: calls.append(("start", backend)))
    monkeypatch.setattr(trainer_module, "train", lambda cfg: calls.append(("train", cfg.sampling.backend)))
    monkeypatch.setattr(layout, "measure", lambda: layout.Machine(2.0, 0.0))
    assert relayrl.train is launch.train
    launch.train(Config(env="CartPole-v1"))
    assert calls == [("start", "local"), ("train", "local")]
