"""Temporal code: the generic execution workflow, its activities and the worker."""
