"""``LearningProgressCurriculum``: tasks whose success rate changes fastest are played most
(Kanitscheider et al. 2021; Portelas et al. 2020), per env instance or for all envs together."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

import gymnasium as gym
import numpy as np

from relayrl.curriculum.base import log
from relayrl.curriculum.task_math import learning_progress_distribution
from relayrl.curriculum.tasks import Task, TaskSetter, TaskSpace, TrainerTaskCurriculum
from relayrl.envs.episode_stats import flatten_extra_stats

DEFAULT_FAST = 0.1
DEFAULT_SLOW = 0.02
DEFAULT_FLOOR = 0.2


def check_rates(fast: float, slow: float, floor: float) -> None:
    """ValueError unless ``0 < slow < fast <= 1`` and ``0 <= floor <= 1``."""
    if not 0.0 < slow < fast <= 1.0:
        raise ValueError(f"need 0 < slow ({slow}) < fast ({fast}) <= 1")
    if not 0.0 <= floor <= 1.0:
        raise ValueError(f"floor must be in [0, 1], got {floor}")


class ProgressTable:
    """Fast and slow moving averages of each task's success (a task's first value sets both)."""

    def __init__(self, num_tasks: int, fast: float = DEFAULT_FAST, slow: float = DEFAULT_SLOW) -> None:
        self.fast_rate, self.slow_rate = fast, slow
        self.fast = np.zeros(num_tasks)
        self.slow = np.zeros(num_tasks)
        self.count = np.zeros(num_tasks, dtype=np.int64)

    def update(self, task: int, value: float) -> None:
        if self.count[task] == 0:
            self.fast[task] = self.slow[task] = value
        else:
            self.fast[task] += self.fast_rate * (value - self.fast[task])
            self.slow[task] += self.slow_rate * (value - self.slow[task])
        self.count[task] += 1

    def distribution(self, floor: float) -> np.ndarray:
        return learning_progress_distribution(self.fast, self.slow, floor)

    def state_dict(self) -> dict[str, Any]:
        return {"fast": self.fast.tolist(), "slow": self.slow.tolist(), "count": self.count.tolist()}

    def load(self, state: Mapping[str, Any]) -> None:
        """Restore ``state_dict()`` (a table of another size is ignored)."""
        if len(state.get("fast", ())) == len(self.fast):
            self.fast[:] = state["fast"]
            self.slow[:] = state["slow"]
            self.count[:] = state["count"]


class LearningProgressCurriculum(TrainerTaskCurriculum):
    """Tasks sampled by learning progress ``|fast - slow|`` of their success, with an exploration floor.

    Args:
        env, tasks, set_task, seed, name, eval_task: see ``TaskCurriculum``.
        success_key: the ``episode_extra_stats`` key (nested dicts flattened: ``"a/b"``) whose value is
            an episode's success; episodes without it are not counted (one warning).
        mode: ``"instance"``: this env's own moving averages (saved in its curriculum state);
            ``"global"``: the trainer's, over the episodes of all envs (needs ``--task-curriculum
            learning-progress``, which also sets the key, rates and floor there).
        fast, slow: the rates of the two exponential moving averages (``0 < slow < fast <= 1``).
        floor: the share of uniform sampling mixed in (every task keeps ``floor / n``).
    """

    kind = "learning_progress"

    def __init__(
        self,
        env: gym.Env,
        tasks: TaskSpace | Iterable[Task],
        success_key: str = "success",
        mode: Literal["instance", "global"] = "instance",
        fast: float = DEFAULT_FAST,
        slow: float = DEFAULT_SLOW,
        floor: float = DEFAULT_FLOOR,
        set_task: TaskSetter = "set_task",
        seed: int | None = None,
        name: str = "task",
        eval_task: int | None = None,
    ) -> None:
        super().__init__(env, tasks, set_task, seed, name, eval_task)
        if mode not in ("instance", "global"):
            raise ValueError(f"mode must be 'instance' or 'global', got {mode!r}")
        check_rates(fast, slow, floor)
        self.mode = mode
        self.success_key = success_key
        self.floor = floor
        self.table = ProgressTable(len(self.space), fast, slow)
        self._warned_key = False

    def sample_task(self) -> int:
        if self.mode == "global":
            return super().sample_task()
        probs = self.table.distribution(self.floor)
        return int(self.rng.choice(len(probs), p=probs))

    def episode_finished(self, episode_return: float, extra_stats: Any) -> None:
        if self.mode == "global":
            return  # the trainer's table counts it
        flat = flatten_extra_stats(extra_stats, lambda key, value: None) if isinstance(extra_stats, Mapping) else {}
        value = flat.get(self.success_key)
        if value is None:
            if not self._warned_key:
                self._warned_key = True
                log.warning(
                    "LearningProgressCurriculum: an episode did not report episode_extra_stats[%r]; such episodes "
                    "are not counted (reported keys: %s)",
                    self.success_key,
                    sorted(flat),
                )
            return
        self.table.update(int(self.episode_level), float(value))

    def get_state(self) -> dict[str, Any]:
        return {**super().get_state(), "progress": self.table.state_dict()}

    def set_state(self, state: Mapping[str, Any]) -> None:
        super().set_state(state)
        if "progress" in state:
            self.table.load(state["progress"])
