"""The training-extension seam: features that hook into the run without a branch in the loop.

A feature (self-play's snapshot pool, population-based training, and later ones: evaluation,
leagues, learning-progress curricula) is one ``Extension``. The trainer builds the extensions whose
config group is enabled (``EXTENSIONS``: config group name -> ``"module:factory"``, one registration
line per feature; the factory is called with an ``ExtensionContext``) and the loop, the trainer and the
checkpointer call every one of them, by name, at the same points:

- ``start(saved)``: once, before the workers start, with the state it saved in the checkpoint the run
  resumes from (``None`` for a new run, or one that did not have the feature);
- ``on_rollout(report)``: after every rollout report;
- ``after_update(updated)``: after the learner update of the policies ``updated``;
- ``housekeeping(env_steps)``: on every pass of the loop (cheap unless something is due); returns the
  ids of policies whose learner state it changed, whose weights the loop then publishes;
- ``scalars()``: values for the periodic report (console, TensorBoard, progress file, W&B);
- ``report_now()``: True when it holds values that should be reported at once (the loop then makes the
  periodic report on this pass, so results that come at their own times, such as evaluations, each get
  their own report);
- ``state_dict()``: its checkpoint entry (plain data and tensors), saved under ``name``;
- ``frozen_weights()`` / ``frozen_table()``: extra controllers for the workers (frozen snapshots that act
  but never train) and the table that says which are live;
- ``matches()`` / ``on_matches(matches)``: games played outside the rollouts (evaluation matches
  against fixed opponents) as ``Match`` records: the loop collects every extension's ``matches()`` on
  each pass and hands them all to every extension's ``on_matches`` (the league rates them);
- ``finish(env_steps)``: once, when training reaches its end (``--train-for-env-steps`` or
  ``--train-for-seconds``; not on a signal or an error), before the final checkpoint: do what is due at
  the end (evaluation: a last evaluation of the final weights, so the best file can be the final policy);
- ``close()``: once, when the run ends (after the final checkpoint, with the workers): stop what it
  started (a process, a thread).

An extension that scores policies itself (evaluation) picks the best files through the checkpointer it
is built with (``ExtensionContext.checkpointer``: ``choose_best_by``, ``save_best_if``).

Each feature's options, their checks and their help text are its config group's (relayrl/config/);
the core never imports a feature package: the registry names them as strings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from relayrl.config import Config
from relayrl.experiment import Experiment
from relayrl.hooks import import_object
from relayrl.shared.progress import SharedBlob
from relayrl.shared.weights import SharedWeights
from relayrl.trainer.checkpointer import Checkpointer
from relayrl.trainer.policy_set import PolicySet
from relayrl.trainer.state import TrainState
from relayrl.worker.report import RolloutReport

if TYPE_CHECKING:
    from relayrl.trainer.info_publisher import TrainingInfoPublisher

EXTENSIONS: dict[str, str] = {
    "self_play": "relayrl.self_play.pool:build",
    "pbt": "relayrl.pbt.controller:build",
    "evaluation": "relayrl.evaluator.extension:build",
    "task_curriculum": "relayrl.level_replay.extension:build",
    "opponent_ratings": "relayrl.league.opponent_levels:build",
}
"""Config group name -> ``"module:factory"``: the extension is built when ``cfg.<group>.enabled``."""


@dataclasses.dataclass(frozen=True)
class Match:
    """One game between two league players (``relayrl/league/ratings.py`` ids: ``policy_<k>``,
    ``bot:<spec>``): ``score_a`` is ``a``'s result, 1 won, 0.5 draw, 0 lost."""

    a: str
    b: str
    score_a: float


@dataclasses.dataclass(frozen=True)
class ExtensionContext:
    """What an extension is built with (by the trainer, once)."""

    cfg: Config
    policies: PolicySet
    state: TrainState
    publisher: TrainingInfoPublisher
    experiment: Experiment
    mp_context: Any
    """The multiprocessing context the workers start from (for shared memory the workers read)."""
    seed: int
    checkpointer: Checkpointer
    """Writes the run's checkpoints; an extension may take over the choice of the best files."""


class Extension(Protocol):
    """One feature hooked into the run (see the module docstring for when each hook runs)."""

    name: str
    """Its key in checkpoints and its name in logs."""

    def start(self, saved: Mapping[str, Any] | None) -> None: ...

    def on_rollout(self, report: RolloutReport) -> None: ...

    def after_update(self, updated: Sequence[int]) -> None: ...

    def housekeeping(self, env_steps: int) -> Sequence[int]: ...

    def scalars(self) -> dict[str, float]: ...

    def report_now(self) -> bool: ...

    def state_dict(self) -> dict[str, Any]: ...

    def frozen_weights(self) -> tuple[SharedWeights, ...]: ...

    def frozen_table(self) -> SharedBlob | None: ...

    def matches(self) -> Sequence[Match]: ...

    def on_matches(self, matches: Sequence[Match]) -> None: ...

    def finish(self, env_steps: int) -> None: ...

    def close(self) -> None: ...


class ExtensionBase:
    """No-op hooks: an extension overrides the ones it needs (inheriting this is optional)."""

    name = "extension"

    def start(self, saved: Mapping[str, Any] | None) -> None:
        return None

    def on_rollout(self, report: RolloutReport) -> None:
        return None

    def after_update(self, updated: Sequence[int]) -> None:
        return None

    def housekeeping(self, env_steps: int) -> Sequence[int]:
        return ()

    def scalars(self) -> dict[str, float]:
        return {}

    def report_now(self) -> bool:
        return False

    def state_dict(self) -> dict[str, Any]:
        return {}

    def frozen_weights(self) -> tuple[SharedWeights, ...]:
        return ()

    def frozen_table(self) -> SharedBlob | None:
        return None

    def matches(self) -> Sequence[Match]:
        return ()

    def on_matches(self, matches: Sequence[Match]) -> None:
        return None

    def finish(self, env_steps: int) -> None:
        return None

    def close(self) -> None:
        return None


def build_extensions(ctx: ExtensionContext, registry: Mapping[str, str] = EXTENSIONS) -> list[Extension]:
    """The extensions whose config group is enabled, in registry order."""
    out = []
    for group, spec in registry.items():
        if getattr(ctx.cfg, group).enabled:
            out.append(import_object(spec, f"extension {group!r}")(ctx))
    return out


def frozen_controllers(extensions: Sequence[Extension]) -> tuple[tuple[SharedWeights, ...], SharedBlob | None]:
    """The workers' frozen controllers of all extensions and the table of the live ones (at most one
    extension may provide frozen controllers)."""
    providers = [ext for ext in extensions if ext.frozen_weights()]
    if len(providers) > 1:
        names = ", ".join(ext.name for ext in providers)
        raise ValueError(f"only one extension may provide frozen controllers, got {names}")
    if not providers:
        return (), None
    return providers[0].frozen_weights(), providers[0].frozen_table()
