"""Dedupe: copies of a seed made the ways syndication makes them land as duplicates, within a run and across runs."""

import shutil

import duckdb
import pytest

from pipeline.dedupe.minhash import MinHasher, similarity
from pipeline.dedupe.stage import DedupeStage
from pipeline.document.enrich import EnrichStage
from pipeline.models import Article, Duplicate, Skipped
from pipeline.run.runner import run_ingest
from pipeline.settings import Settings
from pipeline.stage import Ledger
from tests.conftest import SEED_FILES, SEEDS, make_article

S000, S001, S002, S003, S004 = (p.name for p in SEED_FILES)


def seed_text(name: str) -> str:
    return (SEEDS / name).read_text(encoding="utf-8")


def under_other_boilerplate(text: str) -> str:
    """The same article republished by another site: its own header, prompts and related list."""
    head, body = text.split("\n", 1)
    return "\n".join(
        [
            head,
            "By Casey Morgan",
            "Share this article",
            body,
            "Advertisement",
            "Follow us on Facebook and Instagram for the latest updates.",
            "Related Articles",
            "• Markets rally as oil prices fall",
            "• Storm warning issued for the coast",
            "3 Comments",
        ]
    )


def with_changed_headline(text: str) -> str:
    return "Kremlin Silent as Kyiv Renews Offer of Talks\n" + text.split("\n", 1)[1]


def with_one_sentence_edited(text: str) -> str:
    old = "Five others were injured in the attack."
    assert old in text
    return text.replace(old, "At least five other residents were hurt in the strike, officials said.")


VARIANTS = {
    "other_boilerplate.txt": (S000, under_other_boilerplate),
    "changed_headline.txt": (S003, with_changed_headline),
    "edited_sentence.txt": (S001, with_one_sentence_edited),
    # 001 repeats its headline as the first body line; under a new headline that line stays in the body.
    "changed_repeated_headline.txt": (S001, with_changed_headline),
}


def write_variants(folder):
    folder.mkdir(parents=True, exist_ok=True)
    for name, (seed, make) in VARIANTS.items():
        (folder / name).write_text(make(seed_text(seed)), encoding="utf-8")


def duplicates(db):
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute(
        """SELECT regexp_extract(d.source_uri, '[^/]+$'), regexp_extract(a.source_uri, '[^/]+$'), d.method, d.similarity
           FROM article_duplicates d JOIN articles a ON a.article_id = d.duplicate_of"""
    ).fetchall()
    con.close()
    return {r[0]: r[1:] for r in rows}


def test_copies_within_one_run_land_as_duplicates(seeds_copy, tmp_path):
    write_variants(seeds_copy / "syndicated")
    db = tmp_path / "a.duckdb"
    summary = run_ingest([str(seeds_copy)], Settings.from_env(db_path=db), trigger="test")
    assert (summary.read, summary.landed, summary.duplicates) == (9, 5, 4)
    found = duplicates(db)
    assert found["other_boilerplate.txt"][:2] == (S000, "exact")
    assert found["changed_headline.txt"][:2] == (S003, "exact")
    method_similarity = found["edited_sentence.txt"][1:]
    assert found["edited_sentence.txt"][0] == S001
    assert method_similarity[0] == "near" and 0.8 < method_similarity[1] < 1.0
    assert found["changed_repeated_headline.txt"][:2] == (S001, "near")


def test_copies_in_a_later_run_are_duplicates_of_the_landed_rows(seeds_copy, tmp_path):
    db = tmp_path / "b.duckdb"
    settings = Settings.from_env(db_path=db)
    assert run_ingest([str(seeds_copy)], settings, trigger="test").landed == 5
    later = tmp_path / "later"
    write_variants(later)
    summary = run_ingest([str(later)], settings, trigger="test")
    assert (summary.read, summary.landed, summary.duplicates) == (4, 0, 4)
    assert {k: v[:2] for k, v in duplicates(db).items()} == {
        "other_boilerplate.txt": (S000, "exact"),
        "changed_headline.txt": (S003, "exact"),
        "edited_sentence.txt": (S001, "near"),
        "changed_repeated_headline.txt": (S001, "near"),
    }
    # Seen again unchanged, they are skipped rather than recorded twice.
    again = run_ingest([str(later)], settings, trigger="test")
    assert (again.read, again.skipped, again.duplicates) == (4, 4, 0)


def test_articles_of_the_same_story_from_different_sites_are_not_duplicates(tmp_path):
    # 000, 001 and 002 report one event, written independently: all land.
    folder = tmp_path / "story"
    folder.mkdir()
    for name in (S000, S001, S002):
        shutil.copy(SEEDS / name, folder / name)
    summary = run_ingest([str(folder)], Settings.from_env(db_path=tmp_path / "c.duckdb"), trigger="test")
    assert (summary.landed, summary.duplicates) == (3, 0)


