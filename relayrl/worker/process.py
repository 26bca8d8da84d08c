"""The rollout worker process: a loop around ``RolloutWorker`` driven by small queue messages
(``worker/messages.py``): ``GrantSlot`` -> fill the slot and answer ``RolloutDone``; ``Stop`` -> exit.

Started by ``ProcessSource`` with one ``WorkerContext``. It ignores SIGINT and SIGTERM (the trainer
alone decides how a run stops), and exits by itself when the trainer process is gone.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import queue
import signal
import traceback
from typing import Any

from relayrl.utils.logs import setup_logging
from relayrl.worker.context import WorkerContext
from relayrl.worker.messages import GrantSlot, Ready, RolloutDone, Stop, WorkerFailed

POLL_SECONDS = 1.0


def worker_main(ctx: WorkerContext, inbox: Any, outbox: Any) -> None:
    """Entry point of a worker process (started with the spawn method)."""
    w, gen = ctx.worker_index, ctx.generation
    setup_logging(f"worker{w}")
    log = logging.getLogger("relayrl.worker")
    from relayrl.utils.threads import set_math_threads

    # One thread per worker: the workers together already occupy the cores.
    set_math_threads(1)
    # Ctrl-C (and a batch system's SIGTERM) reach the whole process group; the main process alone
    # decides how the run stops (checkpoint first, then Stop to every worker).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    worker = None
    trainer = mp.parent_process()  # the process that started this one (alive while its pipe is open)
    try:
        from relayrl.worker.rollout import RolloutWorker

        worker = RolloutWorker(ctx)
        outbox.put(Ready(w, gen))
        while True:
            try:
                msg = inbox.get(timeout=POLL_SECONDS)
            except queue.Empty:
                # The trainer may have died without sending Stop (SIGKILL): never outlive it.
                if trainer is not None and not trainer.is_alive():
                    log.warning("the trainer process is gone; worker %d exits", w)
                    return
                continue
            if isinstance(msg, Stop):
                return
            if isinstance(msg, GrantSlot):
                outbox.put(RolloutDone(w, gen, worker.collect(msg.slot)))
    except KeyboardInterrupt:
        return
    except BaseException:  # noqa: BLE001 - everything is reported to the main process
        outbox.put(WorkerFailed(w, gen, traceback.format_exc()))
    finally:
        if worker is not None:
            try:
                worker.close()
            except Exception:  # noqa: BLE001 - closing envs must not mask the real error
                log.exception("closing envs of worker %d failed", w)
