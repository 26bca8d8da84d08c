"""Shipping a trained policy: ONNX export (``relayrl export``)."""

from relayrl.export.onnx import ExportedPolicy, export_onnx

__all__ = ["ExportedPolicy", "export_onnx"]
