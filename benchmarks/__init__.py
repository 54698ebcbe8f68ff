"""Throughput and memory benchmarks: `make bench` (never timed tests)."""
