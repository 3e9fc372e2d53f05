"""The simulator: a CS world with known effects, and its exact truth."""
