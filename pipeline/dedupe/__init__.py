"""Duplicate detection: minhash, the run's index, history lookups, site templates, the stage."""
