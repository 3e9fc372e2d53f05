"""Grading against the simulator's truth, and the benchmarks."""
