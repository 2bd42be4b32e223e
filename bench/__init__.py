"""Benchmarks: kubelite against bare baselines measured in the same run (see docs/benchmarks.md)."""
