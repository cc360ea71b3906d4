"""Run summaries (Prefect artifacts, CLI) and the static KPI report."""
