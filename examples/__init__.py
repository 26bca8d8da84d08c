"""Copyable examples (run from the repository root)."""
