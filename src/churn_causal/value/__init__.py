"""Step 4, the value: what an effect is worth in money."""
