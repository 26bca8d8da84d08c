"""Errors raised on bad input before anything starts."""

from __future__ import annotations


class ConfigError(ValueError):
    """An invalid configuration value or combination; the message says what to change."""
