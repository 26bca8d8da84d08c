"""``validate_pbt(cfg)``: the PBT settings and their combination with the rest, refused before training (exit 2)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from relayrl.errors import ConfigError
from relayrl.pbt.config import HARD_LIMITS, HYPERPARAMETERS
from relayrl.pbt.mutation import parse_env_params

if TYPE_CHECKING:
    from relayrl.config import Config


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def validate_pbt(cfg: Config) -> None:
    """Reject bad PBT settings with a message that says what to change. The PBT flags other than
    ``--pbt`` are checked only when it is on."""
    p = cfg.pbt
    if not p.pbt:
        return
    n = cfg.multi_agent.num_policies
    _require(n >= 2, f"--pbt needs a population: --num-policies 2 or more (got {n}); e.g. --pbt --num-policies 4.")
    _require(not cfg.multi_agent.self_play, "--pbt and --self-play cannot be combined; drop one of them.")
    _require(p.pbt_period_env_steps > 0, f"--pbt-period-env-steps must be > 0 (got {p.pbt_period_env_steps}).")
    _require(p.pbt_start_env_steps >= 0, f"--pbt-start-env-steps must be >= 0 (got {p.pbt_start_env_steps}).")
    _require(bool(p.pbt_objective), "--pbt-objective is empty: give 'reward' or an episode_extra_stats key.")
    _require(
        0.0 < p.pbt_replace_fraction <= 0.5,
        f"--pbt-replace-fraction must be in (0, 0.5] (got {p.pbt_replace_fraction}).",
    )
    _require(
        p.pbt_replace_threshold_rel >= 0 and p.pbt_replace_threshold_abs >= 0,
        "--pbt-replace-threshold-rel and --pbt-replace-threshold-abs must be >= 0.",
    )
    _require(0.0 <= p.pbt_mutation_rate <= 1.0, f"--pbt-mutation-rate must be in [0, 1] (got {p.pbt_mutation_rate}).")
    _require(p.pbt_perturb_factor > 1.0, f"--pbt-perturb-factor must be > 1 (got {p.pbt_perturb_factor}).")
    for name, spec in p.pbt_bounds.items():
        _require(
            name in HYPERPARAMETERS,
            f"--pbt-bounds: {name!r} is not a mutated hyperparameter; choose from {', '.join(HYPERPARAMETERS)}.",
        )
        _require(
            isinstance(spec, list | tuple) and len(spec) == 2 and all(isinstance(v, int | float) for v in spec),
            f"--pbt-bounds: {name!r} needs [low, high] (got {spec!r}).",
        )
        low, high = float(spec[0]), float(spec[1])
        hard_low, hard_high = HARD_LIMITS[name]
        _require(
            hard_low <= low < high <= hard_high,
            f"--pbt-bounds: {name} [{low}, {high}] would allow invalid values; it must lie within "
            f"[{hard_low}, {hard_high}] with low < high.",
        )
    parse_env_params(p.pbt_env_params)  # a parameter without a range: ConfigError
    _require(
        cfg.sampling.backend == "local" or cfg.serial,
        "--pbt runs on --backend local (or --serial) only, as several policies do; drop --backend ray.",
    )
