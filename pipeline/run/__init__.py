"""Runs: assembling the stages, the one-process run, partitioned runs (Airflow) and streaming micro-batches."""
