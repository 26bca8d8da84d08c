"""How worker processes are started: forked from a forkserver that has imported PyTorch already.

A spawned worker imports torch, gymnasium and relayrl itself (about a second of CPU each, on top of the
trainer's own imports). With the ``forkserver`` start method one server process imports them once
(``PRELOAD``), and every worker is a fork of it: a fresh, single-threaded process (no CUDA, no
TensorBoard thread of the trainer) that starts in milliseconds. ``start_early`` launches the server
before the trainer imports torch itself, so both imports run side by side on two cores. Workers keep
spawn's semantics otherwise: each one imports the main script as ``__mp_main__`` and receives its
``WorkerContext`` by pickling. Platforms without forkserver use spawn.
"""

from __future__ import annotations

import multiprocessing as mp
from multiprocessing.context import ForkServerContext, SpawnContext

PRELOAD = ["relayrl.worker.process", "relayrl.worker.rollout"]
"""Modules the forkserver imports before forking workers (torch, gymnasium, models, env batches)."""


def context() -> ForkServerContext | SpawnContext:
    """The multiprocessing context for worker processes and the locks and queues they share."""
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        return ctx
    return mp.get_context("spawn")


def start_early() -> None:
    """Start the forkserver now (it imports ``PRELOAD`` in the background); a no-op without one or when
    it runs already."""
    if context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()
