"""The automatic sampling layout: ``--backend auto`` (the default) becomes ``local`` or ``serial`` at the
start of a run, from what the machine offers then, and the run's log says which and why.

``local`` runs the rollout workers in processes of their own beside the trainer: sampling overlaps
the learner's updates, which pays when there are cores for both. When fewer than ``MIN_FREE_CORES``
cores are free (the cores this process may use, minus the other processes running on them now:
``relayrl.utils.machine``), the worker processes and the learner only take turns on the same core,
through the scheduler and with the copies between processes on top; ``serial`` then steps the same
workers in the trainer's process, between updates, without those costs (docs/benchmarks.md,
"Sampling layout"). A neighbour in a session of its own (another job, another terminal) is what the
rule is for: Linux's autogroup scheduling shares the CPU between sessions, so the run's processes
together get about what the free cores offer; a busy process started from the run's own session
shares per process, and there ``local`` would be ahead (measured: "Sampling layout, re-measured"). A learner on a GPU keeps ``local`` (its updates leave the CPU to the workers), and
``ray`` is never chosen: it needs a cluster, named with ``--backend ray``. Any explicit ``--backend``
is used as given. ``relayrl train`` looks at the machine once (``measure``), before any worker process
runs: ``backend_for`` decides from it and the two flags, read before parsing, whether to start the
workers early, and ``resolve`` decides from it again once the config is parsed.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Literal

from relayrl.utils import machine

if TYPE_CHECKING:  # not imported at run time: ``backend_for`` runs before the flags are parsed
    from relayrl.config import Config

log = logging.getLogger("relayrl")

MIN_FREE_CORES = 1.5
"""Below this many free cores, ``auto`` samples in the trainer's process (``serial``)."""


@dataclasses.dataclass(frozen=True)
class LayoutChoice:
    backend: Literal["local", "serial"]
    reason: str


def choose(usable: float, busy: float | None, device: str) -> LayoutChoice:
    """The backend for ``--backend auto`` on a machine with ``usable`` cores, ``busy`` of them running
    other processes (None: unknown), for a learner on ``device`` (pure: the inputs are measured by
    ``resolve``)."""
    if device.startswith("cuda"):
        return LayoutChoice("local", f"the learner is on {device}")
    free = usable if busy is None else max(0.0, usable - busy)
    seen = f"{usable:g} usable cores" + ("" if busy is None else f", {busy:g} busy with other processes")
    if free < MIN_FREE_CORES:
        return LayoutChoice(
            "serial",
            f"{seen}: fewer than {MIN_FREE_CORES:g} free, so sampling takes turns with the learner in one process",
        )
    return LayoutChoice("local", f"{seen}: sampling in worker processes beside the learner")


@dataclasses.dataclass(frozen=True)
class Machine:
    """What ``choose`` is told about the machine: usable cores, and how many are busy (None: unknown)."""

    usable: float
    busy: float | None


def measure() -> Machine:
    """The machine now (``relayrl.utils.machine``; about 40 ms of samples)."""
    return Machine(machine.usable_cores(), machine.busy_cores())


def _device(device: str) -> str:
    return ("cuda" if _cuda_available() else "cpu") if device == "auto" else device


def backend_for(backend: str, device: str, seen: Machine | None) -> str:
    """The backend that ``resolve`` picks for ``--backend backend --device device`` on ``seen`` (None:
    measured now if needed). The command line reads it before parsing its flags, to start the workers early."""
    if backend != "auto":
        return backend
    seen = measure() if seen is None else seen
    if device == "auto" and choose(seen.usable, seen.busy, "cpu").backend == "local":
        return "local"  # on either device: no need to look for CUDA (which may import torch)
    return choose(seen.usable, seen.busy, _device(device)).backend


def resolve(cfg: Config, seen: Machine | None = None) -> Config:
    """``cfg`` with ``--backend auto`` replaced by the chosen backend (logged), for the machine ``seen``
    (None: measured now); any other ``cfg`` as it is."""
    if cfg.sampling.backend != "auto":
        return cfg
    seen = measure() if seen is None else seen
    choice = choose(seen.usable, seen.busy, _device(cfg.device))
    log.info("sampling layout: %s (--backend auto: %s; give --backend to choose)", choice.backend, choice.reason)
    return dataclasses.replace(cfg, sampling=dataclasses.replace(cfg.sampling, backend=choice.backend))


def _cuda_available() -> bool:
    """Whether a CUDA device is usable, without importing torch when it is not loaded and no NVIDIA
    driver is present (start-up time)."""
    import importlib.util
    import os
    import sys

    if "torch" not in sys.modules and not os.path.exists("/proc/driver/nvidia/version"):
        return False
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())
