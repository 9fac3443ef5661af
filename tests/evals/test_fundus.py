"""The fundus scorer: its matching rules on cases small enough to check by eye, the publisher split, and a tiny
fundus-shaped corpus through `make eval`'s command end to end."""

import gzip
import hashlib
import json
from datetime import datetime

import pytest

from evals.extraction import main
from evals.fundus import (
    BASELINES,
    HALVES,
    PIPELINE,
    FundusPage,
    author_names,
    authors_match,
    date_match,
    load_fundus,
    normalize,
    split_of,
    split_publishers,
    subsets,
    title_ceiling,
    title_exact,
    title_loose,
)
from pipeline.errors import SetupError


def test_both_texts_are_normalised_before_tokenizing():
    assert normalize("Ver\u00adkehr") == "Verkehr"  # a soft hyphen does not split the word
    assert (
        normalize("\ufeffa\u2060b\u200bc") == "ab c"
    )  # BOM and word joiner deleted, zero-width space a space
    assert normalize("Mu\u0308ller") == "Müller"  # NFC: a decomposed umlaut is one letter


def test_title_is_exact_after_collapsing_whitespace_and_loose_ignores_case_and_punctuation():
    assert title_exact("Was wissen wir? ", "Was  wissen\u00a0wir?")  # no-break and doubled spaces collapse
    assert title_exact("Stra\u00adße frei", "Straße frei")
    assert not title_exact(
        "Steigende US-Zinsen setzen Dax zu", "Steigende US-Zinsen setzen Dax zu | Börsen-Zeitung"
    )
    assert not title_exact("Five key policies", "five key policies")
    assert title_loose("Five key policies", "five key policies")
    assert title_loose("«Bella serata», pronti", '"Bella serata" pronti')
    assert title_loose("ｆｕｌｌ width", "full width")  # NFKC
    assert not title_loose("Five key policies", "Five key policies | Metro")
    assert not title_exact("A title", None) and not title_loose("", "")


def test_author_names_split_on_separators_and_and_words_strip_by_and_fold_case():
    assert author_names("By Jane Doe and John Roe") == {"jane doe", "john roe"}
    assert author_names("Von Anna Schmidt und Max Muster") == {"anna schmidt", "max muster"}
    assert author_names("A; B, C | D & E") == {"a", "b", "c", "d", "e"}
    assert author_names("STEVE PEOPLES AND THOMAS BEAUMONT") == {"steve peoples", "thomas beaumont"}
    assert author_names("Chus del Pino y Martí Abad") == {"chus del pino", "martí abad"}
    assert author_names("Anne Dupont et Paul Martin") == {"anne dupont", "paul martin"}
    assert author_names("高橋、佐藤") == {"高橋", "佐藤"}
    # An initial, or a name that is also an "and" word in another language, is never a separator.
    assert author_names("John E Smith") == {"john e smith"}
    assert author_names("By Dan Jervis-Bardy") == {"dan jervis-bardy"}
    assert author_names("Kim Na Young") == {"kim na young"}
    assert author_names("Capital Von Jemima Kelly") == {"capital von jemima kelly"}  # only a leading "Von"
    assert author_names(["Bill MCCARTHY", "AFP Deutschland"]) == {"bill mccarthy", "afp deutschland"}
    assert author_names(None) == set() and author_names("") == set()


def test_authors_compare_as_sets_and_null_expected_authors_are_left_out():
    assert authors_match(["STEVE PEOPLES", "THOMAS BEAUMONT"], "Thomas Beaumont; Steve Peoples")
    assert authors_match(
        ["Mathias Hagen", "Anders Skjerdingstad"], "By Mathias Hagen and Anders Skjerdingstad"
    )
    assert not authors_match(["Chuck Ross"], "Chuck Ross; Chuck-Ross")
    assert not authors_match(["Rachel Brazil"], "Brazil; Rachel")
    assert not authors_match(["Sehernur Karsu"], None)
    assert authors_match(None, "anyone") is None and authors_match(None, None) is None


def test_date_matches_the_day_in_the_expected_offset_or_in_utc():
    tokyo = "2025-01-14T01:28:54+09:00"  # 2025-01-13 16:28 UTC
    assert date_match(tokyo, datetime(2025, 1, 13, 16, 28, 54))  # the pipeline's naive UTC, read in +09:00
    assert date_match(tokyo, "2025-01-14")  # trafilatura's day, the expected offset's day
    assert date_match(tokyo, "2025-01-13")  # ... or the UTC day
    assert not date_match(tokyo, "2025-01-12")
    assert date_match("2024-08-05T08:00:00+00:00", "2024-08-04T23:30:00-02:00")  # 01:30 UTC on the 5th
    late = "2023-04-26T22:00:00-04:00"  # 2023-04-27 02:00 UTC
    assert date_match(late, "2023-04-27") and date_match(late, "2023-04-26")
    assert not date_match(late, datetime(2023, 4, 26))  # midnight UTC: the 25th in -04:00, not the UTC 27th
    assert not date_match(late, None) and not date_match(late, "")


