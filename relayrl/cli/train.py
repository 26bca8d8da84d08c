"""``relayrl train``: parse the flags into a ``Config``, train, print where the results are."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING

from relayrl.trainer import sources
from relayrl.trainer.sources import layout
from relayrl.utils import startup
from relayrl.utils.logs import setup_logging

if TYPE_CHECKING:
    from relayrl.config import Config
    from relayrl.trainer.trainer import TrainSummary

PROG = "relayrl"
FLAG_DEFAULTS = {"--backend": "auto", "--device": "cpu"}
"""The defaults of the flags read before parsing (``SamplingConfig.backend``, ``Config.device``), known
here without importing the config (tests/test_startup.py checks that they agree)."""


def parse_train_args(argv: Sequence[str]) -> Config:
    """``relayrl train`` flags -> Config (every nested field is a flat flag). With ``--preset NAME``
    the flags are parsed over the preset's defaults, so explicit flags win over the preset."""
    from relayrl.cli.parsing import parse
    from relayrl.config import Config
    from relayrl.presets import preset_defaults, preset_name_in

    return parse(Config, argv, "train", default=preset_defaults(preset_name_in(argv)))


def flags_before_parsing(argv: Sequence[str]) -> dict[str, str] | None:
    """``--backend`` and ``--device`` as ``argv`` gives them (the last of each, else the default), read
    without the parser (which imports tyro and the config: ~0.15 s); None with ``--help`` (nothing
    will run). Only for starting the workers early: the parsed config decides."""
    if "-h" in argv or "--help" in argv:
        return None
    flags = dict(FLAG_DEFAULTS)
    for i, arg in enumerate(argv):
        name, eq, value = arg.partition("=")
        if name in flags and (eq or i + 1 < len(argv)):
            flags[name] = value if eq else argv[i + 1]
    return flags


def best_policy(rewards: dict[int, float | None]) -> int | None:
    """The policy with the highest windowed mean return (None when no policy finished an episode)."""
    known = {k: r for k, r in rewards.items() if r is not None}
    return max(known, key=lambda k: (known[k], -k)) if known else None


def _reward_text(reward: float | None) -> str:
    return "n/a (no finished episode)" if reward is None else f"{reward:.3f}"


def format_summary(cfg: Config, summary: TrainSummary) -> str:
    """The block printed after training: numbers, paths and the commands to look at the result. With
    several policies: each policy's mean return, the best one named, and the evaluate command plays it."""
    enjoy_cmd = f"{PROG} enjoy --experiment {shlex.quote(cfg.experiment_name)} --train-dir {shlex.quote(cfg.train_dir)}"
    reward_lines = [f"mean reward:     {_reward_text(summary.stats.get('reward_mean'))}"]
    if len(summary.policy_rewards) > 1:
        best = best_policy(summary.policy_rewards)
        per_policy = "   ".join(f"{k}: {_reward_text(r)}" for k, r in sorted(summary.policy_rewards.items()))
        reward_lines = [f"mean reward:     per policy   {per_policy}"]
        if best is not None:
            reward_lines.append(f"best policy:     {best} (mean reward {_reward_text(summary.policy_rewards[best])})")
        enjoy_cmd += f" --policy {0 if best is None else best}"
    return "\n".join(
        [
            f"env steps:       {summary.env_steps}",
            f"wall time:       {summary.wall_seconds:.1f} s",
            f"fps:             {summary.fps:.0f}",
            *reward_lines,
            f"experiment dir:  {summary.experiment_dir}",
            f"checkpoint:      {summary.checkpoint or 'none written'}",
            f"tensorboard:     tensorboard --logdir {shlex.quote(cfg.train_dir)}",
            f"evaluate:        {enjoy_cmd}",
        ]
    )


def run(argv: Sequence[str]) -> int:
    # The early start (e.g. the local worker processes' imports, beside this process's own) comes before
    # the parsing, from the flags read without it; with --backend auto, on one look at the machine (taken
    # before any worker process runs) that decides again once the flags are parsed.
    flags = flags_before_parsing(argv)
    seen = None
    if flags is not None:
        if flags["--backend"] == "auto":
            seen = layout.measure()
        sources.start_early(layout.backend_for(flags["--backend"], flags["--device"], seen))
    cfg = parse_train_args(argv)
    startup.mark("config")
    setup_logging("main")
    cfg = layout.resolve(cfg, seen)
    sources.start_early(sources.backend_name(cfg))  # a no-op when started above already
    from relayrl.trainer.trainer import train  # torch: imported while the forkserver imports it too

    summary = train(cfg)
    print(format_summary(cfg, summary))
    return 0
