"""Quality: the GX context, row validation, the run's audit, Data Docs and the daily report."""

import logging

# Before any module here imports GX: importing it logs some 200 INFO lines ("Skipping registering function ...",
# from great_expectations._docs_decorators), which filled the Airflow dedupe task's log. Errors still show.
logging.getLogger("great_expectations").setLevel(logging.ERROR)
