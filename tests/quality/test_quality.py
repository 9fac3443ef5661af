"""Data Docs for a run: GX renders an index and one page per validation result, all under out_dir."""

import re
from pathlib import Path

import pandas as pd
import pytest

from pipeline.quality.docs import validate_frame, write_data_docs
from pipeline.quality.gx import load_suite
from pipeline.quality.validate import FRAME_COLUMNS

ROOT = Path(__file__).resolve().parents[2]
LONG = "The harbour authority said the new pier would open in June after two years of delays. " * 4


def frame(short_body: bool = True) -> pd.DataFrame:
    """Three articles; with `short_body`, the first fails the suite's 200-character minimum."""
    rows = [
        {
            "article_id": f"{i:016x}",
            "source_uri": f"/x/{i}.txt",
            "url": f"https://example.com/{i}",
            "source": "example",
            "title": f"Harbour pier opens, part {i}",
            "title_source": "source",
            "author": "Ann Lee",
            "published_at": pd.Timestamp("2024-05-01 12:00"),
            "language": "en",
            "body": "Too short." if short_body and i == 0 else LONG,
            "word_count": 2 if short_body and i == 0 else len(LONG.split()),
            "content_hash": f"{i:064x}",
            "run_id": "r1",
            "ingested_at": pd.Timestamp("2026-05-01 12:00"),
            "extractor": "text",
        }
        for i in range(3)
    ]
    return pd.DataFrame(rows, columns=list(FRAME_COLUMNS))


@pytest.fixture(scope="module")
def suite():
    return load_suite(ROOT / "expectations" / "articles.json")


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cwd"
    path.mkdir()
    monkeypatch.chdir(path)
    return path


def result_pages(out_dir: Path) -> list[Path]:
    return sorted((out_dir / "validations").rglob("*.html"))


def failed_rows(page: Path) -> list[str]:
    """The text of the table rows of a result page that GX marks as failed (a red cross icon)."""
    rows = re.split(r"<tr\b", page.read_text(encoding="utf-8"))
    return [" ".join(re.sub(r"<[^>]*>", " ", row).split()) for row in rows if "fa-times text-danger" in row]


def test_data_docs_list_results_and_show_failed_expectations(suite, cwd: Path, tmp_path: Path):
    result = validate_frame(frame(), suite, "chunk-1")
    assert not result.success
    failed = [r for r in result.results if not r.success]
    assert {r.expectation_config.meta["name"] for r in failed} == {"body_min_200_chars", "body_min_30_words"}
    bad = next(r for r in failed if r.expectation_config.meta["name"] == "body_min_200_chars")
    assert bad.result["unexpected_index_list"] == [{"article_id": "0" * 16, "body": "Too short."}]

    out_dir = tmp_path / "quality"
    index = write_data_docs([result], out_dir)

    assert index == out_dir.resolve() / "index.html"
    html = index.read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert "articles" in html and "expectations/articles.html" in html  # the suite name, linked
    [page] = result_pages(out_dir)
    assert page.relative_to(out_dir).as_posix() in html  # the index links the result's page
    assert "chunk-1" in page.relative_to(out_dir).parts  # the run name
    assert any("greater than or equal to 200 characters long" in row for row in failed_rows(page))
    assert not any("values must never be null" in row for row in failed_rows(page))
    assert (out_dir / "expectations" / "articles.html").is_file()
    assert list(cwd.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cwd", "quality"]


def test_rerun_replaces_the_report(suite, cwd: Path, tmp_path: Path):
    out_dir = tmp_path / "quality"
    failing = validate_frame(frame(), suite, "chunk-1")
    passing = validate_frame(frame(short_body=False), suite, "chunk-2")
    assert passing.success

    write_data_docs([failing, passing], out_dir)
    write_data_docs([failing, passing], out_dir)
    assert len(result_pages(out_dir)) == 2

    index = write_data_docs([passing], out_dir)
    [page] = result_pages(out_dir)
    assert "chunk-2" in page.relative_to(out_dir).parts
    html = index.read_text(encoding="utf-8")
    assert page.relative_to(out_dir).as_posix() in html and "chunk-1" not in html
    assert failed_rows(page) == []
    assert list(cwd.iterdir()) == []


def test_results_without_run_id_each_get_a_page(suite, cwd: Path, tmp_path: Path):
    """Results as `batch.validate` returns them carry no run id; equal ones must not hide each other."""
    result = validate_frame(frame(), suite, "chunk-1")
    del result.meta["run_id"]
    out_dir = tmp_path / "quality"
    write_data_docs([result, result], out_dir)
    assert len(result_pages(out_dir)) == 2
    assert "run_id" not in result.meta  # the caller's result is left as it was


def test_a_run_of_the_seeds_writes_its_data_docs(seeds_copy, tmp_path):
    from pipeline.run.runner import run_ingest
    from pipeline.settings import Settings

    out = tmp_path / "quality"
    settings = Settings.from_env(db_path=tmp_path / "a.duckdb", data_docs_dir=out)
    summary = run_ingest([str(seeds_copy)], settings, trigger="test")
    assert summary.status == "success" and summary.data_docs == str((out / "index.html").resolve())
    pages = sorted(p.relative_to(out).parts[1] for p in (out / "validations").rglob("*.html"))
    assert pages == ["articles", "run_audit"]  # the row-level suite over the run's chunk, then the audit
    index = (out / "index.html").read_text()
    assert "articles" in index and "run_audit" in index


def test_the_runs_own_report_opens_offline_and_shows_flags_and_reasons_at_a_glance(seeds_copy, tmp_path):
    import re

    from pipeline.run.runner import run_ingest
    from pipeline.settings import Settings

    (seeds_copy / "short.txt").write_text("Short Post Headline\n\nA real post of a few words.\n")
    (seeds_copy / "broken.txt").write_bytes(b"\xff\xfe\x00broken")
    out = tmp_path / "quality"
    settings = Settings.from_env(db_path=tmp_path / "a.duckdb", data_docs_dir=out)
    run_ingest([str(seeds_copy)], settings, trigger="test")
    report = (out / "report.html").read_text()
    # nothing loaded from elsewhere: no script, no stylesheet or image by address
    assert "<script" not in report and not re.search(r"""(?:src|href)=['"]?(?:https?:)?//""", report)
    assert report.count("<svg") == 4  # where inputs ended, quarantine reasons, flags, removals
    assert "body_min_200_chars" in report and "body_min_30_words" in report  # the short post landed, flagged
    assert re.search(r"binary_content|bad_encoding", report)  # the broken file's reason
    assert "Audit: <span class='pass'>passed</span>" in report
