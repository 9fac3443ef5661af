"""The extract step through the document stage's worker pool: input order, pass-through of outcomes, counting,
rejections, cleanup."""

import multiprocessing

from pipeline.document.stage import DocumentStage, DocumentSteps
from pipeline.models import Article, Block, Duplicate, Quarantined, Skipped
from pipeline.stage import Ledger
from tests.conftest import is_alive

TOPICS = [
    ("Library Extends Opening Hours", "The central library will open until nine on weekdays from next month"),
    ("Bakery Wins Regional Award", "A family bakery in the old town has won a regional prize for rye bread"),
    ("Bridge Repairs Finish Early", "Repairs to the north bridge finished a week ahead of schedule"),
    ("School Plants Community Orchard", "Pupils at the primary school planted forty fruit trees on Saturday"),
]


def html_article(n: int) -> Article:
    title, lead = TOPICS[n % len(TOPICS)]
    page = f"""<!doctype html><html><head><title>{title}</title></head><body>
<article><h1>{title}</h1>
<p>{lead}, officials said in a statement published on the council website on Wednesday morning.</p>
<p>Residents had asked for the change for several years, and a survey last autumn found strong support
among people who live and work in the neighbourhood, according to the report number {n}.</p>
<p>The cost will be covered by the existing budget, a spokesperson said, and no new staff are needed.</p>
</article></body></html>"""
    return Article(source_uri=f"/in/page-{n}.html", raw=page.encode(), media_type="text/html")


def text_article(n: int) -> Article:
    title, lead = TOPICS[n % len(TOPICS)]
    text = f"{title}\n\n{lead}.\nThe change was announced on Wednesday, report number {n}.\n"
    return Article(source_uri=f"/in/note-{n}.txt", raw=text.encode())


def stage(ledger: Ledger | None = None, timeout_s: float = 30) -> DocumentStage:
    """Only the extract step, in two workers."""
    return DocumentStage(ledger or Ledger(), DocumentSteps(("extract",)), 2, timeout_s, memory_limit_mb=None)


def worker_pids() -> set[int]:
    """Live pool workers started by this process (the forkserver and resource tracker are not among them)."""
    return {p.pid for p in multiprocessing.active_children() if p.name == "WorkerPool-worker"}


def test_a_mixed_stream_keeps_input_order_and_passes_outcomes_through_untouched():
    earlier = Quarantined("/in/big.html", "read", ("too_large",), "over the cap", {})
    skipped = Skipped("/in/same.txt", "0123456789abcdef")
    duplicate = Duplicate("/in/copy.txt", None, "fedcba9876543210", "exact", 1.0, "A Title", "ab" * 32)
    items = [
        earlier,
        html_article(0),
        text_article(1),
        skipped,
        html_article(2),
        Article(source_uri="/in/empty.html", raw=b"", media_type="text/html"),
        text_article(3),
        duplicate,
        html_article(4),
        text_article(5),
        earlier,
    ]
    ledger = Ledger()

    out = list(stage(ledger).run(items))

    assert [o.source_uri for o in out] == [i.source_uri for i in items]
    assert out[0] is earlier and out[3] is skipped and out[7] is duplicate and out[10] is earlier
    assert isinstance(out[5], Quarantined) and (out[5].stage, out[5].reasons) == ("extract", ("empty",))
    articles = [o for i, o in enumerate(out) if i not in (0, 3, 5, 7, 10)]
    assert all(isinstance(a, Article) for a in articles)
    assert [a.extractor for a in articles] == ["trafilatura", "text"] * 3
    assert [a.title for a in articles] == [TOPICS[n % len(TOPICS)][0] for n in (0, 1, 2, 3, 4, 5)]
    assert ledger.by_stage() == {"extract": {"total": 7, "forwarded": 6, "dropped_empty": 1}}