def test_date_without_offset_allows_any_offset_from_minus_12_to_plus_14_hours():
    naive = "2024-04-22T00:00:00"
    assert date_match(naive, datetime(2024, 4, 21, 13, 0))  # 03:00 on the 22nd at +14 h
    assert not date_match(naive, datetime(2024, 4, 21, 9, 0))  # 23:00 on the 21st at +14 h
    assert date_match(naive, datetime(2024, 4, 22, 11, 59))  # still the 22nd at -12 h
    assert date_match(naive, datetime(2024, 4, 23, 11, 0))  # 23:00 on the 22nd at -12 h
    assert not date_match(naive, datetime(2024, 4, 23, 12, 0))
    assert date_match(naive, "2024-04-22") and not date_match(naive, "2024-04-21")  # a day is taken as it is
    assert date_match("2025-04-05", "2025-04-05T23:00:00+02:00")  # published_at_checked is a bare day


def _titled_page(publisher: str, expected: str, ld: str, og: str, h1: str) -> FundusPage:
    html = (
        f'<html><head><title>{ld} | {publisher}</title><meta property="og:title" content="{og}">'
        f'<script type="application/ld+json">{{"@type": "NewsArticle", "headline": "{ld}"}}</script></head>'
        f"<body><article><h1>{h1}</h1><p>Text.</p></article></body></html>"
    )
    return FundusPage(
        publisher, publisher, "en", f"https://{publisher.lower()}.example/a", html, expected, None, "", ""
    )


def test_the_title_ceiling_shows_when_no_fixed_order_of_the_pages_sources_can_match_every_publisher():
    # one publisher's expected title is its JSON-LD headline, the other's its og:title (which its <h1> shows)
    pages = [
        _titled_page("Alpha", "Rates rise again", "Rates rise again", "Rates up", "Rates up"),
        _titled_page(
            "Beta", "Storm hits coast", "Storm: what we know", "Storm hits coast", "Storm hits coast"
        ),
    ]
    row = title_ceiling(pages)["all"]
    assert row["JSON-LD headline"] == row["og:title"] == row["the one <h1>"] == 0.5
    assert row["<title>"] == 0.5  # less its " | Alpha" suffix, the first page's headline
    assert row["best fixed order"] == 0.5 and row["some source right"] == 1.0


def test_split_is_deterministic_documented_and_keeps_each_publisher_whole():
    publishers = [f"Publisher{n}" for n in range(40)]
    halves = split_publishers(publishers + publishers[:5])  # repeated names count once
    assert set(halves) == set(HALVES)
    assert sorted(halves["tune"] + halves["report"]) == sorted(publishers)
    assert 10 <= len(halves["tune"]) <= 30  # about half each
    assert halves == split_publishers(reversed(publishers))
    for name in publishers:  # the same everywhere: no salted hash(), no order dependence
        assert split_of(name) == HALVES[hashlib.sha256(name.encode()).digest()[-1] % 2]
    pages = [
        FundusPage(f"{p}_{n}", p, "en", "", "", "", None, "2024-01-01", "")
        for p in publishers
        for n in range(3)
    ]
    groups = subsets(pages)
    assert len(groups["all"]) == len(groups["tune"]) + len(groups["report"]) == 120
    for half in HALVES:
        assert {p.publisher for p in groups[half]} == set(halves[half])  # every page of a publisher together


# --- a tiny fundus-shaped corpus, end to end -----------------------------------------------------------------

