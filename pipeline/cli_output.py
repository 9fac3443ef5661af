"""What the command line prints about a run: progress while it goes, the summary when it ends."""

from __future__ import annotations

import os
import sys
import time

EXAMPLE_QUERY = "SELECT title, author, word_count, language FROM articles ORDER BY ingested_at"


class Progress:
    """How far a run is: a line redrawn in place on a terminal; through a pipe (cron, a task log), a log line
    every `EVERY_S` seconds, so a long run is never silent."""

    EVERY_S = 10.0

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.every_s = float(os.environ.get("PIPELINE_PROGRESS_EVERY_S", self.EVERY_S))
        self.started = self.last = time.monotonic()
        self.shown = False

    def __call__(self, done: int, inputs: int) -> None:
        now = time.monotonic()
        if self.tty:
            print(
                f"\r  {done} documents processed (from {inputs} inputs)", end="", file=sys.stderr, flush=True
            )
            self.shown = True
        elif now - self.last >= self.every_s:
            self.last = now
            print(
                f"progress: {done} documents processed (from {inputs} inputs) in {now - self.started:.0f} s",
                file=sys.stderr,
                flush=True,
            )

    def done(self) -> None:
        if self.shown:
            print("\r\033[K", end="", file=sys.stderr)


def format_summary(s) -> str:
    lines = [
        f"Run {s.run_id} ({s.trigger}): {s.status}",
        f"  read {s.read} = landed {s.landed} + duplicates {s.duplicates} + quarantined {s.quarantined}"
        f" + skipped (unchanged) {s.skipped}",
    ]
    if s.ignored_files:
        examples = ", ".join(s.ignored_examples) + (
            ", ..." if s.ignored_files > len(s.ignored_examples) else ""
        )
        lines.append(
            f"  ignored {s.ignored_files} file(s) of unsupported types in source folders: {examples}"
        )
    lines.append("")
    lines.append(f"  {'stage':<10}{'in':>7}{'passed':>8}  dropped")
    for stage in ("read", "unchanged", "extract", "clean", "enrich", "dedupe", "validate"):
        counts = s.stages.get(stage, {})
        dropped = {k.removeprefix("dropped_"): v for k, v in counts.items() if k.startswith("dropped_")}
        shown = ", ".join(f"{k} {v}" for k, v in dropped.items()) or "-"
        lines.append(f"  {stage:<10}{counts.get('total', 0):>7}{counts.get('forwarded', 0):>8}  {shown}")
    read = s.stages.get("read", {})
    if read.get("urls"):
        lines.append("")
        lines.append(
            f"  fetched: {read['urls']} URL(s); feeds {read.get('feeds', 0)} changed, "
            f"{read.get('feeds_unchanged', 0)} unchanged (304), {read.get('feeds_empty', 0)} empty, "
            f"{read.get('feeds_failed', 0)} failed; entries {read.get('entries', 0)} "
            f"({read.get('entries_already_landed', 0)} already landed); pages {read.get('pages', 0)}"
        )
    warc = {k: read.get(f"warc_{k}", 0) for k in ("revisit", "not_200", "not_html", "other_record")}
    if any(warc.values()):
        lines.append(
            "  web archive records skipped (not articles): "
            f"{warc['revisit']} revisit, {warc['not_200']} not status 200, {warc['not_html']} not HTML, "
            f"{warc['other_record']} not a response (warcinfo, request, metadata)"
        )
    removed = s.removed_by_rule()
    if removed:
        lines.append("")
        lines.append(
            "  boilerplate lines removed, by rule: " + ", ".join(f"{k} {v}" for k, v in removed.items())
        )
    if s.quarantine_reasons:
        lines.append(
            "  quarantined, by reason: " + ", ".join(f"{k} {v}" for k, v in s.quarantine_reasons.items())
        )
    flagged = {
        k.removeprefix("flagged_"): v
        for k, v in s.stages.get("validate", {}).items()
        if k.startswith("flagged_")
    }
    if flagged:
        lines.append(
            f"  landed with quality flags: {s.stages['validate'].get('flagged', 0)} article(s); by expectation: "
            + ", ".join(f"{k} {v}" for k, v in sorted(flagged.items()))
        )
    if s.audit and s.audit.get("failed"):
        lines.append("")
        lines.append("  AUDIT FAILED, nothing published:")
        lines += [
            f"    {f['name']}: {f['says']} ({f['value']}, expected {f['expected']})"
            for f in s.audit["failed"]
        ]
        lines.append(f"    staged in {s.staging}")
    lines += [
        "",
        f"Database: {s.db}",
        f'Query it: python -m pipeline sql "{EXAMPLE_QUERY}" --db {s.db}',
    ]
    return "\n".join(lines)