def test_bad_documents_are_quarantined_with_their_reason_through_the_workers():
    items = [
        Article(source_uri="/in/empty.html", raw=b"", media_type="text/html"),
        Article(source_uri="/in/blank.html", raw=b"  \n\t ", media_type="text/html"),
        Article(source_uri="/in/nul.html", raw=b"<html>\x00\x01\x02</html>", media_type="text/html"),
        Article(source_uri="/in/binary.txt", raw=b"\x00\x01\x02binary\x00\xff" * 50),
        Article(source_uri="/in/empty.txt", raw=b""),
        html_article(1),
    ]
    ledger = Ledger()

    out = list(stage(ledger).run(items))

    assert [(o.stage, o.reasons) for o in out[:5]] == [
        ("extract", ("empty",)),
        ("extract", ("empty",)),
        ("extract", ("binary_content",)),
        ("extract", ("binary_content",)),
        ("extract", ("empty",)),
    ]
    assert all(isinstance(o, Quarantined) and o.detail for o in out[:5])
    assert isinstance(out[5], Article)
    assert ledger.by_stage()["extract"] == {
        "total": 6,
        "forwarded": 1,
        "dropped_empty": 3,
        "dropped_binary_content": 2,
    }


def test_results_drop_their_bytes_and_html_results_carry_blocks():
    html, text = html_article(0), text_article(1)

    out_html, out_text = stage().run([html, text])

    assert out_html.raw == b"" and out_text.raw == b""
    assert out_html.extractor == "trafilatura"
    assert out_html.blocks and all(isinstance(b, Block) for b in out_html.blocks)
    assert out_html.body == "\n".join(b.text for b in out_html.blocks)
    assert any(b.kind == "p" and b.text.startswith("The central library") for b in out_html.blocks)
    assert out_text.extractor == "text" and out_text.blocks == []
    assert out_text.title == TOPICS[1][0]


def test_a_stream_of_outcomes_only_passes_through_without_starting_workers():
    before = worker_pids()
    earlier = Quarantined("/in/a.html", "read", ("unsupported_type",), "no reader", {})
    skipped = Skipped("/in/b.txt", "0123456789abcdef")
    ledger = Ledger()

    out = list(stage(ledger).run([earlier, skipped]))

    assert out == [earlier, skipped] and out[0] is earlier and out[1] is skipped
    assert ledger.by_stage() == {}
    assert worker_pids() == before


def test_closing_the_output_early_leaves_no_worker_running():
    before = worker_pids()
    results = stage().run(html_article(n) for n in range(50))

    first = next(results)
    assert isinstance(first, Article) and first.source_uri == "/in/page-0.html"
    started = worker_pids() - before
    assert started  # work is in flight when the consumer gives up
    results.close()

    assert not worker_pids() & started
    assert not [pid for pid in started if is_alive(pid)]


def test_all_document_steps_in_workers_count_and_decide_as_in_one_process():
    from datetime import datetime

    from pipeline.document.stage import DocumentStage, DocumentSteps

    class Raw:
        def __init__(self):
            self.rows = []

        def add_raw(self, row):
            self.rows.append(row)

    boilerplate = Article(source_uri="/in/share.txt", raw=b"Share this article\n\nFollow us on Twitter\n")
    spec = DocumentSteps(
        ("retain", "extract", "clean", "enrich"), "run-1", datetime(2026, 1, 2), datetime(2026, 1, 1)
    )

    def run(workers):
        inputs = [
            html_article(0),
            text_article(1),
            boilerplate,
            Article(source_uri="/in/e.html", raw=b"", media_type="text/html"),
        ]
        ledger, raw = Ledger(), Raw()
        out = list(DocumentStage(ledger, spec, workers, 30.0, None, writer=raw).run(inputs))
        return out, ledger.by_stage(), raw.rows

    (pooled, pooled_counts, pooled_raw), (local, local_counts, local_raw) = run(2), run(0)

    assert pooled_counts == local_counts
    assert pooled_counts["retain"]["total"] == 4 and pooled_counts["enrich"] == {"total": 2, "forwarded": 2}
    assert pooled_counts["clean"]["dropped_empty_after_cleaning"] == 1
    assert [r["source_uri"] for r in pooled_raw] == [r["source_uri"] for r in local_raw] == [
        "/in/page-0.html", "/in/note-1.txt", "/in/share.txt"
    ]  # fmt: skip
    assert [type(o) for o in pooled] == [Article, Article, Quarantined, Quarantined]
    for a, b in zip(pooled, local, strict=True):
        assert a == b
    assert (
        pooled[0].article_id and pooled[0].ingested_at == datetime(2026, 1, 2) and pooled[0].run_id == "run-1"
    )
    assert (pooled[2].stage, pooled[3].stage) == ("clean", "extract")


