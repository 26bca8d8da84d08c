"""``EvaluationConfig``: evaluation during training and the metric that picks ``best.pt`` (docs/evaluation.md)."""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Annotated

from relayrl.config.groups import JsonDict, check_json_object, flag
from relayrl.errors import require

if TYPE_CHECKING:
    from relayrl.config import Config

STAT_METRICS = ("reward", "reward_min", "reward_max", "length")
"""``eval/<name>`` keys of every evaluation (``reward``: the mean return)."""


def opponent_name(spec: str) -> str:
    """The name of an ``--eval-opponents`` entry in report keys: ``policy:1`` -> ``policy_1``,
    ``pkg.bots:bot_4`` -> ``bot_4``."""
    if spec.startswith("policy:"):
        return "policy_" + spec.split(":", 1)[1]
    return spec.rsplit(":", 1)[-1].rsplit(".", 1)[-1]


@dataclasses.dataclass(frozen=True)
class EvaluationConfig:
    """Evaluation during training, in a process of its own (docs/evaluation.md)."""

    every_env_steps: Annotated[int, flag("eval-every-env-steps")] = 0
    """Evaluate the latest weights every this many env steps (0: no evaluation). The evaluation runs
    in a process of its own (``--backend local``), a Ray actor on the trainer's node (``--backend ray``)
    or between updates (``--backend serial``), reports
    ``eval/...`` keys, and ``best.pt`` is then chosen by ``--best-metric``."""

    episodes: Annotated[int, flag("eval-episodes")] = 10
    """Episodes per evaluation (episode i resets with the same seed at every evaluation)."""

    eval_env_kwargs: JsonDict = dataclasses.field(default_factory=dict)
    """Merged over --env-kwargs for the evaluation env (a JSON object): held-out settings, such as
    the top curriculum level, unseen level seeds or another map."""

    deterministic: Annotated[bool, flag("eval-deterministic")] = True
    """Evaluate the most likely action instead of sampling from the policy."""

    opponents: Annotated[str, flag("eval-opponents")] = ""
    """Multi-agent envs: a comma list of opponents that the evaluated policy plays, each for
    ``--eval-episodes`` episodes: ``package.module:function`` (a scripted ``function(obs) -> action``)
    or ``policy:J`` (policy J of this run). Reported as ``eval/vs/<name>/win_rate``."""

    niceness: Annotated[int, flag("eval-niceness")] = 19
    """How much lower the evaluator's CPU priority is than the trainer's (``nice``, 0-19). At 19 it takes
    only idle CPU time; on a machine whose cores training fills, its results may then come back rarely:
    lower it to share the CPU with training (training then runs slower)."""

    best_metric: Annotated[str | None, flag("best-metric")] = None
    """The evaluation key that picks ``best.pt`` (higher is better): ``eval/reward`` (default),
    ``eval/length``, ``eval/episode_extra_stats/<key>`` (its mean) or ``eval/vs/<name>/win_rate``.
    Default under ``--pbt``: the evaluated ``--pbt-objective``. Needs ``--eval-every-env-steps``."""

    @property
    def enabled(self) -> bool:
        return self.every_env_steps > 0

    @property
    def opponent_specs(self) -> tuple[str, ...]:
        """The ``--eval-opponents`` entries, in order."""
        return tuple(s.strip() for s in self.opponents.split(",") if s.strip())

    def best_metric_key(self, cfg: Config) -> str:
        """The key that picks the best files: ``--best-metric``, else the evaluated ``--pbt-objective``
        under ``--pbt``, else ``eval/reward``."""
        if self.best_metric is not None:
            return self.best_metric
        if cfg.pbt.enabled and cfg.pbt.objective != "reward":
            return f"eval/episode_extra_stats/{cfg.pbt.objective}"
        return "eval/reward"

    def validate(self, cfg: Config) -> None:
        require(self.every_env_steps >= 0, f"--eval-every-env-steps must be >= 0 (0: off; got {self.every_env_steps}).")
        require(self.episodes >= 1, f"--eval-episodes must be >= 1 (got {self.episodes}).")
        require(0 <= self.niceness <= 19, f"--eval-niceness must be in 0..19 (got {self.niceness}).")
        check_json_object(self.eval_env_kwargs, "--eval-env-kwargs", '{"level": 4}')
        if not self.enabled:
            for name, given in (("--eval-opponents", bool(self.opponents)), ("--best-metric", self.best_metric)):
                require(not given, f"{name} needs evaluation: give --eval-every-env-steps N (N > 0).")
            return
        names = [opponent_name(spec) for spec in self.opponent_specs]
        for spec in self.opponent_specs:
            if spec.startswith("policy:"):
                j = spec.split(":", 1)[1]
                n = cfg.multi_agent.num_policies
                require(j.isdigit() and int(j) < n, f"--eval-opponents {spec}: give policy:J with J in 0..{n - 1}.")
            else:
                require(
                    ":" in spec,
                    f"--eval-opponents {spec!r}: give policy:J or a scripted opponent as package.module:function "
                    "(e.g. relayrl.envs.coin_duel:bot_4).",
                )
        dupes = sorted({n for n in names if names.count(n) > 1})
        require(not dupes, f"--eval-opponents names {', '.join(dupes)} twice; give each opponent once.")
        self._check_metric(names)

    def _check_metric(self, opponent_names: list[str]) -> None:
        metric = self.best_metric
        if metric is None:
            return
        ok = metric in {f"eval/{m}" for m in STAT_METRICS}
        ok = ok or re.fullmatch(r"eval/episode_extra_stats/.+", metric) is not None
        vs = re.fullmatch(r"eval/vs/(.+)/win_rate", metric)
        ok = ok or (vs is not None and vs.group(1) in opponent_names)
        require(
            ok,
            f"--best-metric {metric!r} is not an evaluation key; give eval/reward, eval/length, "
            "eval/episode_extra_stats/<key> or eval/vs/<opponent>/win_rate (an --eval-opponents name).",
        )
