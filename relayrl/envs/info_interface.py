"""trainer -> env: the ``TrainingInfoInterface`` and how the framework finds who implements it.

An env (or any wrapper around it) opts in by implementing ``TrainingInfoInterface``. The
framework unwraps a wrapper chain from the outside in (``.env``) and delivers to the first object
that implements it. Vector envs fan out: the vector env's own chain gets it if it implements the
interface, and so does every sub-env (``SyncVectorEnv.envs``) that implements it; sub-envs that do
not are skipped, the others still get it.
"""

from __future__ import annotations

from typing import Any

from relayrl.envs.unwrap import first_in_chain, sub_envs


class TrainingInfoInterface:
    """Mix into an env or wrapper to receive training progress from the trainer.

    ``training_info`` is empty until the first delivery, which happens before the env's first
    reset. ``set_training_info`` is called between env steps (never during one); override it to
    react (call ``super().set_training_info(training_info)`` to keep the attribute up to date).
    The keys are documented in docs/training-info.md; ``approx_total_training_steps`` is always there.
    """

    def __init__(self) -> None:
        self.training_info: dict[str, Any] = {}

    def set_training_info(self, training_info: dict[str, Any]) -> None:
        """Receive a new training-info dict (the env may keep it: it is not mutated afterwards)."""
        self.training_info = training_info


def implements_training_info(obj: Any) -> bool:
    """True for ``TrainingInfoInterface`` instances and for objects whose class defines a
    ``set_training_info`` method (duck typing, so envs need not import relayrl)."""
    if isinstance(obj, TrainingInfoInterface):
        return True
    return callable(getattr(type(obj), "set_training_info", None))


def find_training_info_interface(env: Any) -> Any | None:
    """The first object in ``env``'s wrapper chain (outermost first, following ``.env``) that
    implements the interface, or None."""
    return first_in_chain(env, implements_training_info)


def vector_training_info_targets(vector_env: Any) -> tuple[Any | None, list[Any | None]]:
    """``(target for the vector env as a whole, [target or None per sub-env])``."""
    whole = find_training_info_interface(vector_env)
    subs = sub_envs(vector_env)
    per_env = [find_training_info_interface(sub) for sub in subs] if subs is not None else []
    return whole, per_env
