"""The per-document work, in worker processes: keep the raw bytes, extract, clean, enrich."""
