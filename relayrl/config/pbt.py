"""``PBTConfig``: the population-based training settings (docs/pbt.md), one docstring per field."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

from relayrl.config.groups import JsonDict, flag
from relayrl.errors import ConfigError, require

if TYPE_CHECKING:
    from relayrl.config import Config

HYPERPARAMETERS = ("lr", "ent_coef", "clip_coef", "vf_coef", "gamma")
"""The learner settings PBT may mutate (names of ``AlgorithmConfig`` fields)."""

DEFAULT_BOUNDS: dict[str, tuple[float, float]] = {
    "lr": (1e-6, 1e-2),
    "ent_coef": (0.0, 0.1),
    "clip_coef": (0.05, 0.5),
    "vf_coef": (0.05, 2.0),
    "gamma": (0.9, 0.9999),
}
"""Where a mutated hyperparameter is clamped unless ``--pbt-bounds`` says otherwise."""

HARD_LIMITS: dict[str, tuple[float, float]] = {
    "lr": (0.0, float("inf")),
    "ent_coef": (0.0, float("inf")),
    "clip_coef": (0.0, float("inf")),
    "vf_coef": (0.0, float("inf")),
    "gamma": (0.0, 1.0),
}
"""The values a hyperparameter can take at all; ``--pbt-bounds`` outside them is refused (exit 2)."""


@dataclasses.dataclass(frozen=True)
class PBTConfig:
    """Population-based training over ``--num-policies`` policies (docs/pbt.md)."""

    enabled: Annotated[bool, flag("pbt")] = False
    """Population-based training: periodically, the worst policies copy a better one (weights,
    optimizer, normalizers) and mutate its hyperparameters and env-side parameters. Needs
    ``--num-policies`` >= 2."""

    period_env_steps: Annotated[int, flag("pbt-period-env-steps")] = 1_000_000
    """A policy is ranked (and may copy and mutate) every this many of its own env steps."""

    start_env_steps: Annotated[int, flag("pbt-start-env-steps")] = 2_000_000
    """No policy is ranked before it has taken this many env steps."""

    objective: Annotated[str, flag("pbt-objective")] = "reward"
    """What policies are ranked by: ``reward`` (windowed mean episode return) or the name of an
    ``episode_extra_stats`` key (e.g. ``true_objective``, ``success``; its windowed mean)."""

    replace_fraction: Annotated[float, flag("pbt-replace-fraction")] = 0.3
    """The bottom fraction of the ranking copies from a random policy of the top fraction (same size)."""

    replace_threshold_rel: Annotated[float, flag("pbt-replace-threshold-rel")] = 0.05
    """Copy only when the better policy's objective exceeds the copier's by this fraction of its magnitude."""

    replace_threshold_abs: Annotated[float, flag("pbt-replace-threshold-abs")] = 0.0
    """...and by at least this much in absolute terms."""

    mutation_rate: Annotated[float, flag("pbt-mutation-rate")] = 0.15
    """Probability that each parameter is mutated when a policy mutates."""

    perturb_factor: Annotated[float, flag("pbt-perturb-factor")] = 1.2
    """A mutated hyperparameter or reward-shaping leaf is multiplied or divided by this (gamma: its
    ``1 - gamma``); a declared env parameter moves up or down by ``(factor - 1)`` times its range."""

    mutate_gamma: Annotated[bool, flag("pbt-mutate-gamma")] = False
    """Also mutate the discount factor."""

    mutate_reward_shaping: Annotated[bool, flag("pbt-mutate-reward-shaping")] = True
    """Mutate the numeric leaves of the policy's reward-shaping dict (``--reward-shaping``)."""

    bounds: Annotated[JsonDict, flag("pbt-bounds")] = dataclasses.field(default_factory=dict)
    """Clamp ranges of mutated hyperparameters, e.g. ``'{"lr": [1e-5, 1e-3]}'`` (defaults: lr
    [1e-6, 1e-2], ent_coef [0, 0.1], clip_coef [0.05, 0.5], vf_coef [0.05, 2], gamma [0.9, 0.9999])."""

    env_params: Annotated[JsonDict, flag("pbt-env-params")] = dataclasses.field(default_factory=dict)
    """Env-side parameters to mutate, each with its range and optionally its start value:
    ``'{"difficulty": [0.0, 1.0], "threshold": [0.5, 0.95, 0.8]}'``. Delivered per policy as
    ``training_info["env_params"]`` (start value: the middle of the range unless given)."""

    @property
    def clamp_ranges(self) -> dict[str, tuple[float, float]]:
        """The clamp range of every hyperparameter (defaults overridden by ``--pbt-bounds``)."""
        out = dict(DEFAULT_BOUNDS)
        out.update({k: (float(v[0]), float(v[1])) for k, v in self.bounds.items()})
        return out

    @property
    def mutated_hyperparameters(self) -> tuple[str, ...]:
        return HYPERPARAMETERS if self.mutate_gamma else HYPERPARAMETERS[:-1]

    def validate(self, cfg: Config) -> None:
        """The PBT flags other than ``--pbt`` are checked only when it is on."""
        if not self.enabled:
            return
        n = cfg.multi_agent.num_policies
        require(n >= 2, f"--pbt needs a population: --num-policies 2 or more (got {n}); e.g. --pbt --num-policies 4.")
        require(self.period_env_steps > 0, f"--pbt-period-env-steps must be > 0 (got {self.period_env_steps}).")
        require(self.start_env_steps >= 0, f"--pbt-start-env-steps must be >= 0 (got {self.start_env_steps}).")
        require(bool(self.objective), "--pbt-objective is empty: give 'reward' or an episode_extra_stats key.")
        require(
            0.0 < self.replace_fraction <= 0.5,
            f"--pbt-replace-fraction must be in (0, 0.5] (got {self.replace_fraction}).",
        )
        require(
            self.replace_threshold_rel >= 0 and self.replace_threshold_abs >= 0,
            "--pbt-replace-threshold-rel and --pbt-replace-threshold-abs must be >= 0.",
        )
        require(0.0 <= self.mutation_rate <= 1.0, f"--pbt-mutation-rate must be in [0, 1] (got {self.mutation_rate}).")
        require(self.perturb_factor > 1.0, f"--pbt-perturb-factor must be > 1 (got {self.perturb_factor}).")
        for name, spec in self.bounds.items():
            require(
                name in HYPERPARAMETERS,
                f"--pbt-bounds: {name!r} is not a mutated hyperparameter; choose from {', '.join(HYPERPARAMETERS)}.",
            )
            require(
                isinstance(spec, list | tuple) and len(spec) == 2 and all(isinstance(v, int | float) for v in spec),
                f"--pbt-bounds: {name!r} needs [low, high] (got {spec!r}).",
            )
            low, high = float(spec[0]), float(spec[1])
            hard_low, hard_high = HARD_LIMITS[name]
            require(
                hard_low <= low < high <= hard_high,
                f"--pbt-bounds: {name} [{low}, {high}] would allow invalid values; it must lie within "
                f"[{hard_low}, {hard_high}] with low < high.",
            )
        parse_env_params(self.env_params)  # a parameter without a range: ConfigError


