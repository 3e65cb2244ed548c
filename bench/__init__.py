"""Benchmarks, run from the repository root as modules (`python -m bench.time_to_accuracy`), not tests."""
