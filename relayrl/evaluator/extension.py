"""Trainer side of evaluation during training: a training extension (relayrl/trainer/extensions.py) built
when ``--eval-every-env-steps`` is > 0.

Every ``--eval-every-env-steps`` env steps (when no evaluation is in flight), ``housekeeping`` keeps a copy
of every policy's learner state and publishes its weights to the evaluator's own ``SharedWeights`` (so the
evaluated weights are exactly the copy, whatever the learner does meanwhile), then asks the runner
(``runners.py``). When the report comes back, its metrics become the ``eval/...`` report keys (once, in a
report the loop makes at once: ``report_now``) and each policy's ``--best-metric`` value goes to the
checkpointer, which writes the policy's best file from the copy when it beats the best so far
(``save_best_if``). The checkpointer follows this extension's scores instead of the training return from
the start (``choose_best_by``). The next due step is saved in checkpoints.

When training reaches its end, ``finish`` waits for the evaluation in flight and then evaluates the final
weights (unless they were the last ones evaluated), before the final checkpoint: the final policy is a
candidate for the best file like every other evaluated one. It waits at most ``FINAL_WAIT_FACTOR`` times
the longest evaluation so far (at least ``FINAL_WAIT_SECONDS``); a signal or an error skips it.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from relayrl.config import Config, EvaluationConfig
from relayrl.evaluator.runners import EvalRunner, runner_for
from relayrl.evaluator.work import EvalReport, EvalRequest, EvalSetup, Evaluator, eval_config
from relayrl.league.ratings import policy_id
from relayrl.shared.weights import SharedWeights
from relayrl.trainer.checkpointer import Checkpointer
from relayrl.trainer.extensions import ExtensionBase, ExtensionContext, Match
from relayrl.trainer.policy_set import PolicySet
from relayrl.trainer.sources import backend_name

log = logging.getLogger("relayrl.evaluator")

FINAL_WAIT_SECONDS = 60.0
FINAL_WAIT_FACTOR = 3.0


def build(ctx: ExtensionContext) -> EvaluationExtension:
    """The evaluation extension of a run. Builds the evaluation env once here, so that an
    ``--eval-env-kwargs`` the env rejects stops the run before training (ConfigError, the env's message)."""
    cfg = ctx.cfg
    weights = tuple(SharedWeights(p.learner.model.state_dict(), ctx.mp_context) for p in ctx.policies.all())
    setup = EvalSetup(eval_config(cfg), weights, int(ctx.seed))
    Evaluator(setup).close()  # the check: env, spaces, opponents
    runner = runner_for(backend_name(cfg), setup, ctx.mp_context)
    return EvaluationExtension(cfg, ctx.policies, ctx.checkpointer, runner, weights, ctx.state.env_steps)


def metric_name(best_metric: str) -> str:
    """A ``--best-metric`` key as the evaluator's per-policy metrics name it: ``eval/reward`` -> ``reward``,
    ``eval/episode_extra_stats/success`` -> ``episode_extra_stats/success/mean``."""
    name = best_metric.removeprefix("eval/")
    if name.startswith("episode_extra_stats/") and not name.endswith("/mean"):
        name += "/mean"
    return name


class EvaluationExtension(ExtensionBase):
    """See the module docstring."""

    name = "evaluation"

    def __init__(
        self,
        cfg: Config,
        policies: PolicySet,
        checkpointer: Checkpointer,
        runner: EvalRunner,
        weights: Sequence[SharedWeights],
        env_steps: int,
    ) -> None:
        """``weights``: the evaluator's, by policy id (what ``runner`` evaluates); ``env_steps``: the run's
        env steps now (the first evaluation is due at the next multiple of the cadence)."""
        self.cfg: EvaluationConfig = cfg.evaluation
        self.policies = policies
        self.checkpointer = checkpointer
        self.runner = runner
        self.weights = tuple(weights)
        self.best_metric = cfg.evaluation.best_metric_key(cfg)
        checkpointer.choose_best_by(self.best_metric)
        self.next_env_steps = self._after(env_steps)
        self.in_flight: dict[int, dict[str, Any]] | None = None
        """The learner states being evaluated, by policy id (None: no evaluation in flight)."""
        self.unreported: list[dict[str, float]] = []
        """Finished evaluations' report keys, oldest first, each reported in a report of its own."""
        self.warned_metric = False
        self.evaluations = 0
        self.played: list[Match] = []
        """Games against ``--eval-opponents`` not yet handed out (``matches``)."""
        self.last_evaluated = -1
        """The env steps of the latest finished evaluation (-1: none yet)."""
        self.longest_seconds = 0.0

    def _after(self, env_steps: int) -> int:
        every = self.cfg.every_env_steps
        return (env_steps // every + 1) * every

    # ----- extension hooks -----

    def start(self, saved: Mapping[str, Any] | None) -> None:
        if saved:
            self.next_env_steps = int(saved.get("next_env_steps", self.next_env_steps))
            self.warned_metric = bool(saved.get("warned_metric", False))
            self.last_evaluated = int(saved.get("last_evaluated", -1))

    def housekeeping(self, env_steps: int) -> Sequence[int]:
        """Ask for an evaluation when one is due and none is in flight; take finished reports."""
        if self.in_flight is None and env_steps >= self.next_env_steps:
            self.request(env_steps)
        for report in self.runner.poll():
            self.take(report)
        return ()

    def matches(self) -> Sequence[Match]:
        """The games of the evaluations taken since the last call (against ``--eval-opponents``)."""
        out, self.played = self.played, []
        return out

    def report_now(self) -> bool:
        """An evaluation finished: report it at once (each evaluation gets its own report)."""
        return bool(self.unreported)

    def scalars(self) -> dict[str, float]:
        """The oldest unreported evaluation's ``eval/...`` keys, once (each evaluation gets a report of its
        own: ``report_now`` stays true while some are left)."""
        return self.unreported.pop(0) if self.unreported else {}

    def state_dict(self) -> dict[str, Any]:
        return {
            "next_env_steps": self.next_env_steps,
            "warned_metric": self.warned_metric,
            "last_evaluated": self.last_evaluated,
        }

    def finish(self, env_steps: int) -> None:
        """The evaluation in flight, then one of the final weights (see the module docstring)."""
        if self.in_flight is not None:
            self._wait("the evaluation in flight")
        if self.in_flight is None and self.last_evaluated < env_steps:
            self.request(env_steps)
            self._wait("the final evaluation")

    def _wait(self, what: str) -> None:
        timeout = max(FINAL_WAIT_SECONDS, FINAL_WAIT_FACTOR * self.longest_seconds)
        for report in self.runner.wait(timeout):
            self.take(report)
        if self.in_flight is not None:
            log.warning("%s did not finish within %.0f s; the run ends without it", what, timeout)

    def close(self) -> None:
        self.runner.close()

    # ----- evaluations -----

    def request(self, env_steps: int) -> None:
        """Copy every policy's learner state, publish its weights to the evaluator, ask for an evaluation."""
        self.in_flight = {}
        for policy in self.policies.all():
            state = copy.deepcopy(policy.learner.state_dict())
            self.in_flight[policy.id] = state
            self.weights[policy.id].publish(state["model"], policy.version)
        self.next_env_steps = self._after(env_steps)
        self.runner.submit(EvalRequest(env_steps))

    def take(self, report: EvalReport) -> None:
        """Report keys, a log line, and each policy's score for its best file."""
        states, self.in_flight = self.in_flight or {}, None
        self.evaluations += 1
        self.last_evaluated = report.env_steps
        self.longest_seconds = max(self.longest_seconds, report.seconds)
        several = len(self.policies) > 1
        out = {"eval/env_steps": float(report.env_steps), "eval/seconds": report.seconds}
        name = metric_name(self.best_metric)
        missing = []
        for k, metrics in report.metrics.items():
            prefix = f"eval/policy_{k}/" if several else "eval/"
            out.update({prefix + key: value for key, value in metrics.items()})
            score = metrics.get(name)
            if score is None:
                missing.append(k)
            else:
                self.checkpointer.save_best_if(self.policies[k], score, self.best_metric, states.get(k))
        self.unreported.append(out)
        for k, games in report.games.items():
            self.played += [Match(policy_id(k), player, score) for player, scores in games.items() for score in scores]
        first = report.metrics[min(report.metrics)]
        log.info(
            "evaluation at %d env steps (policy version %d): return %.3f (min %.3f, max %.3f), length %.1f, %.1f s",
            report.env_steps,
            int(first["policy_version"]),
            first["reward"],
            first["reward_min"],
            first["reward_max"],
            first["length"],
            report.seconds,
        )
        if missing and not self.warned_metric:
            self.warned_metric = True
            keys = sorted("eval/" + key for key in first if key != "policy_version")
            log.warning(
                "--best-metric %s: no evaluation episode reports it, so no best file is written from evaluation; "
                "the evaluation reports %s.",
                self.best_metric,
                ", ".join(keys),
            )
