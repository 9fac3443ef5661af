"""ExtractStage through its worker pool: input order, pass-through of outcomes, counting, rejections, cleanup."""

import multiprocessing

from pipeline.extract import ExtractStage
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


def stage(ledger: Ledger | None = None, timeout_s: float = 30) -> ExtractStage:
    return ExtractStage(ledger or Ledger(), workers=2, timeout_s=timeout_s, memory_limit_mb=None)


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
