"""Great Expectations, set up once for every use: an ephemeral context, quiet, and a suite loaded from JSON.

GX is imported inside the functions only: importing it takes seconds, and an Airflow DAG imports this package.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from pipeline.errors import SetupError

ID_COLUMN = "article_id"
RESULT_FORMAT = {"result_format": "COMPLETE", "unexpected_index_column_names": [ID_COLUMN]}


def expectation_name(config) -> str:
    meta = getattr(config, "meta", None) or {}
    column = (config.kwargs or {}).get("column")
    return str(meta.get("name") or (f"{config.type}({column})" if column else config.type))


def load_suite(path: Path):
    """The suite from its JSON file; GX drops unknown expectations with only a log line, so count them."""
    import great_expectations as gx

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        declared = len(data.get("expectations", []))
        suite = gx.ExpectationSuite(**data)
    except (OSError, ValueError, TypeError) as exc:
        raise SetupError(f"cannot load expectation suite {path}: {exc}") from exc
    if len(suite.expectations) != declared:
        raise SetupError(
            f"expectation suite {path}: {declared - len(suite.expectations)} expectation(s) are invalid"
        )
    return suite


def gx_context():
    """A GX ephemeral context: in-memory stores, no files, no analytics, no progress bars, quiet logs."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    for name in ("great_expectations", "great_expectations.data_context.types.base"):
        logging.getLogger(name).setLevel(logging.ERROR)  # some GX modules set INFO on import
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context