def test_workers_compute_the_body_minhash_for_dedupe_when_asked():
    from pipeline.dedupe.minhash import MinHasher, unpack

    setup = (5, 128, 64)
    spec = DocumentSteps(("extract", "clean", "enrich"), "run-1", minhash=setup)
    html, text = DocumentStage(Ledger(), spec, workers=2).run([html_article(0), text_article(1)])

    hasher = MinHasher(*setup)
    for article in (html, text):
        got_setup, sig, keys = unpack(article.body_signature)
        assert got_setup == setup and keys == hasher.band_keys(hasher.signature(article.body))
        assert sig.shingles == hasher.signature(article.body).shingles
    (plain,) = DocumentStage(Ledger(), DocumentSteps(("extract",)), workers=2).run([text_article(1)])
    assert plain.body_signature is None


def test_an_error_reading_the_input_reaches_the_consumer_and_leaves_no_worker():
    import pytest

    before = worker_pids()

    def inputs():
        yield html_article(0)
        yield text_article(1)
        raise OSError("the source folder vanished")

    results = stage().run(inputs())
    with pytest.raises(OSError, match="vanished"):
        list(results)
    assert worker_pids() == before


def test_inputs_are_read_ahead_in_a_thread_of_their_own_in_order_and_the_thread_ends_with_the_reading():
    import threading
    import time

    import pytest

    from pipeline.document.stage import _read_ahead

    before = {t for t in threading.enumerate() if t.name == "document-reader"}

    def readers() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name == "document-reader"} - before

    pulled: list[int] = []

    def inputs(n: int, fail_at: int | None = None):
        for i in range(n):
            if i == fail_at:
                raise OSError("the source folder vanished")
            pulled.append(i)
            yield i

    stop = threading.Event()
    ahead = _read_ahead(inputs(100), stop, ahead=5)
    assert next(ahead) == 0
    deadline = time.monotonic() + 10
    while len(pulled) < 7 and time.monotonic() < deadline:  # the reader goes on while nobody asks
        time.sleep(0.01)
    time.sleep(0.1)
    assert len(pulled) == 7  # 1 taken, 5 queued, 1 waiting to be queued: no further
    assert [next(ahead) for _ in range(9)] == list(range(1, 10))
    ahead.close()  # the consumer gives up: the reader stops and is joined
    assert not readers()

    pulled.clear()
    assert list(_read_ahead(inputs(40), stop, ahead=3)) == list(range(40))
    failing = _read_ahead(inputs(10, fail_at=4), stop)
    assert [next(failing) for _ in range(4)] == [0, 1, 2, 3]
    with pytest.raises(OSError, match="vanished"):  # in its place, after what was read before it
        next(failing)
    assert not readers()

    stopped = _read_ahead(inputs(100), stop, ahead=2)
    assert next(stopped) == 0
    stop.set()  # the run stops: the reader ends and so does the stream
    assert len(list(stopped)) <= 3
    assert not readers()


def test_a_pool_that_fails_mid_run_leaves_no_reader_thread(monkeypatch):
    import threading

    import pytest

    import pipeline.document.workers as workers

    monkeypatch.setattr(workers, "prepare", lambda preload: None)  # the forkserver's own preloads untouched

    class Broken(DocumentStage):
        PRELOAD = (*DocumentStage.PRELOAD, "no_such_module_for_the_reader_test")

    before = {t for t in threading.enumerate() if t.name == "document-reader"}
    results = Broken(Ledger(), DocumentSteps(("extract",)), 2, 30, memory_limit_mb=None).run(
        html_article(n) for n in range(40)
    )
    with pytest.raises(RuntimeError, match="failed to start"):
        list(results)
    assert {t for t in threading.enumerate() if t.name == "document-reader"} <= before
