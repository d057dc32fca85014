"""Steps: controllers, schemas and service for this domain noun."""
