"""Prefect flows: thin wiring of ``revops.pipeline`` steps into tasks."""