@dataclasses.dataclass(frozen=True)
class EnvParamRange:
    """A declared env-side parameter: its range and start value."""

    low: float
    high: float
    start: float


def parse_env_params(declared: Mapping[str, Any]) -> dict[str, EnvParamRange]:
    """``{"name": [low, high]}`` or ``{"name": [low, high, start]}`` -> ranges; ConfigError (exit 2)
    for a parameter without a valid range."""
    out = {}
    for name, spec in declared.items():
        example = f"--pbt-env-params '{{\"{name}\": [0.0, 1.0]}}'"
        if not isinstance(spec, list | tuple) or len(spec) not in (2, 3):
            raise ConfigError(
                f"--pbt-env-params: parameter {name!r} has no range ({spec!r}); declare it as [low, high] or "
                f"[low, high, start], e.g. {example}."
            )
        if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in spec):
            raise ConfigError(f"--pbt-env-params: the range of {name!r} must be finite numbers (got {spec!r}).")
        low, high = float(spec[0]), float(spec[1])
        if not low < high:
            raise ConfigError(f"--pbt-env-params: {name!r} needs low < high (got {spec!r}).")
        start = float(spec[2]) if len(spec) == 3 else (low + high) / 2
        if not low <= start <= high:
            raise ConfigError(f"--pbt-env-params: the start value of {name!r} is outside [{low}, {high}].")
        out[str(name)] = EnvParamRange(low, high, start)
    return out
