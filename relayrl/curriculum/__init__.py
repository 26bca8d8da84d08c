"""Curriculum learning: wrappers that move an env through levels, by training progress
(``ProgressCurriculum``), by this env instance's recent performance (``PerformanceCurriculum``) or
by the performance of all envs together (``GlobalPerformanceCurriculum``); and task curricula that
choose each episode's task from a ``TaskSpace`` (level seeds or settings dicts): ``PrioritizedLevelReplay``
and ``LearningProgressCurriculum``, handing the task to the env through its ``set_task(task)`` method
or ``training_info["task"]``. Their state is saved with checkpoints and restored on resume. Guide:
docs/curriculum.md.
"""

from relayrl.curriculum.base import Curriculum, LevelSetter
from relayrl.curriculum.learning_progress import LearningProgressCurriculum
from relayrl.curriculum.performance import GlobalPerformanceCurriculum, PerformanceCurriculum
from relayrl.curriculum.progress import ProgressCurriculum
from relayrl.curriculum.state import WorkerCurricula, batch_curricula, find_curriculum
from relayrl.curriculum.tasks import PrioritizedLevelReplay, TaskCurriculum, TaskSpace
from relayrl.curriculum.testing import GoalDistanceEnv

__all__ = [
    "Curriculum",
    "GlobalPerformanceCurriculum",
    "GoalDistanceEnv",
    "LearningProgressCurriculum",
    "LevelSetter",
    "PerformanceCurriculum",
    "PrioritizedLevelReplay",
    "ProgressCurriculum",
    "TaskCurriculum",
    "TaskSpace",
    "WorkerCurricula",
    "batch_curricula",
    "find_curriculum",
]