PARAS_EN = [
    "The harbour authority said on Friday that the new ferry terminal would open in March, two years later "
    "than planned, after a long dispute over the cost of dredging the northern channel of the port.",
    "Engineers found that the channel had silted up far faster than the original survey had predicted, and "
    "the contractor asked for a new price before it would move its dredgers back into the harbour.",
    "Ferry operators welcomed the date but said they would wait for the first sailings before changing "
    "their timetables, since two earlier opening dates had come and gone without a single departure.",
]
PARAS_DE = [
    "Der Stadtrat hat am Dienstag beschlossen, die alte Brücke über den Fluss bis zum Herbst zu sanieren, "
    "nachdem Gutachter Risse in mehreren Pfeilern gefunden hatten und der Verkehr bereits eingeschränkt war.",
    "Die Arbeiten sollen in drei Abschnitten erfolgen, damit Fußgänger und Radfahrer die Brücke während der "
    "gesamten Bauzeit weiter nutzen können, während Autos über die Umgehungsstraße geleitet werden.",
    "Anwohner hatten seit Jahren eine Sanierung gefordert und begrüßten den Beschluss, kritisierten aber die "
    "lange Dauer der Planung und die Kosten, die sich seit dem ersten Entwurf fast verdoppelt haben.",
]


def _page(title: str, meta: str, paras: list[str]) -> str:
    body = "".join(f"<p>{p}</p>" for p in paras)
    return (
        f"<html><head><title>{title}</title><meta property='og:title' content='{title}'>{meta}</head>"
        f"<body><article><h1>{title}</h1>{body}</article></body></html>"
    )


def write_corpus(root) -> None:
    """Three pages: one clean (tune half), one with a wrong title and a checked date, one with no article."""
    (root / "html").mkdir(parents=True)
    pages = {
        "Alpha_2024_05_03": _page(  # en, Alpha: the tune half
            "Ferry terminal to open in March",
            "<meta name='author' content='Jane Doe'>"
            "<meta property='article:published_time' content='2024-05-03T23:30:00+02:00'>",
            PARAS_EN,
        ),
        "Beta_2024_01_06": _page(  # de, Beta: the report half; the page's title is not the headline
            "Stadtrat | Beta Nachrichten",
            "<meta property='article:published_time' content='2024-01-06T10:00:00+01:00'>",
            # the page writes a decomposed umlaut, the truth a composed one: NFC makes them equal
            [p.replace("ü", "u\u0308") for p in PARAS_DE],
        ),
        "Gamma_2025_02_02": (  # de, Gamma: the report half; the text only in a script
            "<html><head><title>Nur ein Skript</title></head><body>"
            "<script>var article = 'Die Meldung steht nur hier im Skript';</script></body></html>"
        ),
    }
    for key, html in pages.items():
        with gzip.open(root / "html" / f"{key}.html.gz", "wt", encoding="utf-8") as f:
            f.write(html)
    truth = {
        "Alpha_2024_05_03": {
            "publisher": "Alpha",
            "language": "en",
            "url": "https://alpha.example/news/ferry-terminal",
            "title": "Ferry terminal to open in March",
            "authors": ["Jane Doe"],
            "published_at": "2024-05-03T23:30:00+02:00",
            "body": "\n\n".join(PARAS_EN),
        },
        "Beta_2024_01_06": {
            "publisher": "Beta",
            "language": "de",
            "url": "https://beta.example/stadt/bruecke",
            "title": "Stadtrat beschließt Sanierung der Brücke",
            "authors": None,
            "published_at": "2024-06-01T00:00:00",  # day and month swapped, as on two real pages
            "published_at_checked": "2024-01-06",
            "body": "\n\n".join(PARAS_DE).replace("Verkehr", "Ver\u00adkehr"),
        },
        "Gamma_2025_02_02": {
            "publisher": "Gamma",
            "language": "de",
            "url": "https://gamma.example/meldung",
            "title": "Die Meldung",
            "authors": ["Max Muster"],
            "published_at": "2025-02-02T08:00:00+01:00",
            "body": "Die Meldung steht nur hier im Skript, und ein Leser, der nur das Markup liest, findet sie nicht.",
        },
    }
    (root / "ground-truth.json").write_text(json.dumps(truth, ensure_ascii=False), encoding="utf-8")


def test_loader_reads_pages_in_id_order_and_scores_dates_against_the_checked_day(tmp_path):
    write_corpus(tmp_path)
    pages = load_fundus(tmp_path)
    assert [p.id for p in pages] == ["Alpha_2024_05_03", "Beta_2024_01_06", "Gamma_2025_02_02"]
    assert pages[1].published_at == "2024-01-06" and pages[1].authors is None
    assert [p.half for p in pages] == [split_of("Alpha"), split_of("Beta"), split_of("Gamma")]
    assert [p.half for p in pages] == ["tune", "report", "report"]  # what the figures below rely on


