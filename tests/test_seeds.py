"""The seed articles come out as seeds/EXPECTED.md says."""

import duckdb
import pytest

from pipeline.run.runner import run_ingest
from pipeline.settings import Settings
from pipeline.text import normalise_line
from tests.conftest import SEEDS

TITLES = {
    "000_527c1e9419822988.txt": "Ukraine-Russia war: Zelensky Pushes for New Peace Talks Amid Escalating Missile Strikes",
    "001_518c15d28a5a5fac.txt": "Zelensky Proposes New Meeting with Putin",
    "002_a00791b87005af6a.txt": "Ukraine Seeks New Peace Talks With Russia Amid Ongoing Violence",
    "003_10ba14a720ddbf50.txt": (
        "Russia and Ukraine Exchange Strikes Amid Peace Talks, Zelenskyy Prepares for Discussions with Trump"
    ),
}
# Lines of each file that are boilerplate (EXPECTED.md's table); every other line after the headline is article.
BOILERPLATE = {
    "000_527c1e9419822988.txt": [],
    "001_518c15d28a5a5fac.txt": [
        "Zelensky Proposes New Meeting with Putin",
        "Post a Comment",
        "Previous Post Next Post",
    ],
    "002_a00791b87005af6a.txt": [
        "Jordan Hayes Avatar",
        "By",
        "Ukraine Seeks New Peace Talks With Russia Amid Ongoing Violence",
        "KEEP READING",
        "• Superman Soars High with $57.3 Million in Second Weekend",
        "• The Heartfelt Dilemma of Rural Queenslanders Facing Health Challenges",
        "• Crows Soar to Victory with Thilthorpe’s Key Contributions",
        "• Scottie Scheffler Reflects on Life Beyond Golf Ahead of The Open",
        "• New Political Dynamics in Tasmania as Leaders Engage Crossbenchers",
        "• Perth Grandmother Appeals Six-Year Sentence in Japan with Help of Romance Scam Expert",
    ],
    "003_10ba14a720ddbf50.txt": [
        "Leave a Reply",
        "Your email address will not be published. Required fields are marked *",
    ],
    "004_07f1c8b7a9386372.txt": [
        "For breaking news and live news updates, like us on Facebook or follow us on Twitter and Instagram. "
        "Read more on Latest World on thefoxdaily.com.",
        "COMMENTS 0",
    ],
}
HEADINGS = [
    "Renewed Calls for Peace Talks Amid Escalating Conflict",
    "Western Concerns Over Russian Tactics",
    "Urgent Need for Military Support",
    "Geneva Peace Talks",
    "Russia Pushes Forward Militarily",
]


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("seeds")
    db = tmp / "articles.duckdb"
    summary = run_ingest([str(SEEDS)], Settings.from_env(db_path=db), trigger="test")
    assert summary.landed == 5 and summary.read == 5
    con = duckdb.connect(str(db), read_only=True)
    cols = ["source_uri", "title", "title_source", "author", "body", "published_at", "language", "word_count"]
    data = con.execute(f"SELECT {', '.join(cols)} FROM articles").fetchall()
    con.close()
    return {r[0].rsplit("/", 1)[-1]: dict(zip(cols, r, strict=True)) for r in data}


def expected_paragraphs(name: str) -> list[str]:
    lines = [normalise_line(line) for line in (SEEDS / name).read_text(encoding="utf-8").splitlines()]
    lines = [line for line in lines if line]
    if name in TITLES:
        lines = lines[1:]
    drop = list(BOILERPLATE[name])
    kept = []
    for line in lines:
        if line in drop:
            drop.remove(line)  # each listed occurrence once; "Jordan Hayes Avatar" is listed per place below
        elif line == "Jordan Hayes Avatar":
            continue
        else:
            kept.append(line)
    return kept


def test_all_five_land(rows):
    assert sorted(rows) == sorted(p.name for p in SEEDS.glob("*.txt"))


@pytest.mark.parametrize("name", sorted(TITLES))
def test_titles_from_the_headline_line(rows, name):
    assert rows[name]["title"] == TITLES[name]
    assert rows[name]["title_source"] == "source"


def test_004_title_is_derived_from_the_lead_and_marked(rows):
    row = rows["004_07f1c8b7a9386372.txt"]
    assert row["title_source"] == "derived"
    assert row["title"].startswith("Ukrainian President Volodymyr Zelenskyy has once again appealed")
    assert row["body"].startswith("Ukrainian President Volodymyr Zelenskyy has once again appealed")


def test_authors(rows):
    assert rows["002_a00791b87005af6a.txt"]["author"] == "Jordan Hayes"
    assert all(r["author"] is None for name, r in rows.items() if not name.startswith("002"))


@pytest.mark.parametrize("name", sorted(BOILERPLATE))
def test_body_is_every_article_paragraph_in_order_and_nothing_else(rows, name):
    assert rows[name]["body"].split("\n\n") == expected_paragraphs(name)


@pytest.mark.parametrize("name", sorted(BOILERPLATE))
def test_no_listed_boilerplate_left(rows, name):
    body = rows[name]["body"]
    for line in BOILERPLATE[name]:
        if line not in TITLES.values():
            assert line not in body
    assert "Avatar" not in body and "KEEP READING" not in body


def test_section_headings_and_exact_wording_stay(rows):
    paragraphs = {p for r in rows.values() for p in r["body"].split("\n\n")}
    for heading in HEADINGS:
        assert heading in paragraphs
    body_004 = rows["004_07f1c8b7a9386372.txt"]["body"]
    assert "marco rubio" in body_004 and "Vladimir putin" in body_004


def test_no_dates_invented_and_all_english(rows):
    assert all(r["published_at"] is None for r in rows.values())
    assert all(r["language"] == "en" for r in rows.values())
