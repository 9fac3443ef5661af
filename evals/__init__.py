"""Evaluation on the corpora (`make eval`): extraction and dedupe/stories. Imports `pipeline`, never the reverse."""
