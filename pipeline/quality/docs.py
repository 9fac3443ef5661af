"""Quality report: Great Expectations Data Docs (static HTML a person opens in a browser) for a run.

`validate_frame` validates one DataFrame against a suite; `write_data_docs` renders any number of such
results with GX's own Data Docs site builder into a folder: `index.html` lists the results and links to one
page per result that shows every expectation and whether it passed.

GX is imported inside the functions only: importing it takes seconds, and an Airflow DAG imports this module.
"""

from __future__ import annotations

import copy
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

from pipeline.quality.gx import ID_COLUMN, RESULT_FORMAT, gx_context, import_gx

SITE_NAME = "local_site"
# Everything GX's site builder writes under its base directory; removed before each build.
SITE_ENTRIES = ("index.html", "expectations", "validations", "static")


def _context():
    """A GX ephemeral context (see `pipeline.quality.gx.gx_context`), analytics off whatever the environment says."""
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    return gx_context()


def validate_frame(frame, suite, name: str, parameters: dict | None = None):
    """One `ExpectationSuiteValidationResult` for `frame` against `suite`, its data asset and run named `name`.

    `parameters` fill the suite's `$PARAMETER`s; by default `now` (naive UTC), which `articles.json` uses.
    """
    gx = import_gx()
    from great_expectations.core.run_identifier import RunIdentifier

    context = _context()
    batch = (
        context.data_sources.add_pandas(name=name)
        .add_dataframe_asset(name=name)
        .add_batch_definition_whole_dataframe(name=name)
    )
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=name, data=batch, suite=context.suites.add(copy.deepcopy(suite)))
    )
    if parameters is None:
        parameters = {"now": datetime.now(UTC).replace(tzinfo=None)}
    result_format = RESULT_FORMAT if ID_COLUMN in frame.columns else {"result_format": "COMPLETE"}
    return definition.run(
        batch_parameters={"dataframe": frame},
        expectation_parameters=parameters,
        result_format=result_format,
        run_id=RunIdentifier(run_name=name, run_time=datetime.now(UTC)),
    )


def write_data_docs(results: list, out_dir: Path) -> Path:
    """Write a Data Docs site for `results` into `out_dir`, replacing any earlier one; the path of its index.

    Results from `batch.validate` carry no run id: they get one run time and, like every result, a batch id
    that is unique within the call, so that no result hides another in the index.
    """
    gx = import_gx()
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    out_dir = Path(out_dir).resolve()
    context = _context()
    # Replace the ephemeral context's default site (a temp dir) by one rooted at out_dir; there are no
    # profiling results, so no profiling section.
    context.variables.data_docs_sites = {
        SITE_NAME: {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(out_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            "site_section_builders": {"profiling": "None"},
        }
    }
    now = datetime.now(UTC)
    keys: set[tuple] = set()
    for i, original in enumerate(results, start=1):
        result = copy.deepcopy(original)
        result.meta.setdefault("run_id", RunIdentifier(run_time=now))
        result.meta.setdefault("validation_time", now)
        asset = (result.meta.get("active_batch_definition") or {}).get("data_asset_name") or "result"
        key = ValidationResultIdentifier(
            ExpectationSuiteIdentifier(name=result.suite_name), result.meta["run_id"], str(asset)
        )
        if key.to_tuple() in keys:
            key = ValidationResultIdentifier(key.expectation_suite_identifier, key.run_id, f"{asset}-{i}")
        keys.add(key.to_tuple())
        context.validation_results_store.set(key, result)
        # The index and each result page link to the suite's page: render it from the expectations as run.
        if result.suite_name not in {s.name for s in context.suites.all()}:
            expectations = [r.expectation_config for r in result.results]
            context.suites.add(gx.ExpectationSuite(name=result.suite_name, expectations=expectations))
    out_dir.mkdir(parents=True, exist_ok=True)
    for entry in SITE_ENTRIES:
        path = out_dir / entry
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    context.build_data_docs(site_names=[SITE_NAME])
    return out_dir / "index.html"


def write_run_docs(validation_file: Path, audit_result, out_dir: Path) -> Path:
    """A run's report: the row-level results of each validated chunk (JSON the run kept), then its audit."""
    import json

    import_gx()
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResultSchema,
    )

    schema = ExpectationSuiteValidationResultSchema()
    results = []
    if validation_file.is_file():
        results = [schema.load(r) for r in json.loads(validation_file.read_text())]
    if audit_result is not None:
        results.append(audit_result)
    return write_data_docs(results, out_dir)
