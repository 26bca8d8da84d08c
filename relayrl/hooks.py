"""``"package.module:attribute"`` strings: the one importer behind user hooks (``--training-info-fn``,
``--metrics-fn``), env factories (``--env pkg.mod:make_env``) and registered backends.

On the command line and in config.json a hook is such a string; through the API it may also be a
Python callable.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from relayrl.errors import ConfigError


def _one_line(e: BaseException) -> str:
    return f"{type(e).__name__}: " + " ".join(str(e).split())


def import_object(spec: str, what: str) -> Any:
    """The object named by ``"package.module:attr.sub"``; ConfigError naming ``what`` (e.g. the flag
    and value) and the fix when the module cannot be imported or has no such attribute."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"{what}: {spec!r} must look like 'package.module:function'.")
    try:
        obj: Any = importlib.import_module(module_name)
    except ConfigError:
        raise  # the module itself says what is wrong (e.g. a backend's missing optional dependency)
    except Exception as e:  # noqa: BLE001 - an import error of any kind is bad input
        raise ConfigError(
            f"{what}: cannot import module {module_name!r} ({_one_line(e)}); check the module path and that "
            "its package is installed and on PYTHONPATH."
        ) from e
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"{what}: module {module_name!r} has no attribute {attr!r}; check the name.")
        obj = getattr(obj, part)
    return obj


def import_callable(spec: str, what: str) -> Callable[..., Any]:
    """``import_object`` that must return something callable."""
    obj = import_object(spec, what)
    if not callable(obj):
        raise ConfigError(f"{what}: {spec!r} is not callable; give a function or class.")
    return obj  # type: ignore[no-any-return]


def hook_name(hook: Any) -> str | None:
    """``"module:qualname"`` of a hook (strings pass through)."""
    if hook is None or isinstance(hook, str):
        return hook
    return f"{getattr(hook, '__module__', '?')}:{getattr(hook, '__qualname__', repr(hook))}"


def resolve_hook(hook: Any, flag: str) -> Callable[..., Any] | None:
    """The callable behind a hook spec (None stays None); ConfigError naming ``flag`` when it cannot be
    imported."""
    if hook is None or callable(hook):
        return hook
    return import_callable(str(hook), f"{flag} {hook!r}")
