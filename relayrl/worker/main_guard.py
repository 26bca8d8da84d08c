"""The guard against ``train`` called while a worker process imports the user's script.

Every worker process imports the main script again (multiprocessing's spawn and forkserver start
methods), so a training call at the top level of a script runs in every worker. Such a worker stops
at once with a message and an exit code the trainer turns into a ``ConfigError`` (instead of
restarting it). A light module: ``relayrl.train`` checks this before anything imports torch.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys

UNGUARDED_MAIN_EXIT_CODE = 78
"""Exit code of a worker process that found ``train`` called while it imported the user's script."""
UNGUARDED_MAIN_MESSAGE = (
    "relayrl.train() was called while a worker process was importing your script: every worker process "
    "imports the main script again (multiprocessing's spawn and forkserver start methods), so a training "
    'call at the top level runs in every worker. Put it under `if __name__ == "__main__":`.'
)


def refuse_in_worker_bootstrap() -> None:
    """A script that calls ``train`` at import time runs it again in every worker process, which
    imports the main script while it starts. Such a worker stops at once with a message and an exit
    code the trainer turns into a ``ConfigError`` (instead of restarting it)."""
    if getattr(mp.current_process(), "_inheriting", False):  # set by multiprocessing while it prepares
        print(f"relayrl: {UNGUARDED_MAIN_MESSAGE}", file=sys.stderr, flush=True)
        # os._exit, not SystemExit: a forkserver child reports any exception as exit code 1
        os._exit(UNGUARDED_MAIN_EXIT_CODE)
