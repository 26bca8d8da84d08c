"""Running a trained policy outside training: episodes with returns, extra stats and video
(``episodes.py``), and multi-agent matches against another policy or a scripted opponent (``matches.py``).
Used by ``relayrl enjoy`` and ``relayrl export``."""

from relayrl.evaluation.episodes import (
    EvalResult,
    VideoWriter,
    env_action,
    evaluate,
    policy_from_checkpoint,
    policy_from_spaces,
)

__all__ = ["EvalResult", "VideoWriter", "env_action", "evaluate", "policy_from_checkpoint", "policy_from_spaces"]
