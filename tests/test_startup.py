"""Start-up: what lies between the process start and the first env step (docs/architecture.md, "Start-up")."""

import queue

from relayrl.config import Config
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
