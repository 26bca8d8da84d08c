"""Walking wrapper chains and vector envs: shared by training-info delivery and curricula."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def first_in_chain(env: Any, predicate: Callable[[Any], bool]) -> Any | None:
    """The first object in ``env``'s wrapper chain (outermost first, following ``.env``) for which
    ``predicate`` holds, or None."""
    seen: set[int] = set()
    obj = env
    while obj is not None and id(obj) not in seen:
        if predicate(obj):
            return obj
        seen.add(id(obj))
        obj = getattr(obj, "env", None)
    return None


def sub_envs(vector_env: Any) -> list[Any] | None:
    """The sub-env objects of a vector env living in this process (``SyncVectorEnv.envs``), found
    through any vector wrappers; None for vector envs without separate sub-env objects."""
    holder = first_in_chain(vector_env, lambda obj: isinstance(getattr(obj, "__dict__", {}).get("envs"), (list, tuple)))
    return None if holder is None else list(holder.__dict__["envs"])
