"""The audit of write-audit-publish: batch-level expectations on a staged run, before anything is published.

A run is written to its staging folder first (`pipeline.run`). Its one-row summary (shares of
quarantined and duplicate inputs, inputs kept, accounting) is then validated with the GX suite
`expectations/run_audit.json`, whose thresholds come from settings. If any expectation fails, nothing of the
run is published: it stays in staging, where it can be inspected and released (`python -m pipeline release`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pipeline.settings import Settings

log = logging.getLogger(__name__)

AUDIT_FILE = "audit.json"


@dataclass
class Audit:
    passed: bool
    metrics: dict[str, float]
    thresholds: dict[str, float]
    failed: list[dict] = field(default_factory=list)  # {"name", "says", "value", "expected"}
    result: object = None  # the GX validation result, for Data Docs (not serialised)

    def message(self) -> str:
        parts = [f"{f['name']}: {f['says']} ({f['value']} vs {f['expected']})" for f in self.failed]
        return "; ".join(parts)

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("result")
        return out


def run_metrics(tally: dict, counts: dict | None = None) -> dict[str, float]:
    """The audit's figures from a run's tally (and its stage counts: how many landed rows carry flags)."""
    read = tally["read"]
    flagged = ((counts or {}).get("validate") or {}).get("flagged", 0)
    kept = tally["landed"] + tally["duplicates"] + tally["skipped"]
    return {
        "read": read,
        "kept": kept,
        "quarantined_share": round(tally["quarantined"] / read, 4) if read else 0.0,
        "duplicate_share": round(tally["duplicates"] / read, 4) if read else 0.0,
        "unaccounted": read - kept - tally["quarantined"],
        "flagged_share": round(flagged / read, 4) if read else 0.0,  # reported, not judged
    }


def thresholds(settings: Settings, metrics: dict[str, float]) -> dict[str, float]:
    judged = metrics["read"] >= settings.audit_min_read
    return {
        # "kept nothing" is judged on any run that read something, or only from audit_min_read inputs on
        # when audit_require_kept is off (streaming micro-batches: one broken file alone is published)
        "min_kept": 1 if metrics["read"] and (settings.audit_require_kept or judged) else 0,
        "max_quarantined_share": settings.max_quarantined_share if judged else 1.0,
        "max_duplicate_share": settings.max_duplicate_share if judged else 1.0,
    }


def audit_run(folder: Path, settings: Settings) -> Audit:
    """Validate the staged run in `folder` against the audit suite; write `audit.json` there; return it."""
    from pipeline.store.staging import read_ledger

    ledger = read_ledger(folder)
    metrics = run_metrics(ledger["tally"], ledger.get("counts"))
    params = thresholds(settings, metrics)
    result = _validate(settings.audit_suite_path, metrics, params)
    failed = []
    for r in result.results:
        if r.success:
            continue
        config = r.expectation_config
        kwargs = config.kwargs
        column = kwargs["column"]
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        low = params.get(low["$PARAMETER"]) if isinstance(low, dict) else low
        high = params.get(high["$PARAMETER"]) if isinstance(high, dict) else high
        expected = f">= {low}" if high is None else f"<= {high}" if low in (None, 0) else f"{low}..{high}"
        failed.append(
            {
                "name": config.meta.get("name", config.type),
                "says": config.meta.get("says", ""),
                "value": metrics[column],
                "expected": expected,
            }
        )
    audit = Audit(not failed, metrics, params, failed, result)
    (folder / AUDIT_FILE).write_text(json.dumps(audit.to_dict(), indent=2))
    return audit


def _validate(suite_path: Path, metrics: dict[str, float], params: dict[str, float]):
    import pandas as pd

    from pipeline.quality.gx import gx_context, load_suite

    context = gx_context()
    batch = (
        context.data_sources.add_pandas(name="runs")
        .add_dataframe_asset(name="run")
        .add_batch_definition_whole_dataframe(name="run")
        .get_batch(batch_parameters={"dataframe": pd.DataFrame([metrics])})
    )
    suite = context.suites.add(load_suite(suite_path))
    return batch.validate(suite, expectation_parameters=params, result_format="SUMMARY")
