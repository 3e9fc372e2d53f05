"""Step 1, the data: the input contract, reading files, validation, and the DuckDB store."""
