"""``relayrl train``: parse the flags into a ``Config``, train, print where the results are."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING

from relayrl.cli.parsing import parse
from relayrl.config import Config
from relayrl.presets import preset_defaults, preset_name_in
from relayrl.trainer import sources
from relayrl.utils import startup

if TYPE_CHECKING:
    from relayrl.trainer.trainer import TrainSummary

PROG = "relayrl"


def parse_train_args(argv: Sequence[str]) -> Config:
    """``relayrl train`` flags -> Config (every nested field is a flat flag). With ``--preset NAME``
    the flags are parsed over the preset's defaults, so explicit flags win over the preset."""
    return parse(Config, argv, "train", default=preset_defaults(preset_name_in(argv)))


def format_summary(cfg: Config, summary: TrainSummary) -> str:
    """The block printed after training: numbers, paths and the commands to look at the result."""
    reward = summary.stats.get("reward_mean")
    reward_text = "n/a (no finished episode)" if reward is None else f"{reward:.3f}"
    enjoy_cmd = f"{PROG} enjoy --experiment {shlex.quote(cfg.experiment_name)} --train-dir {shlex.quote(cfg.train_dir)}"
    return "\n".join(
        [
            f"env steps:       {summary.env_steps}",
            f"wall time:       {summary.wall_seconds:.1f} s",
            f"fps:             {summary.fps:.0f}",
            f"mean reward:     {reward_text}",
            f"experiment dir:  {summary.experiment_dir}",
            f"checkpoint:      {summary.checkpoint or 'none written'}",
            f"tensorboard:     tensorboard --logdir {shlex.quote(cfg.train_dir)}",
            f"evaluate:        {enjoy_cmd}",
        ]
    )


def run(argv: Sequence[str]) -> int:
    cfg = parse_train_args(argv)
    startup.mark("config")
    sources.start_early(cfg)  # e.g. local worker processes' imports start now, beside this process's own
    from relayrl.trainer.trainer import train  # torch: imported while the forkserver imports it too

    summary = train(cfg)
    print(format_summary(cfg, summary))
    return 0
