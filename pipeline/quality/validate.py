"""Validation: the Great Expectations suite in `expectations/` checks each batch of articles before they land.

Each expectation has a severity (GX 1.x: critical, warning, info). A row that fails a critical one (no id, no
body, markup left, an impossible date) goes to quarantine with the names (`meta.name`) of the expectations it
failed; so does a copy of such a row, since nothing may be recorded as a duplicate of an article that did not
land. A row that fails only warnings (a short body, a short title, a boilerplate-looking phrase) is a real
article: it lands, with those names in `quality_flags`, counted as `validate.flagged` (articles) and
`validate.flagged_<name>`.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from pipeline.clock import utcnow
from pipeline.errors import Reject, SetupError
from pipeline.models import VALIDATED_COLUMNS, Article
from pipeline.quality.gx import (
    ID_COLUMN,
    RESULT_FORMAT,
    expectation_name,
    gx_context,
    import_gx,
    load_suite,
)
from pipeline.settings import Settings
from pipeline.stage import Ledger, Stage

log = logging.getLogger(__name__)

# Chunks grow from this size (doubling up to `validate_chunk`): the first articles move on to dedupe early,
# while extraction still runs, and a long run still validates in large, cheap batches.
FIRST_CHUNK = 250
FRAME_COLUMNS = VALIDATED_COLUMNS  # the Article fields marked `validated`


class Validator:
    """A GX ephemeral context holding the suite, ready to validate DataFrames of articles."""

    def __init__(self, suite_path: Path):
        gx = import_gx()

        context = gx_context()
        batch = (
            context.data_sources.add_pandas(name="articles")
            .add_dataframe_asset(name="articles")
            .add_batch_definition_whole_dataframe(name="chunk")
        )
        suite = context.suites.add(load_suite(suite_path))
        self.definition = context.validation_definitions.add(
            gx.ValidationDefinition(name="articles", data=batch, suite=suite)
        )

    def validate(self, rows: list[dict]) -> tuple[dict[str, list[tuple[str, str]]], list[str]]:
        """Failed expectations per article_id, as (name, severity), and failed expectations without row detail.

        The whole GX result stays in `last_result` (the Data Docs report is made of them).
        """
        import pandas as pd

        frame = pd.DataFrame(rows, columns=list(FRAME_COLUMNS))
        frame["published_at"] = pd.to_datetime(frame["published_at"])
        frame["ingested_at"] = pd.to_datetime(frame["ingested_at"])
        now = pd.Timestamp(utcnow())
        result = self.definition.run(
            batch_parameters={"dataframe": frame},
            expectation_parameters={"now": now},
            result_format=RESULT_FORMAT,
        )
        self.last_result = result
        by_row: dict[str, list[tuple[str, str]]] = {}
        table_level: list[str] = []
        for r in result.results:
            name = expectation_name(r.expectation_config)
            if (r.exception_info or {}).get("raised_exception"):
                message = r.exception_info.get("exception_message", "")
                raise SetupError(f"expectation {name} could not run: {message}; fix expectations/")
            if r.success:
                continue
            rows_failed = (r.result or {}).get("unexpected_index_list") or []
            if not rows_failed:
                table_level.append(name)
            severity = severity_of(r.expectation_config)
            for entry in rows_failed:
                aid = entry.get(ID_COLUMN) if isinstance(entry, dict) else entry
                failed = by_row.setdefault(str(aid), [])
                if (name, severity) not in failed:
                    failed.append((name, severity))
        return by_row, table_level


def severity_of(config) -> str:
    """An expectation's severity as text ("critical" when the suite does not say: GX's default)."""
    severity = getattr(config, "severity", None)
    return str(getattr(severity, "value", severity) or "critical").lower()


class ValidateStage(Stage):
    """Validate articles in batches (growing from FIRST_CHUNK to `validate_chunk`); forward what passes,
    quarantine what fails, in input order."""

    name = "validate"
    batch_size = FIRST_CHUNK  # growing: see batch_sizes

    def __init__(self, ledger: Ledger, settings: Settings):
        super().__init__(ledger)
        self.settings = settings
        self._validator: Validator | None = None
        self._warming: threading.Thread | None = None
        self._warm_error: BaseException | None = None
        # With a Data Docs folder set, each chunk's GX result is kept (as JSON) for the report.
        self.results: list[dict] | None = [] if settings.data_docs_dir is not None else None
        self._frozen = False

    def run(self, items: Iterable) -> Iterator:
        """As every stage's, with the process's objects frozen out of the garbage collector's way while the
        stream runs (`_ready`): the imports (GX, pandas, DuckDB, trafilatura: about 270,000 objects) live as
        long as the process, and each full collection scanned them all again (1.1 s of a 10k-article run's
        2.0 s of collecting). Unfrozen when the stream ends, so a cycle among them is still collected after."""
        try:
            yield from super().run(items)
        finally:
            if self._frozen:
                gc.unfreeze()
                self._frozen = False

    def warm_up(self, then: Callable[[], None] | None = None) -> None:
        """Build the validator (importing GX: about 7 s of CPU) in a background thread, now; then, in the same
        thread, `then` (another stage's warm-up: one thread, so the two never import at once).

        The main process mostly waits on the extraction workers early in a run, so the import overlaps with
        them instead of holding up the first chunk. Call it once the run's other imports are done (two
        threads importing the same packages at once can deadlock on import locks). An error in `then` is
        logged and left: what it prepares is prepared again where it is needed.
        """

        def build() -> None:
            try:
                self._validator = Validator(self.settings.suite_path)
            except BaseException as exc:  # raised again where the validator is needed
                self._warm_error = exc
            if then is not None:
                try:
                    then()
                except Exception:
                    log.exception("warming up after the validator failed")

        if self._validator is None and self._warming is None:
            self._warming = threading.Thread(target=build, name="gx-warm-up", daemon=True)
            self._warming.start()

    def _ready(self) -> Validator:
        if self._warming is not None:
            self._warming.join()
            self._warming = None
            if self._warm_error is not None:
                raise self._warm_error
        if self._validator is None:
            self._validator = Validator(self.settings.suite_path)
        if not self._frozen:  # every import of the run is done now (GX's last)
            gc.freeze()
            self._frozen = True
        return self._validator

    def batch_sizes(self) -> Iterator[int]:
        size = min(FIRST_CHUNK, self.settings.validate_chunk)
        while True:
            yield size
            size = min(2 * size, self.settings.validate_chunk)

    def process_batch(self, articles: list[Article]) -> list[Article | Reject]:
        validator = self._ready()
        # One row per id: two inputs of one URL in a batch are one article (dedupe drops the second as a `url`
        # duplicate after validation); both get that row's verdict.
        unique = {a.article_id: a for a in reversed(articles)}.values()
        rows = [{c: getattr(a, c) for c in FRAME_COLUMNS} for a in unique]
        failures, table_level = validator.validate(rows)
        if self.results is not None:
            self.results.append(validator.last_result.to_json_dict())
        for name in table_level:
            self.ledger.add(self.name, f"batch_failed_{name}")
            log.warning("batch-level expectation failed: %s", name)
        verdicts: list[Article | Reject] = []
        for article in articles:
            failed = failures.get(article.article_id, [])
            critical = [name for name, severity in failed if severity == "critical"]
            if critical:
                verdicts.append(Reject(tuple(critical), "failed expectations: " + ", ".join(critical)))
                continue
            article.quality_flags = [name for name, severity in failed if severity == "warning"]
            for name in article.quality_flags:
                self.ledger.add(self.name, f"flagged_{name}")
            if article.quality_flags:
                self.ledger.add(self.name, "flagged")
                log.info("%s: lands flagged: %s", article.source_uri, ", ".join(article.quality_flags))
            verdicts.append(article)
        return verdicts
