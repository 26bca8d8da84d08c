"""Task spaces and the curricula that choose a task per episode: ``TaskCurriculum`` (the base),
``PrioritizedLevelReplay`` (tasks from the trainer's level table, delivered in training info).

A task space is a finite list of tasks, each a level seed (an int) or a setting (a dict). A task
curriculum picks the index of the next episode's task at every reset and hands the task to the env
through one hook, before the env's own reset:

- ``set_task(task)``: a method of the unwrapped env (the default), or any ``set_task(env, task)``
  callable;
- ``training_info["task"]``: for an env without ``set_task`` that implements
  ``TrainingInfoInterface`` (it finds the task in its dict when its ``reset`` runs).

On the last step of each episode the wrapper puts ``info["relayrl_task"]`` (the task's index) so the
trainer can credit the episode to its task (docs/curriculum.md, "Task curricula").
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from relayrl import info_schema
from relayrl.curriculum.base import Curriculum, log
from relayrl.envs.info_interface import find_training_info_interface
from relayrl.errors import ConfigError

Task = int | Mapping[str, Any]


class TaskSpace:
    """A finite, ordered set of tasks: level seeds (ints) or settings (dicts). Index ``i`` names task
    ``tasks[i]`` in the trainer's table, in stats and in checkpoints."""

    def __init__(self, tasks: Iterable[Task]) -> None:
        """ConfigError (naming the argument) for an empty space or a task that is neither an int nor a dict."""
        self.tasks: tuple[Task, ...] = tuple(tasks)
        if not self.tasks:
            raise ConfigError(
                "tasks: the task space is empty; give level seeds (TaskSpace.seeds(200)) or a list of settings dicts."
            )
        for task in self.tasks:
            if isinstance(task, bool) or not isinstance(task, int | Mapping):
                raise ConfigError(f"tasks: {task!r} is not a task; give ints (level seeds) or dicts (settings).")

    @classmethod
    def seeds(cls, n: int, start: int = 0) -> TaskSpace:
        """Level seeds ``start .. start + n - 1``."""
        return cls(range(start, start + n))

    def __len__(self) -> int:
        return len(self.tasks)

    def __getitem__(self, index: int) -> Task:
        return self.tasks[index]


TaskSetter = Callable[[Any, Any], Any] | str | None


