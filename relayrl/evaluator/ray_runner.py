"""``RayRunner`` (``--backend ray``): the evaluator as a Ray actor on the trainer's node.

The actor (``EvaluatorActor``) is started at the first request, like the local evaluator process, and
placed on the trainer's node with no CPU reserved (``ray_connect.hub_options``, as the hub): a cluster
sized for its rollout workers (``--num-workers`` x ``--ray-cpus-per-worker`` = its CPUs) still has room
for it, the evaluation env is known to build there (the trainer built it once at start, to check
``--eval-env-kwargs``), and a worker node that leaves the cluster cannot take it along. It runs at
the lowest CPU priority (``--eval-niceness``), so it takes the idle time of the trainer's node, as
the local evaluator takes the idle time of the machine.

Each request's weights (the copy the extension published into ``EvalSetup.weights``) are ``ray.put``
once, as numpy arrays per policy with their versions, and read by the actor from the object store;
the actor loads them into weights of its own and runs the same ``Evaluator`` as the local process,
answering with the same ``EvalReport`` (or ``EvalFailed`` with the traceback, which stops the run).
An actor that dies stops the run (``WorkerError``). ``close`` kills the actor; when the rollout
source has already disconnected from Ray, the actor ended with the connection (Ray ends the actors a
driver owns when it leaves).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import traceback
from typing import Any

import numpy as np
import torch

from relayrl.config import Config
from relayrl.errors import WorkerError
from relayrl.evaluator.runners import lower_priority
from relayrl.evaluator.work import EvalFailed, EvalReport, EvalRequest, EvalSetup, Evaluator
from relayrl.shared.weights import SharedWeights
from relayrl.trainer.sources import ray_connect
from relayrl.trainer.sources.ray_connect import ray
from relayrl.utils.logs import setup_logging

log = logging.getLogger("relayrl.evaluator")


@dataclasses.dataclass(frozen=True)
class EvalWeights:
    """The weights of one evaluation, as one object-store object: by policy id, the arrays and version."""

    arrays: tuple[dict[str, np.ndarray], ...]
    versions: tuple[int, ...]


def weights_of(setup: EvalSetup) -> EvalWeights:
    """The weights the trainer published into ``setup.weights`` for the request it is about to make."""
    return EvalWeights(
        tuple({name: t.detach().numpy() for name, t in w.tensors.items()} for w in setup.weights),
        tuple(int(w.version[0]) for w in setup.weights),
    )


class EvaluatorActor:
    """An ``Evaluator`` behind Ray actor methods (the runner wraps it with ``ray.remote``)."""

    def __init__(self, cfg: Config, seed: int, first: EvalWeights) -> None:
        """``cfg``: the evaluation config (``work.eval_config``); ``first``: weights of the right shapes.
        Never raises: a failure to build the evaluator is kept and returned by ``evaluate``."""
        setup_logging("evaluator")
        torch.set_num_threads(1)
        torch.manual_seed(seed)  # sampled actions (--no-eval-deterministic)
        lower_priority(cfg.evaluation.niceness)
        self.failure: str | None = None
        self.evaluator: Evaluator | None = None
        # Weights of this process's own: the trainer's shared memory is on another machine, or another
        # process's memory that a Ray actor does not inherit.
        self.weights = tuple(SharedWeights(_tensors(arrays)) for arrays in first.arrays)
        try:
            self.evaluator = Evaluator(EvalSetup(cfg, self.weights, seed))
        except BaseException:  # noqa: BLE001 - reported to the trainer with the first request
            self.failure = traceback.format_exc()

    def where(self) -> tuple[str, int]:
        """The node id and pid of this actor."""
        return ray.get_runtime_context().get_node_id(), os.getpid()

    def evaluate(self, request: EvalRequest, weights: EvalWeights) -> EvalReport | EvalFailed:
        """Load ``weights`` and evaluate them (the failure's traceback instead, when there is one)."""
        if self.evaluator is None:
            return EvalFailed(self.failure or "the evaluator was not built")
        try:
            for channel, arrays, version in zip(self.weights, weights.arrays, weights.versions, strict=True):
                channel.publish(_tensors(arrays), version)
            return self.evaluator.run(request)
        except BaseException:  # noqa: BLE001 - everything is reported to the trainer
            return EvalFailed(traceback.format_exc())


def _tensors(arrays: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    # arrays read from the object store are read-only views: copy them into tensors of their own
    return {name: torch.tensor(a) for name, a in arrays.items()}


class RayRunner:
    """Evaluates in a Ray actor (see the module docstring)."""

    def __init__(self, setup: EvalSetup, ctx: Any) -> None:
        """Nothing starts here: the run connects to Ray when its rollout source starts."""
        self.setup = setup
        self.name = f"relayrl-{setup.cfg.experiment_name}-{secrets.token_hex(3)}-evaluator"
        """The actor's name (``ray list actors`` shows it with the run's workers)."""
        self.actor: Any = None
        self.pending: Any = None
        self.where: Any = None

    def submit(self, request: EvalRequest) -> None:
        weights = ray.put(weights_of(self.setup))  # once per evaluation
        if self.actor is None:
            actor_cls = ray.remote(EvaluatorActor).options(**ray_connect.hub_options(self.name))
            self.actor = actor_cls.remote(self.setup.cfg, self.setup.seed, weights)
            self.where = self.actor.where.remote()
        self.pending = self.actor.evaluate.remote(request, weights)

    def poll(self) -> list[EvalReport]:
        return self.wait(0.0)

    def wait(self, timeout: float) -> list[EvalReport]:
        if self.where is not None and ray.wait([self.where], timeout=0)[0]:
            node, pid = self._get(self.where)
            self.where = None
            log.info("evaluator actor %s placed on node %s (pid %d)", self.name, node, pid)
        if self.pending is None or not ray.wait([self.pending], timeout=timeout)[0]:
            return []
        msg = self._get(self.pending)
        self.pending = None
        if isinstance(msg, EvalFailed):
            raise WorkerError(f"the evaluation actor raised:\n{msg.traceback}")
        return [msg]

    def _get(self, ref: Any) -> Any:
        try:
            return ray.get(ref)
        except (ray.exceptions.RayActorError, ray.exceptions.ObjectLostError) as exc:
            raise WorkerError(f"the evaluation actor {self.name} died: {' '.join(str(exc).split())[:300]}") from exc

    def close(self) -> None:
        if self.actor is not None and ray.is_initialized():
            try:
                ray.kill(self.actor, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self.actor = self.pending = self.where = None
