"""``PBTConfig``: the population-based training settings (docs/pbt.md), one docstring per field."""

from __future__ import annotations

import dataclasses

from relayrl.config_groups import JsonDict

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

    pbt: bool = False
    """Population-based training: periodically, the worst policies copy a better one (weights,
    optimizer, normalizers) and mutate its hyperparameters and env-side parameters. Needs
    ``--num-policies`` >= 2."""

    pbt_period_env_steps: int = 1_000_000
    """A policy is ranked (and may copy and mutate) every this many of its own env steps."""

    pbt_start_env_steps: int = 2_000_000
    """No policy is ranked before it has taken this many env steps."""

    pbt_objective: str = "reward"
    """What policies are ranked by: ``reward`` (windowed mean episode return) or the name of an
    ``episode_extra_stats`` key (e.g. ``true_objective``, ``success``; its windowed mean)."""

    pbt_replace_fraction: float = 0.3
    """The bottom fraction of the ranking copies from a random policy of the top fraction (same size)."""

    pbt_replace_threshold_rel: float = 0.05
    """Copy only when the better policy's objective exceeds the copier's by this fraction of its magnitude."""

    pbt_replace_threshold_abs: float = 0.0
    """...and by at least this much in absolute terms."""

    pbt_mutation_rate: float = 0.15
    """Probability that each parameter is mutated when a policy mutates."""

    pbt_perturb_factor: float = 1.2
    """A mutated hyperparameter or reward-shaping leaf is multiplied or divided by this (gamma: its
    ``1 - gamma``); a declared env parameter moves up or down by ``(factor - 1)`` times its range."""

    pbt_mutate_gamma: bool = False
    """Also mutate the discount factor."""

    pbt_mutate_reward_shaping: bool = True
    """Mutate the numeric leaves of the policy's reward-shaping dict (``--reward-shaping``)."""

    pbt_bounds: JsonDict = dataclasses.field(default_factory=dict)
    """Clamp ranges of mutated hyperparameters, e.g. ``'{"lr": [1e-5, 1e-3]}'`` (defaults: lr
    [1e-6, 1e-2], ent_coef [0, 0.1], clip_coef [0.05, 0.5], vf_coef [0.05, 2], gamma [0.9, 0.9999])."""

    pbt_env_params: JsonDict = dataclasses.field(default_factory=dict)
    """Env-side parameters to mutate, each with its range and optionally its start value:
    ``'{"difficulty": [0.0, 1.0], "threshold": [0.5, 0.95, 0.8]}'``. Delivered per policy as
    ``training_info["env_params"]`` (start value: the middle of the range unless given)."""

    @property
    def bounds(self) -> dict[str, tuple[float, float]]:
        """The clamp range of every hyperparameter (defaults overridden by ``pbt_bounds``)."""
        out = dict(DEFAULT_BOUNDS)
        out.update({k: (float(v[0]), float(v[1])) for k, v in self.pbt_bounds.items()})
        return out

    @property
    def mutated_hyperparameters(self) -> tuple[str, ...]:
        return HYPERPARAMETERS if self.pbt_mutate_gamma else HYPERPARAMETERS[:-1]