class TaskCurriculum(Curriculum):
    """Base class: a task per episode from a ``TaskSpace``; subclasses choose the index (``sample_task``).

    Args:
        env: the env to drive.
        tasks: a ``TaskSpace`` or anything it accepts (a list of seeds or dicts).
        set_task: ``"set_task"`` (default: a method of the unwrapped env), another method name, a
            ``set_task(env, task)`` callable, or None: deliver the task as ``training_info["task"]`` to
            the ``TrainingInfoInterface`` inside the env.
        seed: seeds the sampling RNG; by default seeded from the env's first seeded reset.
        name: the prefix of what it reports.
        eval_task: the task index of evaluation episodes (None: a uniformly drawn task).
    """

    def __init__(
        self,
        env: gym.Env,
        tasks: TaskSpace | Iterable[Task],
        set_task: TaskSetter = "set_task",
        seed: int | None = None,
        name: str = "task",
        eval_task: int | None = None,
    ) -> None:
        self.space = tasks if isinstance(tasks, TaskSpace) else TaskSpace(tasks)
        self._task_receiver = None
        self._current_task: Any = None
        if set_task is None or (set_task == "set_task" and not callable(getattr(env.unwrapped, "set_task", None))):
            self._task_receiver = find_training_info_interface(env)
            if self._task_receiver is None:
                raise ValueError(
                    f"{type(env.unwrapped).__name__} has no set_task(task) method and does not implement "
                    "TrainingInfoInterface; give set_task= or add one of them"
                )
            set_task = self._deliver_task
        super().__init__(env, set_task, list(self.space.tasks), 0, name, eval_task)
        self._seeded = seed is not None
        self.rng = np.random.default_rng(seed)
        self._delays: list[float] = []

    def _deliver_task(self, env: Any, task: Any) -> None:
        self._current_task = task
        self.set_training_info(self.training_info)

    def set_training_info(self, training_info: dict[str, Any]) -> None:
        """Keep the dict; an env that takes its task from training info gets it with ``task`` added."""
        if self._task_receiver is None:
            super().set_training_info(training_info)
            return
        self.training_info = training_info
        self._task_receiver.set_training_info({**training_info, info_schema.TASK: self._current_task})

    def seed_curriculum(self, seed: int) -> None:
        if not self._seeded:
            self._seeded = True
            self.rng = np.random.default_rng(seed)

    def sample_task(self) -> int:
        """The index of the next episode's task (subclasses). Default: uniform."""
        return int(self.rng.integers(len(self.space)))

    def choose_level(self) -> int | float:
        self.level = self.sample_task()
        return self.level

    def evaluation_level(self) -> int | float:
        if self.eval_level is not None:
            return self.eval_level
        return int(self.rng.integers(len(self.space)))

    def extra_stats(self) -> dict[str, float]:
        return {}  # a task index has no meaningful mean; the trainer reports the table's stats

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = super().step(action)
        if (terminated or truncated) and isinstance(info, Mapping) and not self.evaluating:
            info = dict(info)
            info[info_schema.TASK_INFO] = {
                "index": int(self.episode_level),
                "num_tasks": len(self.space),
                "delays": self._delays,
            }
            self._delays = []
        return obs, reward, terminated, truncated, info

    def get_state(self) -> dict[str, Any]:
        return {**super().get_state(), "rng": self.rng.bit_generator.state, "seeded": self._seeded}

    def set_state(self, state: Mapping[str, Any]) -> None:
        super().set_state(state)
        if "rng" in state:
            self.rng.bit_generator.state = state["rng"]
            self._seeded = bool(state.get("seeded", True))


class TrainerTaskCurriculum(TaskCurriculum):
    """A task curriculum whose distribution the trainer publishes (``training_info["task_distribution"]``
    of the expected ``kind``): each reset samples from the latest one (uniform before the first)."""

    kind = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._version: int | None = None
        self._warned = False

    def published(self) -> np.ndarray | None:
        """The latest published distribution over this space, or None."""
        dist = self.training_info.get(info_schema.TASK_DISTRIBUTION)
        if not isinstance(dist, Mapping):
            return None
        probs = dist.get("probs")
        if dist.get("kind") != self.kind or probs is None or len(probs) != len(self.space):
            if not self._warned:
                self._warned = True
                log.warning(
                    "%s: the trainer publishes a %r distribution over %s tasks; this env expects %r over %d "
                    "(check --task-curriculum and the task space); sampling uniformly",
                    type(self).__name__,
                    dist.get("kind"),
                    None if probs is None else len(probs),
                    self.kind,
                    len(self.space),
                )
            return None
        return np.asarray(probs, dtype=np.float64)

    def set_training_info(self, training_info: dict[str, Any]) -> None:
        super().set_training_info(training_info)
        dist = training_info.get(info_schema.TASK_DISTRIBUTION)
        if isinstance(dist, Mapping) and dist.get("version") != self._version:
            self._version = dist.get("version")
            if "changed_at" in dist and len(self._delays) < 64:
                self._delays.append(max(0.0, time.time() - float(dist["changed_at"])))

    def sample_task(self) -> int:
        probs = self.published()
        if probs is None:
            return super().sample_task()
        return int(self.rng.choice(len(probs), p=probs / probs.sum()))


class PrioritizedLevelReplay(TrainerTaskCurriculum):
    """Prioritized Level Replay (Jiang et al. 2021): each episode's task is drawn from the trainer's
    level table, which favours the levels with the highest recent scores (value errors) and mixes in
    unseen and stale ones. Needs ``--task-curriculum plr`` (the table, the scores); without it, tasks
    are uniform. Args: see ``TaskCurriculum``."""

    kind = "plr"
