"""Step 5, the report: the run's config, the runner, manifest and history, the notebooks'
facades, their words and figures."""
