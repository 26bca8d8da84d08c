"""Curriculum learning: wrappers that move an env through levels, by training progress
(``ProgressCurriculum``), by this env instance's recent performance (``PerformanceCurriculum``) or
by the performance of all envs together (``GlobalPerformanceCurriculum``). Their state is saved with
checkpoints and restored on resume. Guide: docs/curriculum.md.
"""

from relayrl.curriculum.base import Curriculum, LevelSetter
from relayrl.curriculum.performance import GlobalPerformanceCurriculum, PerformanceCurriculum
from relayrl.curriculum.progress import ProgressCurriculum
from relayrl.curriculum.state import WorkerCurricula, batch_curricula, find_curriculum
from relayrl.curriculum.testing import GoalDistanceEnv

__all__ = [
    "Curriculum",
    "GlobalPerformanceCurriculum",
    "GoalDistanceEnv",
    "LevelSetter",
    "PerformanceCurriculum",
    "ProgressCurriculum",
    "WorkerCurricula",
    "batch_curricula",
    "find_curriculum",
]
