"""User hooks (``--training-info-fn``, ``--metrics-fn``): a ``"package.module:function"`` string on the
command line and in config.json, or a Python callable through the API."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from relayrl.errors import ConfigError


def hook_name(hook: Any) -> str | None:
    """``"module:qualname"`` of a hook (strings pass through)."""
    if hook is None or isinstance(hook, str):
        return hook
    return f"{getattr(hook, '__module__', '?')}:{getattr(hook, '__qualname__', repr(hook))}"


def resolve_hook(hook: Any, flag: str) -> Callable[..., Any] | None:
    """The callable behind a hook spec; ConfigError naming ``flag`` when it cannot be imported."""
    if hook is None or callable(hook):
        return hook
    module_name, _, attr = str(hook).partition(":")
    if not module_name or not attr:
        raise ConfigError(f"{flag} {hook!r} must look like 'package.module:function'.")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"{flag} {hook!r} cannot be imported ({type(exc).__name__}: {exc}); check the module path "
            "and that the package is installed."
        ) from exc
    if not callable(obj):
        raise ConfigError(f"{flag} {hook!r} is not callable.")
    return obj
