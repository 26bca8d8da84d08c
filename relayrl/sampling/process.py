"""The rollout worker process: a loop around RolloutWorker driven by small queue messages.

Inbound (per-worker queue):  ("slot", k) -> fill slot k;  ("stop",) -> exit.
Outbound (shared queue):     ("ready", w, gen), ("rollout", w, gen, RolloutReport), ("error", w, gen, traceback),
where ``gen`` is this process's generation (a restarted worker gets a new one).
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import traceback
from typing import Any

import torch

from relayrl.config import Config
from relayrl.sampling.buffers import SharedWeights, TrajectoryBuffers
from relayrl.sampling.progress import SharedBlob, StepCounters
from relayrl.utils.logs import setup_logging

POLL_SECONDS = 1.0


def worker_main(
    cfg: Config,
    worker_index: int,
    generation: int,
    buffers: TrajectoryBuffers,
    weights: SharedWeights,
    seed: int,
    counters: StepCounters,
    blob: SharedBlob,
    inbox: Any,
    outbox: Any,
    parent_pid: int,
    curriculum_states: dict[int, dict[str, Any]] | None = None,
) -> None:
    """Entry point of worker process ``worker_index`` (started with the spawn method).

    ``curriculum_states``: the trainer's latest curriculum states of this worker's envs (by global
    env index), restored before their first reset (a resumed run, or a restarted worker)."""
    setup_logging(f"worker{worker_index}")
    log = logging.getLogger("relayrl.worker")
    # One thread per worker: the workers together already occupy the cores.
    torch.set_num_threads(1)
    # Ctrl-C (and a batch system's SIGTERM) reach the whole process group; the main process alone
    # decides how the run stops (checkpoint first, then "stop" to every worker).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    worker = None
    try:
        from relayrl.sampling.worker import RolloutWorker

        worker = RolloutWorker(cfg, worker_index, buffers, weights, seed, counters, blob, curriculum_states)
        outbox.put(("ready", worker_index, generation))
        while True:
            try:
                msg = inbox.get(timeout=POLL_SECONDS)
            except queue.Empty:
                # The parent may have died without sending "stop" (SIGKILL): never outlive it.
                if os.getppid() != parent_pid:
                    log.warning("parent process is gone; worker %d exits", worker_index)
                    return
                continue
            if msg[0] == "stop":
                return
            if msg[0] == "slot":
                outbox.put(("rollout", worker_index, generation, worker.collect(msg[1])))
    except KeyboardInterrupt:
        # Ctrl-C reaches the whole process group; the main process decides what happens.
        return
    except BaseException:  # noqa: BLE001 - everything is reported to the main process
        outbox.put(("error", worker_index, generation, traceback.format_exc()))
    finally:
        if worker is not None:
            try:
                worker.close()
            except Exception:  # noqa: BLE001 - closing envs must not mask the real error
                log.exception("closing envs of worker %d failed", worker_index)
