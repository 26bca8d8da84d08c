"""The automatic sampling layout: ``--backend auto`` (the default) becomes ``local`` or ``serial`` at the
start of a run, from the cores the machine gives this process, and the run's log says which and why.

``local`` runs the rollout workers in processes of their own beside the trainer: sampling overlaps
the learner's updates. With fewer than ``MIN_CORES`` usable cores (the cores this process may run on,
capped by a container's CPU quota: ``relayrl.utils.machine``) the worker processes and the learner
only take turns on one core, through the scheduler and with the copies between processes on top;
``serial`` then steps the same workers in the trainer's process, between updates, without those
costs. Measured on CartPole at the defaults (docs/benchmarks.md, "Sampling layout"): on one core
``serial`` is about 1.15x ``local``; on two cores ``local`` is ahead, also with one or two busy
neighbours beside the run, so other processes running at the start do not change the choice. A
learner on a GPU keeps ``local`` (its updates leave the CPU to the workers), and ``ray`` is never
chosen: it needs a cluster, named with ``--backend ray``. Any explicit ``--backend`` is used as
given. ``relayrl train`` looks at the machine once (``measure``), before any worker process runs:
``backend_for`` decides from it and the two flags, read before parsing, whether to start the workers
early, and ``resolve`` decides from it again once the config is parsed.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Literal

from relayrl.utils import machine

if TYPE_CHECKING:  # not imported at run time: ``backend_for`` runs before the flags are parsed
    from relayrl.config import Config

log = logging.getLogger("relayrl")

MIN_CORES = 1.5
"""Below this many usable cores, ``auto`` samples in the trainer's process (``serial``)."""


@dataclasses.dataclass(frozen=True)
class LayoutChoice:
    backend: Literal["local", "serial"]
    reason: str


def choose(usable: float, device: str) -> LayoutChoice:
    """The backend for ``--backend auto`` on a machine with ``usable`` cores for a learner on ``device``
    (pure: the machine is measured by ``resolve``)."""
    if device.startswith("cuda"):
        return LayoutChoice("local", f"the learner is on {device}")
    if usable < MIN_CORES:
        return LayoutChoice(
            "serial",
            f"{usable:g} usable core(s): fewer than {MIN_CORES:g}, so sampling takes turns with the learner in one process",
        )
    return LayoutChoice("local", f"{usable:g} usable cores: sampling in worker processes beside the learner")


@dataclasses.dataclass(frozen=True)
class Machine:
    """What ``choose`` is told about the machine: its usable cores."""

    usable: float


def measure() -> Machine:
    """The machine now (``relayrl.utils.machine``)."""
    return Machine(machine.usable_cores())


def _device(device: str) -> str:
    return ("cuda" if _cuda_available() else "cpu") if device == "auto" else device


def backend_for(backend: str, device: str, seen: Machine | None) -> str:
    """The backend that ``resolve`` picks for ``--backend backend --device device`` on ``seen`` (None:
    measured now if needed). The command line reads it before parsing its flags, to start the workers early."""
    if backend != "auto":
        return backend
    seen = measure() if seen is None else seen
    if device == "auto" and choose(seen.usable, "cpu").backend == "local":
        return "local"  # on either device: no need to look for CUDA (which may import torch)
    return choose(seen.usable, _device(device)).backend


def resolve(cfg: Config, seen: Machine | None = None) -> Config:
    """``cfg`` with ``--backend auto`` replaced by the chosen backend (logged), for the machine ``seen``
    (None: measured now); any other ``cfg`` as it is."""
    if cfg.sampling.backend != "auto":
        return cfg
    seen = measure() if seen is None else seen
    choice = choose(seen.usable, _device(cfg.device))
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
