"""Command line: `python -m pipeline ingest [SOURCES...]` and `python -m pipeline sql QUERY`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from pathlib import Path

from pipeline.cli_output import EXAMPLE_QUERY, Progress, format_summary
from pipeline.errors import AuditFailed, Interrupted, SetupError
from pipeline.settings import PROJECT_ROOT, Settings

EXIT_OK, EXIT_USAGE, EXIT_SETUP, EXIT_AUDIT = 0, 2, 3, 4


def command() -> str:
    """How to run this CLI again, as a hint that works when pasted into any shell: the venv's console command
    (`article-pipeline`) by its full path, else this interpreter with `-m pipeline`."""
    script = Path(sys.executable).parent / "article-pipeline"
    return str(script) if script.is_file() else f"{sys.executable} -m pipeline"


def hint(text: str) -> str:
    """A message with its `python -m pipeline ...` commands as `command()` says to run them."""
    return text.replace("python -m pipeline ", command() + " ")


def default_sources() -> list[str]:
    return ["seeds"] if Path("seeds").is_dir() else [str(PROJECT_ROOT / "seeds")]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="Ingest news articles into a clean, de-duplicated, validated DuckDB table.",
    )
    verbose = argparse.ArgumentParser(add_help=False)  # -v before or after the command
    verbose.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="log each input's outcome (quarantined, duplicate) and each stage's decisions to stderr",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help=verbose._actions[0].help)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ingest = sub.add_parser(
        "ingest",
        parents=[verbose],
        help="read sources, clean, dedupe, validate and load them",
        description=(
            "Read SOURCES (files, or directories walked recursively: .txt as plain text with the headline on "
            "the first line, .html/.htm through trafilatura, .json/.jsonl records with url/title/html or text "
            "fields, .xml/.rss/.atom/JSON feeds whose entries become articles, and .warc/.warc.gz web archives "
            "whose HTML responses become articles; and http(s) URLs of feeds, sitemaps or article pages, or "
            "a site's homepage read through the sitemaps its robots.txt lists, fetched politely: robots.txt, a delay per host, timeouts, size caps, "
            "conditional GET against the state earlier runs left), strip boilerplate, enrich, dedupe against "
            "the run and the database, validate with the suite in expectations/, and load into DuckDB in one "
            "transaction. Every input ends landed, recorded as a duplicate, quarantined with a reason, or "
            "skipped as unchanged. Before anything is published the run is audited (expectations/"
            "run_audit.json: shares of quarantined and duplicate inputs, at least one input kept); a run that "
            "fails its audit publishes nothing and waits in staging for `release`. Exit status: 0 when the "
            "run was published (quarantined inputs are not an error), 4 when it failed its audit, 3 on bad "
            "setup (missing source, unwritable or locked database), 2 on bad usage."
        ),
    )
    ingest.add_argument(
        "sources",
        nargs="*",
        metavar="SOURCES",
        help="files, directories, web archives or http(s) URLs of feeds, sitemaps, sites and pages "
        "(default: the project's seeds/)",
    )
    ingest.add_argument(
        "--sources-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="also ingest the sources this file lists: TOML ([[source]] with url or path, and name) or one "
        "'location [name]' per line",
    )
    ingest.add_argument(
        "--allow-private-network",
        action="store_true",
        default=None,
        help="let URLs reach loopback and private addresses (local servers, tests); refused by default "
        "(blocked_address), or PIPELINE_ALLOW_PRIVATE_NETWORK=1",
    )
    ingest.add_argument(
        "--db",
        type=Path,
        default=None,
        help="DuckDB file to load into (default: data/articles.duckdb, or PIPELINE_DB_PATH)",
    )
    ingest.add_argument(
        "--json",
        action="store_true",
        help="print the run summary as one JSON object on the last line of stdout instead of the table",
    )
    ingest.add_argument(
        "--max-input-bytes",
        type=int,
        default=None,
        help="inputs larger than this are quarantined as too_large (default: 5000000, or PIPELINE_MAX_INPUT_BYTES)",
    )
    ingest.add_argument(
        "--extract-timeout",
        type=float,
        default=None,
        help="seconds one document may spend in extraction before its worker is stopped and it is "
        "quarantined as extract_timeout (default: 30, or PIPELINE_EXTRACT_TIMEOUT_S)",
    )
    ingest.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes extracting, cleaning and enriching documents in parallel (default: the CPU count up "
        "to 4, or PIPELINE_EXTRACT_WORKERS); 0 runs them in this process, without the extract timeout, for "
        "debugging and profiling",
    )
    ingest.add_argument(
        "--lock-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="when another process holds the database (another run, a query), wait this long for it before "
        "failing (default: 60, or PIPELINE_LOCK_TIMEOUT_S); the database is locked only while a run loads: "
        "queries go on while it works",
    )
    _add_data_docs(ingest)
    for what, default in (("quarantined", 0.5), ("duplicate", 0.9)):
        ingest.add_argument(
            f"--max-{what}-share",
            type=float,
            default=None,
            metavar="SHARE",
            help=f"audit: a run of at least 10 inputs with a larger {what} share is not published "
            f"(default: {default}, or PIPELINE_MAX_{what.upper()}_SHARE)",
        )
    ingest.add_argument(
        "--since",
        type=_day,
        default=None,
        metavar="YYYY-MM-DD",
        help="skip articles published before this day (UTC; counted as since.before_since); undated ones are kept",
    )
    ingest.add_argument(
        "--max-items-per-source",
        type=_positive_int,
        default=None,
        metavar="N",
        help="read at most N documents from each source (a folder's files, a feed's entries, a file's records); "
        "the rest are not read this run",
    )
    ingest.add_argument(
        "--dry-run",
        action="store_true",
        help="everything but the publish: the summary says what would land; the database is only read (not "
        "even created) and the run is not recorded",
    )
    ingest.add_argument(
        "--trigger",
        default="cli",
        choices=["cli", "scheduled", "manual", "test"],
        help="what started the run, as recorded in the runs table (default: cli)",
    )

    release = sub.add_parser(
        "release",
        parents=[verbose],
        help="publish a run that failed its audit and waits in staging",
        description=(
            "Publish RUN_ID, a run held in staging by a failed audit (see `ingest`), as it was staged: its "
            "articles, duplicates and quarantine rows are loaded in one transaction and the run is recorded "
            "as `released`. Inspect it first: the staging folder holds Parquet files and audit.json."
        ),
    )
    release.add_argument("run_id", metavar="RUN_ID", help="the run id ingest printed")
    release.add_argument("--db", type=Path, default=None, help="DuckDB file (default: data/articles.duckdb)")
    release.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    release.add_argument(
        "--lock-timeout", type=float, default=None, metavar="SECONDS", help="retry a locked DB"
    )

    reprocess = sub.add_parser(
        "reprocess",
        parents=[verbose],
        help="run extraction, cleaning, dedupe and validation again over the stored raw inputs",
        description=(
            "Every input a run reads is kept, compressed, in raw_documents. reprocess runs the stages after "
            "reading again over the latest stored version of each input, without fetching or reading the "
            "sources: after a rule change, articles whose text changes are updated in place and the rest are "
            "skipped as unchanged; inputs quarantined before that pass now land (their quarantine rows are "
            "marked resolved). The run is audited and published like an ingest run. Exit status as ingest."
        ),
    )
    reprocess.add_argument(
        "--quarantined",
        action="store_true",
        help="replay only the inputs whose latest outcome was quarantine (after fixing a rule or the suite)",
    )
    reprocess.add_argument("--run", metavar="RUN_ID", help="only the inputs this run read")
    _add_data_docs(reprocess)
    reprocess.add_argument(
        "--db", type=Path, default=None, help="DuckDB file (default: data/articles.duckdb)"
    )
    reprocess.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    reprocess.add_argument("--workers", type=int, default=None, help="extraction processes (as ingest)")
    reprocess.add_argument(
        "--lock-timeout", type=float, default=None, metavar="SECONDS", help="retry a locked DB"
    )

    sql = sub.add_parser(
        "sql",
        parents=[verbose],
        help="run one read-only SQL query against the database",
        description=(
            "Run one SQL statement (a query: SELECT/WITH/FROM, SHOW, DESCRIBE, SUMMARIZE, EXPLAIN, PRAGMA or "
            "CALL of a table function) on the database, read-only, and print the result. Nothing can be "
            "written, attached, installed or loaded, and no file but the database can be read: external "
            "access is off and DuckDB's configuration is locked. One statement per call."
        ),
    )
    sql.add_argument("query", help="the SQL to run, e.g. " + repr(EXAMPLE_QUERY))
    sql.add_argument("--db", type=Path, default=None, help="DuckDB file (default: data/articles.duckdb)")
    sql.add_argument(
        "--format", choices=["table", "csv", "json"], default="table", help="output format (default: table)"
    )
    sql.add_argument(
        "--lock-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="while a run is loading into the database, wait up to this long for it (default: 60, or "
        "PIPELINE_LOCK_TIMEOUT_S)",
    )
    return parser


def _day(text: str):
    from datetime import datetime

    try:
        return datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day like 2026-11-01") from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def _add_data_docs(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--data-docs",
        type=Path,
        nargs="?",
        const=Path("data/quality"),
        default=None,
        metavar="DIR",
        help="write the run's validation report (GX Data Docs: each chunk's row-level results and the audit) "
        "as HTML to DIR/index.html (default DIR: data/quality)",
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    # Great Expectations logs hundreds of lines of its own set-up at INFO (registering functions): not the run's
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    signal.signal(signal.SIGTERM, _stop)  # SIGINT already raises KeyboardInterrupt
    try:
        if args.command == "ingest":
            return _ingest(args)
        if args.command == "release":
            return _release(args)
        if args.command == "reprocess":
            return _reprocess(args)
        return _sql(args)
    except SetupError as exc:
        print(f"error: {hint(str(exc))}", file=sys.stderr)
        return EXIT_SETUP
    except KeyboardInterrupt as exc:
        stopped = exc if isinstance(exc, Interrupted) else Interrupted("SIGINT")
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second signal must not interrupt the message
        if sys.stderr.isatty():
            print("\r\033[K", end="", file=sys.stderr)
        print(f"error: {hint(stopped.message())}", file=sys.stderr)
        return 128 + (signal.SIGTERM if stopped.signal_name == "SIGTERM" else signal.SIGINT)


def entry() -> None:
    """The console command and `python -m pipeline`: `main`, then exit with its code.

    After a signal the run is recorded and the database closed, but daemon threads may still be inside native
    code (GX's import in the background, a C++ library's catch-all): finalizing the interpreter under them can
    abort it ("terminate called ... exception not rethrown", exit -6). So a stopped run leaves at once, its
    output flushed.
    """
    code = main()
    if code in (128 + signal.SIGTERM, 128 + signal.SIGINT):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def _stop(signum: int, frame) -> None:
    raise Interrupted(signal.Signals(signum).name)


def _ingest(args: argparse.Namespace) -> int:
    from pipeline.run.runner import run_ingest

    settings = Settings.from_env(
        db_path=args.db,
        max_input_bytes=args.max_input_bytes,
        extract_timeout_s=args.extract_timeout,
        extract_workers=args.workers,
        lock_timeout_s=args.lock_timeout,
        allow_private_network=args.allow_private_network,
        max_quarantined_share=args.max_quarantined_share,
        max_duplicate_share=args.max_duplicate_share,
        data_docs_dir=args.data_docs,
    )
    progress = Progress()
    sources = args.sources or ([] if args.sources_file else default_sources())
    summary = run_ingest(
        sources,
        settings,
        trigger=args.trigger,
        progress=progress,
        sources_file=args.sources_file,
        since=args.since,
        max_items=args.max_items_per_source,
        dry_run=args.dry_run,
    )
    progress.done()
    return _report(summary, args.json)


def _release(args: argparse.Namespace) -> int:
    from pipeline.run.runner import release_run

    settings = Settings.from_env(db_path=args.db, lock_timeout_s=args.lock_timeout)
    return _report(release_run(args.run_id, settings), args.json)


def _reprocess(args: argparse.Namespace) -> int:
    from pipeline.run.runner import reprocess_run

    settings = Settings.from_env(
        db_path=args.db, lock_timeout_s=args.lock_timeout, extract_workers=args.workers
    )
    if not settings.db_path.exists():
        raise SetupError(f"database {settings.db_path} does not exist; nothing to reprocess")
    summary = reprocess_run(settings, quarantined_only=args.quarantined, run_filter=args.run)
    return _report(summary, args.json)


def _report(summary, as_json: bool) -> int:
    if as_json:
        print(json.dumps(summary.to_dict(), sort_keys=True))
    else:
        print(hint(format_summary(summary)))
    if summary.data_docs:
        print(f"Validation report: {summary.data_docs}", file=sys.stderr)
    if summary.status == "audit_failed":
        failed = summary.audit["failed"] if summary.audit else []
        print(
            f"error: {hint(str(AuditFailed(summary.run_id, failed, summary.staging, summary.db)))}",
            file=sys.stderr,
        )
        return EXIT_AUDIT
    return EXIT_OK


# What `sql` runs: queries, and the read-only introspection statements DuckDB types as PRAGMA, CALL or EXPLAIN.
SQL_STATEMENTS = ("SELECT", "EXPLAIN", "PRAGMA", "CALL")


def _sql(args: argparse.Namespace) -> int:
    import duckdb

    from pipeline.store.connection import connect

    settings = Settings.from_env(db_path=args.db, lock_timeout_s=args.lock_timeout)
    db = settings.db_path
    if not db.exists():
        raise SetupError(f"database {db} does not exist; run `python -m pipeline ingest` first or pass --db")
    con = connect(db, lock_timeout_s=settings.lock_timeout_s, sandboxed=True)
    try:
        statements = con.extract_statements(args.query)
    except duckdb.Error as exc:
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return EXIT_USAGE
    if len(statements) != 1:
        print(f"error: give one SQL statement per call, not {len(statements)}", file=sys.stderr)
        return EXIT_USAGE
    kind = statements[0].type.name
    if kind == "CALL" and statements[0].query.lstrip().upper().startswith(("CHECKPOINT", "FORCE")):
        kind = "CHECKPOINT"  # DuckDB types it as a CALL; it is the writer's business
    if kind not in SQL_STATEMENTS:
        print(
            f"error: `sql` runs queries only (SELECT, SHOW, DESCRIBE, SUMMARIZE, EXPLAIN, PRAGMA, CALL), "
            f"not {kind}: the database is read-only here",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        rel = con.sql(args.query)
    except duckdb.Error as exc:
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return EXIT_USAGE
    if rel is None:
        return EXIT_OK
    if args.format == "table":
        rel.show(max_width=200, max_rows=200)
    elif args.format == "csv":
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(rel.columns)
        writer.writerows(rel.fetchall())
    else:
        rows = [dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()]
        print(json.dumps(rows, default=str, ensure_ascii=False))
    return EXIT_OK