PARA = "The river rose two metres overnight and officials closed the lower bridge to all traffic until further notice. "


def enriched(body: str, uri: str) -> Article:
    return EnrichStage(Ledger(), "r").apply(make_article(body, source_uri=uri))


def test_shared_site_template_does_not_make_different_articles_duplicates():
    template = "\n\n".join(
        ["Subscribe to the Valley Courier for unlimited access to local news and events."] * 3
    )
    a = enriched(template + "\n\n" + PARA * 3, "/s/a.txt")
    b = enriched(
        template
        + "\n\n"
        + "A new bakery opened on Main Street, selling bread from a century-old recipe. " * 3,
        "/s/b.txt",
    )
    stage = DedupeStage(Ledger(), Settings(), history=None)
    assert isinstance(stage.apply(a), Article)
    assert isinstance(stage.apply(b), Article)


def test_short_copy_contained_in_the_longer_article_is_a_near_duplicate():
    full = " ".join(
        f"Sentence number {i} of the report describes event {i * 7} in detail." for i in range(60)
    )
    first_half = full[: len(full) // 2].rsplit(" ", 1)[0]
    stage = DedupeStage(Ledger(), Settings(), history=None)
    assert isinstance(stage.apply(enriched(full, "/s/full.txt")), Article)
    result = stage.apply(enriched(first_half, "/s/half.txt"))
    assert isinstance(result, Duplicate) and result.method == "near"


def test_same_url_twice_in_a_run_is_a_url_duplicate():
    stage = DedupeStage(Ledger(), Settings(), history=None)
    enrich = EnrichStage(Ledger(), "r")
    one = enrich.apply(
        make_article(PARA * 4, url="https://ex.example/story?utm_source=a", source_uri="feed-a")
    )
    two = enrich.apply(
        make_article(PARA * 4 + "Updated.", url="https://ex.example/story", source_uri="feed-b")
    )
    assert isinstance(stage.apply(one), Article)
    result = stage.apply(two)
    assert isinstance(result, Duplicate) and result.method == "url"
    assert not isinstance(result, Skipped)


@pytest.mark.parametrize("edit_words", [1, 10])
def test_similarity_estimates_track_edits(edit_words):
    hasher = MinHasher(5, 128, 32)
    words = [f"w{i}" for i in range(400)]
    edited = list(words)
    for i in range(edit_words):
        edited[100 + i * 20] = "changed"
    jaccard, containment = similarity(hasher.signature(" ".join(words)), hasher.signature(" ".join(edited)))
    assert 0.6 < jaccard < 1.0 and containment >= jaccard


def _prose(rng, words: int) -> str:
    vocab = [
        f"{a}{b}"
        for a in ("ka", "lo", "mi", "nu", "pe", "ro", "su", "ti")
        for b in ("ra", "mo", "ne", "vi", "du")
    ]
    sentences = []
    while sum(len(s.split()) for s in sentences) < words:
        sentences.append(" ".join(rng.choice(vocab) for _ in range(12)).capitalize() + ".")
    return " ".join(sentences)


def _history_run_articles(rng, landed: list[str]):
    """A second run's inputs: copies of landed seeds, repeats, site templates forming mid-chunk, new ones."""
    template = "Subscribe to the Valley Courier for unlimited access to local news, events and more."
    # An in-run exact copy is not counted towards its site's template, but the look-ahead, which does not
    # know yet that it is a copy, counts it: so it foresees the wrong text for the third article.
    other = "Listen to the Courier podcast every morning on your way to work, wherever you are."
    first = other + "\n\n" + _prose(rng, 100)
    out = [
        make_article(first, url="https://valley.example/p1", source_uri="feed/p1"),
        make_article(first, url="https://valley.example/p2", source_uri="feed/p2"),
        make_article(other + "\n\n" + _prose(rng, 40), url="https://valley.example/p3", source_uri="feed/p3"),
    ]
    for i in range(60):
        kind = i % 6
        if kind == 0:  # an exact copy of a landed seed
            out.append(make_article(landed[i % 5], url=f"https://copy.example/{i}", source_uri=f"feed/{i}"))
        elif kind == 1:  # a near copy of a landed seed
            body = with_one_sentence_edited(seed_text(S001))
            out.append(make_article(body, url=f"https://near.example/{i}", source_uri=f"feed/{i}"))
        elif kind == 2:  # the same URL again: a url duplicate
            body = template + "\n\n" + _prose(rng, 80)
            out.append(make_article(body, url="https://valley.example/x", source_uri=f"feed/{i}"))
        else:
            body = template + "\n\n" + _prose(rng, 120)
            out.append(make_article(body, url=f"https://valley.example/{i}", source_uri=f"feed/{i}"))
    return out


def test_chunked_history_lookups_give_the_per_article_answers_with_few_queries(seeds_copy, tmp_path):
    import random

    from pipeline.store import Store

    db = tmp_path / "h.duckdb"
    assert run_ingest([str(seeds_copy)], Settings.from_env(db_path=db), trigger="test").landed == 5
    with Store(db, read_only=True) as store:
        landed = [b for (b,) in store.con.execute("SELECT body FROM articles ORDER BY source_uri").fetchall()]
    outcomes, queries = {}, {}
    for chunk in (1, 25):
        inputs = _history_run_articles(random.Random(7), landed)
        articles = [EnrichStage(Ledger(), "r").apply(a) for a in inputs]
        with Store(db, read_only=True) as store:
            stage = DedupeStage(Ledger(), Settings(dedupe_chunk=chunk), store.history)
            outcomes[chunk] = [
                (type(r).__name__, getattr(r, "method", None), getattr(r, "duplicate_of", None))
                for r in stage.run(articles)
            ]
            queries[chunk] = stage.history.queries
    assert outcomes[25] == outcomes[1]
    kinds = [o[:2] for o in outcomes[1]]
    assert kinds.count(("Duplicate", "exact")) == 11  # 10 seed copies and p2
    assert kinds.count(("Duplicate", "near")) == 10
    assert kinds.count(("Duplicate", "url")) == 9
    assert kinds.count(("Article", None)) == 33
    # Per article: several queries each. Per chunk of 25: one per kind of question (6), plus the few the
    # look-ahead did not foresee (p3's text, in the first chunk).
    assert queries[1] > 4 * 63
    assert 3 * 6 < queries[25] <= 3 * 6 + 4


def test_run_index_gives_what_a_dict_of_lists_gives(monkeypatch):
    import random

    from pipeline.dedupe.index import RunIndex

    monkeypatch.setattr(RunIndex, "FLUSH_AT", 7)  # flush often: members come from both parts
    rng = random.Random(3)
    index, reference = RunIndex(), {}
    pool = [rng.getrandbits(63) - 2**62 for _ in range(40)]  # few keys: buckets of many members
    for n in range(300):
        keys = rng.sample(pool, 4)
        expected = list(dict.fromkeys(a for k in keys for a in reference.get(k, ())))
        assert index.members(keys) == expected, n
        for k in keys:
            reference.setdefault(k, []).append(f"a{n}")
        index.add(f"a{n}", keys)
    assert len(index) == 1200 and len(index.keys) > 0 and index.pending_entries < 7


def test_a_body_signature_from_the_worker_gives_the_same_outcomes_and_is_used_only_for_the_whole_body():
    import numpy as np

    from bench.dedupe import ArticleGenerator
    from pipeline.dedupe.minhash import MinHasher, Signature, pack, precompute_signature

    settings = Settings()
    setup = (settings.shingle_size, settings.minhash_perms, settings.lsh_bands)
    plain = [g.article for g in ArticleGenerator(5).stream(300)]
    primed = [g.article for g in ArticleGenerator(5).stream(300)]
    for article in primed:
        precompute_signature(article, setup)

    def outcomes(articles):
        out = DedupeStage(Ledger(), settings, None).run(articles)
        return [(type(o).__name__, getattr(o, "method", None), getattr(o, "duplicate_of", None)) for o in out]

    assert outcomes(primed) == outcomes(plain)
    assert {m for _, m, _ in outcomes(plain)} >= {None, "near", "exact"}

    hasher = MinHasher(*setup)
    article = plain[0]
    cached = Signature(7, np.arange(settings.minhash_perms, dtype=np.uint32))
    cached_keys = list(range(settings.lsh_bands))
    article.body_signature = pack(setup, cached, cached_keys)
    sig, keys = hasher.of(article, article.body)
    assert (sig.shingles, sig.minhash.tolist(), keys) == (7, cached.minhash.tolist(), cached_keys)
    own_text = article.body.split("\n\n", 1)[1]  # a template paragraph left out: computed afresh
    sig, keys = hasher.of(article, own_text)
    assert keys == hasher.band_keys(hasher.signature(own_text)) and sig.shingles != 7
    article.body_signature = pack((4, 128, 64), cached, cached_keys)  # another setup: computed afresh
    assert hasher.of(article, article.body)[1] == hasher.band_keys(hasher.signature(article.body))


def test_run_signatures_keep_every_row_across_blocks():
    import numpy as np

    from pipeline.dedupe.index import RunSignatures
    from pipeline.dedupe.minhash import Signature

    held = RunSignatures(perms=8)
    rng = np.random.default_rng(3)
    sigs = {
        f"a{i}": Signature(i, rng.integers(0, 2**32, 8, dtype=np.uint32)) for i in range(2 * held.BLOCK + 5)
    }
    for aid, sig in sigs.items():
        held.add(aid, sig)
    assert len(held) == len(sigs) and len(held.minhash) == 3  # three blocks, the last one nearly empty
    for aid in ("a0", f"a{held.BLOCK - 1}", f"a{held.BLOCK}", f"a{2 * held.BLOCK + 4}"):
        assert held[aid].shingles == sigs[aid].shingles and (held[aid].minhash == sigs[aid].minhash).all()


HEADER = "Harbour Times | Local news since 1921"
BACKGROUND = (
    "The harbour has been dredged every ten years since the 1950s, and the last dredging, in 2014, cost the "
    "port authority eleven million euros and closed the northern channel for a summer."
)
FOOTER = "About us: the Harbour Times is published by the Harbour Media cooperative."


def _harbour_record(n: int) -> dict:
    import random

    own = _prose(random.Random(n), 90)
    text = f"Harbour story number {n}\n{HEADER}\n{own}\n{BACKGROUND}\n{_prose(random.Random(n + 50), 40)}\n{FOOTER}"
    return {"url": f"https://harbour.example/news/{n}", "text": text}


def test_a_sites_template_learned_from_its_landed_articles_leaves_later_bodies_across_runs(tmp_path):
    import json

    db = tmp_path / "t.duckdb"
    settings = Settings.from_env(db_path=db)
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text("".join(json.dumps(_harbour_record(n)) + "\n" for n in (1, 2)), encoding="utf-8")
    second.write_text("".join(json.dumps(_harbour_record(n)) + "\n" for n in (3, 4)), encoding="utf-8")
    summary = run_ingest([str(first)], settings, trigger="test")
    assert summary.landed == 2 and "site_template" not in summary.removed_by_rule()
    summary = run_ingest([str(second)], settings, trigger="test")
    assert summary.landed == 2 and summary.removed_by_rule()["site_template"] == 4  # header and footer, twice
    with duckdb.connect(str(db), read_only=True) as con:
        rows = dict(con.execute("SELECT url, body FROM articles").fetchall())
    for n in (1, 2):  # learned from, not rewritten
        assert HEADER in rows[f"https://harbour.example/news/{n}"]
    for n in (3, 4):
        body = rows[f"https://harbour.example/news/{n}"]
        assert HEADER not in body and FOOTER not in body
        assert BACKGROUND in body  # the site's prose repeated inside the story is the story's text


def test_template_trimming_within_a_run_keeps_a_body_that_would_be_left_too_short():
    import random

    stage = DedupeStage(Ledger(), Settings(), history=None)
    landed = []
    for n in range(4):
        body = "\n\n".join([HEADER, BACKGROUND, _prose(random.Random(n), 60), FOOTER])
        landed.append(stage.apply(enriched(body, f"/s/{n}.txt")))
    assert all(isinstance(a, Article) for a in landed)
    assert HEADER in landed[0].body and HEADER in landed[1].body
    assert HEADER not in landed[2].body and FOOTER not in landed[3].body
    # a lead the site's stories share is prose before their own text: a developing story's versions share it
    assert landed[3].body.startswith(BACKGROUND)
    assert landed[2].removed_rules["site_template"] == 2
    assert landed[2].word_count < landed[0].word_count + 5
    tiny = stage.apply(enriched(HEADER + "\n\nShort note.\n\n" + FOOTER, "/s/tiny.txt"))
    assert tiny.body.startswith(HEADER)  # less than 30 words would be left: nothing is removed


def test_a_trimmed_body_is_compared_by_its_own_signature_not_the_workers():
    import random

    from pipeline.dedupe.minhash import MinHasher, precompute_signature

    settings = Settings()
    setup = (settings.shingle_size, settings.minhash_perms, settings.lsh_bands)
    stage = DedupeStage(Ledger(), settings, history=None)
    out = []
    for n in range(3):
        article = enriched("\n\n".join([HEADER, _prose(random.Random(n), 80), FOOTER]), f"/s/{n}.txt")
        precompute_signature(article, setup)  # as the extraction worker does, over the whole body
        out.append(stage.apply(article))
    third = out[2]
    assert HEADER not in third.body
    sig, _ = MinHasher(*setup).of(make_article(third.body, source_uri="/x"), third.body)
    assert third.minhash == sig.to_bytes()  # the body it landed with, without the template
