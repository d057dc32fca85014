"""Executions: controllers, schemas and service for this domain noun."""
