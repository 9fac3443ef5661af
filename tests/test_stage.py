"""The stage base's error policy and the reader stage."""

import subprocess
import sys

import pytest

from pipeline.errors import Reject, SetupError
from pipeline.models import Article, Quarantined
from pipeline.read.sources import ReadStage, documents, expand_sources
from pipeline.settings import Settings
from pipeline.stage import Ledger, Stage
from tests.conftest import ROOT


class Fussy(Stage):
    name = "fussy"

    def process(self, article):
        if "reject" in article.source_uri:
            raise Reject("not_wanted", "the test says so")
        if "bug" in article.source_uri:
            raise KeyError("boom")
        return article


def test_bad_input_and_bugs_are_quarantined_and_counted_and_the_stream_goes_on():
    ledger = Ledger()
    items = [Article("ok-1"), Article("reject-me"), Article("bug-here"), Article("ok-2")]
    out = list(Fussy(ledger).run(items))
    assert [type(i).__name__ for i in out] == ["Article", "Quarantined", "Quarantined", "Article"]
    assert out[1].reasons == ("not_wanted",) and out[1].detail == "the test says so"
    assert out[2].reasons == ("error_KeyError",) and "boom" in out[2].detail
    assert ledger.by_stage() == {
        "fussy": {"total": 4, "forwarded": 2, "dropped_not_wanted": 1, "dropped_error_KeyError": 1}
    }


def test_outcomes_pass_through_later_stages_untouched():
    q = Quarantined("x", "read", ("too_large",), "", {})
    ledger = Ledger()
    assert list(Fussy(ledger).run([q])) == [q]
    assert ledger.counts == {}


def test_reader_caps_size_and_refuses_unknown_types(tmp_path):
    (tmp_path / "big.txt").write_text("x" * 2000)
    (tmp_path / "ok.txt").write_text("Headline\n\nBody text.")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    ledger = Ledger()
    files = [tmp_path / "big.txt", tmp_path / "ok.txt", tmp_path / "image.png"]
    out = list(ReadStage(ledger, max_bytes=1000).run(documents(files)))
    assert isinstance(out[0], Quarantined) and out[0].reasons == ("too_large",)
    assert (
        isinstance(out[1], Article)
        and out[1].raw.startswith(b"Headline")
        and out[1].media_type == "text/plain"
    )
    assert isinstance(out[2], Quarantined) and out[2].reasons == ("unsupported_type",)


def test_expand_sources_walks_folders_in_order_and_skips_hidden(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "b" / "c.html").write_text("x")
    (tmp_path / ".hidden.txt").write_text("x")
    (tmp_path / "notes.md").write_text("x")
    files, ignored = expand_sources([str(tmp_path), str(tmp_path / "a.txt")])
    assert files == [str(tmp_path / "a.txt"), str(tmp_path / "b" / "c.html")]
    assert ignored == [tmp_path / "notes.md"]
    url = "https://news.example/feed.xml"  # URLs are kept as they are, in the order given
    assert expand_sources([url, str(tmp_path / "a.txt")])[0] == [url, str(tmp_path / "a.txt")]
    with pytest.raises(SetupError, match="does not exist"):
        expand_sources([str(tmp_path / "missing")])


def test_settings_from_environment_and_validation():
    s = Settings.from_env(
        {"PIPELINE_MAX_INPUT_BYTES": "123", "PIPELINE_DB_PATH": "/tmp/x.duckdb"}, lsh_bands=16
    )
    assert s.max_input_bytes == 123 and str(s.db_path) == "/tmp/x.duckdb" and s.lsh_bands == 16
    assert s.staging_root == s.db_path.parent / "staging"
    with pytest.raises(SetupError, match="PIPELINE_MAX_INPUT_BYTES"):
        Settings.from_env({"PIPELINE_MAX_INPUT_BYTES": "lots"})
    with pytest.raises(SetupError, match="multiple"):
        Settings(minhash_perms=100, lsh_bands=32)
    with pytest.raises(SetupError, match="near_dup_jaccard"):
        Settings(near_dup_jaccard=1.5)


def test_pipeline_runs_without_airflow(seeds_copy, tmp_path):
    """pipeline/ must import and run with Airflow absent: block the import and ingest the seeds."""
    code = (
        "import sys; sys.modules['airflow'] = None; "
        "from pipeline.cli import main; "
        f"rc = main(['ingest', {str(seeds_copy)!r}, '--db', {str(tmp_path / 'x.duckdb')!r}, '--json']); "
        "assert 'airflow' not in [m.split('.')[0] for m in sys.modules if sys.modules[m] is not None]; "
        "sys.exit(rc)"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert '"landed": 5' in proc.stdout


class Batched(Stage):
    """A stage that needs whole batches: it rejects articles whose source_uri repeats within its batch."""

    name = "batched"
    batch_size = 2

    def __init__(self, ledger):
        super().__init__(ledger)
        self.batches: list[list[str]] = []

    def process_batch(self, articles):
        self.batches.append([a.source_uri for a in articles])
        seen, out = set(), []
        for a in articles:
            out.append(Reject("repeated", "seen in this batch") if a.source_uri in seen else a)
            seen.add(a.source_uri)
        return out


def test_the_batch_hook_sees_batches_of_articles_and_the_base_counts_and_keeps_order():
    ledger = Ledger()
    q = Quarantined("q", "read", ("too_large",), "", {})
    items = [Article("a"), q, Article("a"), Article("b"), Article("c")]
    stage = Batched(ledger)
    out = list(stage.run(items))
    assert stage.batches == [["a", "a"], ["b", "c"]]  # outcomes of earlier stages are not in a batch
    assert [getattr(i, "source_uri", None) for i in out] == ["a", "q", "a", "b", "c"]
    assert out[1] is q and isinstance(out[2], Quarantined) and out[2].reasons == ("repeated",)
    assert ledger.by_stage() == {"batched": {"total": 4, "forwarded": 3, "dropped_repeated": 1}}


def test_the_default_batch_hook_is_process_under_the_same_error_policy():
    class FussyInBatches(Fussy):
        batch_size = 3

    ledger = Ledger()
    items = [Article("ok-1"), Article("reject-me"), Article("bug-here"), Article("ok-2")]
    out = list(FussyInBatches(ledger).run(items))
    assert [type(i).__name__ for i in out] == ["Article", "Quarantined", "Quarantined", "Article"]
    assert ledger.by_stage()["fussy"] == {
        "total": 4,
        "forwarded": 2,
        "dropped_not_wanted": 1,
        "dropped_error_KeyError": 1,
    }


def test_batch_sizes_may_grow():
    class Growing(Batched):
        def batch_sizes(self):
            yield from (1, 2, 4, 4, 4)

    stage = Growing(Ledger())
    list(stage.run([Article(str(i)) for i in range(9)]))
    assert [len(b) for b in stage.batches] == [1, 2, 4, 2]
