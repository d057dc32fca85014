"""Signed webhooks that start executions."""
