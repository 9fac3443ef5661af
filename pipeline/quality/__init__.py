"""Quality: the GX context, row validation, the run's audit, Data Docs and the daily report."""
