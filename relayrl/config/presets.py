"""Named sets of defaults for a family of tasks (``--preset NAME``).

A preset changes only defaults: ``relayrl train --preset mujoco --lr 1e-4`` trains with the preset's
values except the learning rate. The command line gets this exactly by parsing the flags over the
preset's config (``preset_defaults``); in Python, ``preset_config("mujoco", env=..., lr=...)``
starts from the preset and applies the changes. The preset's name is recorded in ``Config.preset``
and the resolved values in config.json, so a resumed run and ``relayrl enjoy`` use them.

This module holds the presets' values (plain data); ``relayrl.presets`` builds configs from them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from relayrl.errors import ConfigError

MUJOCO: dict[str, Any] = {
    # separate actor and critic MLPs, 64x64 tanh (relayrl's default; the Zoo's 256x256 ReLU costs about
    # 16x the learner time per sample, which the 1/5-of-SB3 wall-time target cannot afford on 2 cores)
    "model__hidden_sizes": (64, 64),
    "model__activation": "tanh",
    # state-independent log-std starting at -1 (std 0.37) instead of 0 (std 1). HalfCheetah, seed 1, this
    # preset otherwise: -1 reached 6,008, -0.5 3,168; Hopper the other way round: 2,372 and 3,548
    # (docs/benchmarks.md, "MuJoCo"). The Zoo's tuned entries use -2.
    "model__log_std_init": -1.0,
    # 2 workers x 16 envs x 64 steps = batches of 2,048 (with the default worker count on 2 cores)
    "sampling__rollout_length": 64,
    # 10 epochs of 8 minibatches (256 samples at 2,048): 40 gradient steps per 1,000 env steps
    "algorithm__num_epochs": 10,
    "algorithm__num_minibatches": 8,
    "algorithm__lr": 3e-4,
    "algorithm__lr_schedule": "linear",
    "algorithm__gamma": 0.99,
    "algorithm__gae_lambda": 0.95,
    # actions are sampled unsquashed and clipped to the bounds by the env side (log-probs of the
    # unclipped sample), as in SB3 and the Zoo
    "algorithm__clip_coef": 0.2,
    # plain per-minibatch advantage normalization, as SB3 and the Zoo: the floor (0.1 x the std of the
    # returns) is for sparse rewards before their first successes (not measured apart on MuJoCo)
    "algorithm__advantage_std_floor": 0.0,
    "train_for_env_steps": 1_000_000,
    # best.pt chosen by 10 deterministic episodes every 50k env steps (docs/evaluation.md), not by the
    # stochastic training return, which picked checkpoints far below the final one on Hopper and Walker2d
    "evaluation__every_env_steps": 50_000,
    "evaluation__episodes": 10,
}
"""Continuous control (MuJoCo locomotion: HalfCheetah, Hopper, Walker2d, Ant), tuned at 1M env steps
(docs/benchmarks.md, "MuJoCo"). Observation normalization and value targets normalized by the
running return statistics stay on (relayrl's defaults)."""

PRESETS: dict[str, dict[str, Any]] = {"mujoco": MUJOCO}
"""Preset name -> ``replace`` changes (``group__field=value``) applied to the plain defaults."""


def known() -> list[str]:
    """The preset names, sorted."""
    return sorted(PRESETS)


def changes(name: str) -> dict[str, Any]:
    """The ``replace`` changes of preset ``name``; ConfigError naming the known presets otherwise."""
    if name not in PRESETS:
        raise ConfigError(f"--preset {name!r} is not a known preset; choose from {', '.join(known())}.")
    return dict(PRESETS[name])


def preset_name_in(argv: Sequence[str]) -> str | None:
    """The value of the last ``--preset NAME`` / ``--preset=NAME`` in ``argv`` (None when absent)."""
    name: str | None = None
    args = list(argv)
    for i, arg in enumerate(args):
        if arg == "--preset" and i + 1 < len(args):
            name = args[i + 1]
        elif arg.startswith("--preset="):
            name = arg.split("=", 1)[1]
    return name
