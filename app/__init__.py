"""Stepladder: per-step human approval and progressive automation for Temporal workflows."""
