"""Benchmarks (`make bench`): speed and memory against their targets. Imports `pipeline`, never the reverse."""
