"""Wiring: the training loop (serial and multi-process), reporting and evaluation."""
