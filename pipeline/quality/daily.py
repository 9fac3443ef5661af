"""The day's quality report for `article_quality`: the day's articles validated again, and a summary."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pipeline.quality.docs import validate_frame, write_data_docs


def daily_report(db_path: Path, out_dir: Path, day=None) -> dict:
    """The day's quality report: the articles landed that day validated again with the suite (Data Docs in
    `out_dir/docs/`), and a summary of the day (`out_dir/summary-<day>.json` and `.md`): runs, articles per
    source, duplicates by method, quarantine reasons. Reads the database read-only."""
    import json
    from datetime import date, timedelta

    import pandas as pd

    from pipeline.models import VALIDATED_COLUMNS
    from pipeline.quality.gx import load_suite
    from pipeline.settings import Settings
    from pipeline.store.connection import connect

    day = day or datetime.now(UTC).date()
    if isinstance(day, str):
        day = date.fromisoformat(day)
    start, end = day, day + timedelta(days=1)
    con = connect(Path(db_path), read_only=True)
    try:
        frame = con.execute(
            f"SELECT {', '.join(VALIDATED_COLUMNS)} FROM articles WHERE ingested_at >= ? AND ingested_at < ?",
            [start, end],
        ).df()

        def rows(sql: str) -> list[dict]:
            rel = con.execute(sql, [start, end])
            names = [d[0] for d in rel.description]
            return [dict(zip(names, r, strict=True)) for r in rel.fetchall()]

        summary = {
            "day": day.isoformat(),
            "runs": rows(
                """SELECT run_id, trigger, status, "read", landed, duplicates, quarantined, skipped FROM runs
                   WHERE started_at >= ? AND started_at < ? ORDER BY started_at"""
            ),
            "articles_by_source": rows(
                """SELECT coalesce(source, '(none)') AS source, count(*) AS articles FROM articles
                   WHERE ingested_at >= ? AND ingested_at < ? GROUP BY ALL ORDER BY articles DESC"""
            ),
            "duplicates_by_method": rows(
                """SELECT method, count(*) AS duplicates FROM article_duplicates
                   WHERE detected_at >= ? AND detected_at < ? GROUP BY ALL ORDER BY duplicates DESC"""
            ),
            "quarantine_reasons": rows(
                """SELECT reason, count(*) AS inputs FROM
                   (SELECT unnest(reasons) AS reason FROM quarantine WHERE quarantined_at >= ? AND quarantined_at < ?)
                   GROUP BY ALL ORDER BY inputs DESC"""
            ),
        }
    finally:
        con.close()
    out_dir.mkdir(parents=True, exist_ok=True)
    summary["articles"] = len(frame)
    if len(frame):
        for column in ("published_at", "ingested_at"):
            frame[column] = pd.to_datetime(frame[column])
        suite = load_suite(Settings().suite_path)
        result = validate_frame(frame, suite, f"articles_{day.isoformat()}")
        summary["docs"] = str(write_data_docs([result], out_dir / "docs"))
        summary["expectations_failed"] = [
            r.expectation_config.meta.get("name", r.expectation_config.type)
            for r in result.results
            if not r.success
        ]
    base = out_dir / f"summary-{day.isoformat()}"
    base.with_suffix(".json").write_text(json.dumps(summary, indent=2, default=str))
    base.with_suffix(".md").write_text(_summary_markdown(summary))
    summary["summary_file"] = str(base.with_suffix(".md"))
    return summary


def _summary_markdown(s: dict) -> str:
    lines = [f"# Articles on {s['day']}", "", f"{s['articles']} articles landed.", ""]
    for title, key, cols in (
        (
            "Runs",
            "runs",
            ("run_id", "trigger", "status", "read", "landed", "duplicates", "quarantined", "skipped"),
        ),
        ("Articles by source", "articles_by_source", ("source", "articles")),
        ("Duplicates by method", "duplicates_by_method", ("method", "duplicates")),
        ("Quarantine reasons", "quarantine_reasons", ("reason", "inputs")),
    ):
        lines += [f"## {title}", ""]
        if not s[key]:
            lines += ["(none)", ""]
            continue
        lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in s[key]]
        lines.append("")
    if s.get("docs"):
        lines += [f"Validation report: {s['docs']}", ""]
    return "\n".join(lines)
