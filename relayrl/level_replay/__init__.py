"""Feature: the trainer's level table of task curricula (``--task-curriculum``): Prioritized Level
Replay and learning progress over all envs (docs/curriculum.md, "Task curricula"). The env side (the
wrappers, the task space) is in ``relayrl.curriculum``."""