def test_eval_scores_a_tiny_fundus_corpus_end_to_end_and_skips_an_absent_aeb(tmp_path, capsys):
    write_corpus(tmp_path / "fundus")
    out_file = tmp_path / "out" / "eval.json"
    argv = ["--corpus", f"aeb={tmp_path / 'no-aeb'}", "--corpus", f"fundus={tmp_path / 'fundus'}"]
    assert main([*argv, "--bootstrap", "2", "--json", str(out_file)]) == 0
    captured = capsys.readouterr()
    skipped = [line for line in captured.err.splitlines() if "AEB corpus not found" in line]
    assert len(skipped) == 1 and skipped[0].startswith("skipped: ")

    out = json.loads(out_file.read_text(encoding="utf-8"))
    assert "scores" not in out and out["absent"] == [skipped[0].removeprefix("skipped: ")]
    fundus = out["fundus"]
    assert fundus["pages"] == 3 and fundus["languages"] == {"de": 2, "en": 1}
    assert fundus["split"] == {"tune": ["Alpha"], "report": ["Beta", "Gamma"]}
    assert set(fundus["scores"]) == {PIPELINE, *BASELINES}
    for name, figures in fundus["scores"].items():
        every = figures["all"]["overall"]
        assert every["pages"] == 3 and every["empty"] == 1, name
        assert every["recall"] == pytest.approx(2 / 3), name
        if name == PIPELINE:
            assert every["precision"] == 1.0 and every["f1"] == pytest.approx(0.8)
            assert every["accuracy"] == pytest.approx(2 / 3)
        else:  # plain trafilatura keeps the <h1> headline as the body's first line (our lead_heading rule does not)
            assert every["precision"] < 1.0 and every["accuracy"] == 0.0, name
        assert every["title"] == pytest.approx(1 / 3) and every["title_loose"] == pytest.approx(1 / 3), name
        assert every["authors"] == 0.5 and every["authors_pages"] == 2, name  # Beta's null authors left out
        assert every["date"] == pytest.approx(2 / 3), name  # Beta's against published_at_checked
        assert figures["all"]["by_language"]["en"]["recall"] == 1.0
        assert figures["all"]["by_language"]["de"]["pages"] == 2
        assert figures["all"]["by_language"]["de"]["recall"] == 0.5
        tune, report = figures["tune"]["overall"], figures["report"]["overall"]
        assert tune["pages"] == 1 and tune["recall"] == 1.0
        assert (tune["title"], tune["authors"], tune["date"]) == (1.0, 1.0, 1.0)
        assert (report["pages"], report["recall"], report["title"], report["date"]) == (2, 0.5, 0.0, 0.5)
        assert list(figures["report"]["by_language"]) == ["de"]
    (quarantined,) = fundus["not_scored"][PIPELINE]
    assert quarantined["id"] == "Gamma_2025_02_02" and quarantined["status"] == "quarantined"
    assert quarantined["reason"].startswith("no_article_text")
    assert [r["status"] for r in fundus["not_scored"][next(iter(BASELINES))]] == ["empty"]
    assert fundus["pipeline_run"]["landed"] == 2 and fundus["pipeline_run"]["quarantined"] == 1
    assert fundus["per_page"][PIPELINE]["Beta_2024_01_06"]["title_loose"] is False

    printed = captured.out
    for heading in (
        "fundus, all pages: 3 pages",
        "fundus, tune half: 1 pages",
        "fundus, report half: 2 pages",
    ):
        assert heading in printed
    assert "tune   1 publishers, 1 pages, 1 languages (en 1): Alpha" in printed
    assert "Gamma_2025_02_02" in printed and "quarantined: no_article_text" in printed


def test_an_absent_or_wrong_fundus_corpus_is_one_line_and_exits_non_zero_only_when_nothing_is_left(
    tmp_path, capsys
):
    assert main(["--corpus", f"fundus={tmp_path / 'nowhere'}"]) == 3
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("error: fundus corpus not found at")
    assert "FUNDUS=" in err[0]

    assert main(["--corpus", f"aeb={tmp_path / 'a'}", "--corpus", f"fundus={tmp_path / 'b'}"]) == 3
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and "AEB corpus not found" in err[0] and "fundus corpus not found" in err[1]

    (tmp_path / "aeb").mkdir()  # an AEB-shaped folder passed as fundus, and the other way round
    (tmp_path / "aeb" / "ground-truth.json").write_text(json.dumps({"x": {"articleBody": "b", "url": "u"}}))
    write_corpus(tmp_path / "fundus")
    with pytest.raises(SetupError, match="not the fundus corpus"):
        load_fundus(tmp_path / "aeb")
    assert main(["--corpus", f"aeb={tmp_path / 'fundus'}"]) == 3
    assert "is not AEB" in capsys.readouterr().err
