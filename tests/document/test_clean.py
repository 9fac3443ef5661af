"""Boilerplate rules, one family at a time, on examples written for these tests (not the seed strings)."""

import pytest

from pipeline.document.clean import clean_lines, comment_thread_start, derive_title
from pipeline.document.rules import LINE_RULES, RULE_REASONS

PARA = (
    "The city council voted on Tuesday to approve the new transit budget, which adds twelve bus routes "
    "and extends service hours on weekends across the northern districts."
)
PARA2 = (
    "Opponents said the plan relied on optimistic fare projections and warned that the council would "
    "have to revisit the numbers before the end of the fiscal year."
)


def removed_by(lines, title=None):
    cleaned = clean_lines(lines, title)
    return cleaned.lines, dict(cleaned.removed), cleaned.author


@pytest.mark.parametrize(
    "line",
    [
        "Leave a comment",
        "Add a Comment:",
        "Share your thoughts",
        "Join the discussion",
        "Comments (12)",
        "17 Comments",
        "COMMENTS 3",
        "View all comments",
        "Comments are closed.",
        "Your email address will not be published.",
        "Required fields are marked *",
        "Cancel reply",
    ],
)
def test_comment_prompts_are_removed(line):
    kept, removed, _ = removed_by([PARA, line, PARA2])
    assert kept == [PARA, PARA2]
    assert removed == {"comment_prompt": 1}


@pytest.mark.parametrize(
    "line", ["« Previous Article", "Next Story »", "Older Post Newer Post", "Prev Post | Next Post"]
)
def test_post_navigation_is_removed(line):
    kept, removed, _ = removed_by([PARA, line])
    assert kept == [PARA] and removed == {"post_navigation": 1}


@pytest.mark.parametrize(
    "line,rule",
    [
        ("Share this story", "share_prompt"),
        ("Share on LinkedIn", "share_prompt"),
        ("Facebook Twitter WhatsApp Email", "share_prompt"),
        ("Follow us on Instagram for more city news.", "follow_prompt"),
        (
            "Like us on Facebook and join us on Telegram to get the latest stories from the Valley Courier.",
            "follow_prompt",
        ),
        ("Sign up for our morning newsletter to get these stories in your inbox.", "newsletter_prompt"),
        ("For more news, follow @valleycourier on X and Bluesky.", "follow_prompt"),
    ],
)
def test_share_and_follow_prompts_are_removed(line, rule):
    kept, removed, _ = removed_by([PARA, line])
    assert kept == [PARA] and removed == {rule: 1}


@pytest.mark.parametrize(
    "line,rule",
    [
        ("Advertisement", "advertisement"),
        ("- Story continues below advertisement -", "advertisement"),
        ("© 2024 Valley Courier Media. All rights reserved.", "copyright"),
        ("Photo: Maria Lopez/Valley Courier", "photo_credit"),
        ("(Getty Images)", "photo_credit"),
        ("Tags: transit, budget, council", "tags_line"),
    ],
)
def test_page_furniture_is_removed(line, rule):
    kept, removed, _ = removed_by([PARA, line, PARA2])
    assert kept == [PARA, PARA2] and removed == {rule: 1}


def test_article_sentences_that_mention_prompts_are_kept():
    lines = [
        PARA,
        "Residents can leave a comment on the proposal at any library branch until the end of March, officials said.",
        "The mayor said she would follow the debate on Twitter and Facebook, where residents have posted for weeks.",
        "Comments from the public hearing filled more than forty pages of the official record released on Friday.",
    ]
    kept, removed, _ = removed_by(lines)
    assert kept == lines and removed == {}


def test_related_list_heading_and_bullets_are_removed():
    lines = [
        PARA,
        PARA2,
        "Related Stories",
        "• Bus drivers vote to strike",
        "• Bridge closes for repairs",
        "- New park opens downtown",
    ]
    kept, removed, _ = removed_by(lines)
    assert kept == [PARA, PARA2]
    assert removed == {"related_list": 4}


def test_related_list_of_unbulleted_headlines_at_the_end_is_removed():
    lines = [
        PARA,
        PARA2,
        "You may also like",
        "Bus drivers vote to strike",
        "Bridge closes for repairs over weekend",
    ]
    kept, removed, _ = removed_by(lines)
    assert kept == [PARA, PARA2] and removed == {"related_list": 3}


def test_section_heading_after_a_stray_read_more_is_kept():
    lines = [PARA, "Read more", "What Happens Next", PARA2]
    kept, removed, _ = removed_by(lines)
    assert kept == [PARA, "What Happens Next", PARA2]
    assert removed == {"related_list": 1}


def test_repeated_headline_in_the_head_is_removed_and_later_mentions_kept():
    title = "Council Approves Transit Budget"
    lines = ["Council approves transit budget!", PARA, "Council Approves Transit Budget", PARA2]
    kept, removed, _ = removed_by(lines, title)
    assert kept == [PARA, "Council Approves Transit Budget", PARA2]
    assert removed == {"repeated_headline": 1}


@pytest.mark.parametrize(
    "head,author",
    [
        (["By Amelia Ortiz"], "Amelia Ortiz"),
        (["By Amelia Ortiz | March 3, 2024"], "Amelia Ortiz"),
        (["Written by: Amelia Ortiz, Staff Reporter"], "Amelia Ortiz"),
        (["By", "Amelia Ortiz"], "Amelia Ortiz"),
        (["Amelia Ortiz Avatar", "By"], "Amelia Ortiz"),
    ],
)
def test_bylines_give_the_author_and_leave_the_body(head, author):
    kept, removed, found = removed_by([*head, PARA, PARA2], "Council Approves Transit Budget")
    assert kept == [PARA, PARA2]
    assert found == author
    assert sum(removed.values()) == len(head)


def test_lone_by_before_the_repeated_headline_does_not_take_it_as_author():
    title = "Council Approves Transit Budget For Next Year"
    kept, _, author = removed_by(["By", title, PARA], title)
    assert kept == [PARA] and author is None


def test_a_byline_later_in_the_text_is_article_text():
    line = "By Tuesday Evening"  # a phrase, far from the head of the article
    lines = [PARA] * 9 + [line, PARA2]
    kept, removed, _ = removed_by(lines)
    assert line in kept and removed == {}


def test_whitespace_is_normalised_and_nothing_else():
    kept, _, _ = removed_by(["  The  quick\u00a0brown\tfox — “quoted” marco rubio  ", ""])
    assert kept == ["The quick brown fox — “quoted” marco rubio"]


def test_derived_title_is_the_lead_sentence_cut_at_a_word():
    body = "Short lead sentence here. Then more text follows."
    assert derive_title(body) == "Short lead sentence here"
    long = "word " * 60 + "end."
    title = derive_title(long)
    assert title.endswith("…") and len(title) <= 121 and "  " not in title


def test_every_rule_has_a_reason():
    assert all(RULE_REASONS[r.name] for r in LINE_RULES)


ARTICLE_ES = [
    "El Ayuntamiento aprobó el martes el presupuesto para el próximo año tras un largo debate en el pleno municipal.",
    "La oposición criticó los recortes en escuelas y guarderías y anunció que presentará alegaciones este mes.",
    "El alcalde defendió las cuentas como las más sociales de la historia de la ciudad, según dijo a los periodistas.",
]


@pytest.mark.parametrize(
    "thread",
    [
        [
            "Comentarios",
            "juanp_88",
            "hace 2 horas",
            "Otra vez subiendo impuestos, como siempre con este gobierno.",
            "Responder",
            "MariaL",
            "hace 3 horas",
            "Pues a mí me parece bien que se invierta en escuelas.",
            "Responder 4",
        ],
        [
            "12 Kommentare",
            "Leser123 vor 2 Stunden",
            "Das war zu erwarten, die Stadt hat kein Geld mehr.",
            "Antworten Melden",
            "Hans M. vor 5 Stunden",
            "Endlich wird in Schulen investiert!",
            "Antworten",
        ],
        [
            "jdoe",
            "3 hours ago",
            "Typical. They always find money for this.",
            "Reply Like 12",
            "sam_k",
            "5 hours ago",
            "Good news for the schools, finally.",
            "Reply",
        ],
        [
            "コメント",
            "田中",
            "2時間前",
            "またか。",
            "返信",
            "鈴木",
            "5時間前",
            "学校への投資は良いことだ。",
            "返信",
        ],
    ],
)
def test_a_comment_thread_after_the_article_is_cut_by_its_shape(thread):
    out = clean_lines(ARTICLE_ES + thread, "Presupuesto aprobado")
    assert out.lines == ARTICLE_ES
    assert out.removed["comment_thread"] >= len(thread) - 1


def test_relative_times_in_the_article_or_before_it_are_no_thread():
    live = [
        "Updated 2 hours ago",
        ARTICLE_ES[0],
        "1 hour ago",
        ARTICLE_ES[1],
        "30 minutes ago",
        ARTICLE_ES[2],
    ]
    assert comment_thread_start(live) is None  # a live blog's times run through it from the start
    prose = [
        *ARTICLE_ES,
        "Hace 2 horas, la policía confirmó que el detenido había sido puesto en libertad sin cargos.",
    ]
    assert comment_thread_start(prose) is None  # a sentence is not furniture
    one = [*ARTICLE_ES, "Responder"]
    assert comment_thread_start(one) is None  # one label is not a thread


@pytest.mark.parametrize(
    "byline,author",
    [
        ("Von Anna Sleegers, Frankfurt", "Anna Sleegers"),
        ("Par Jean Dupont", "Jean Dupont"),
        ("Por María García, Madrid", "María García"),
        ("Di Mario Rossi | 12 maggio 2026", "Mario Rossi"),
    ],
)
def test_bylines_in_other_languages_give_the_author_and_leave_the_body(byline, author):
    out = clean_lines([byline, *ARTICLE_ES], "Presupuesto aprobado")
    assert out.lines == ARTICLE_ES and out.author == author and out.removed["byline"] == 1


def test_a_sentence_that_starts_like_a_byline_is_kept():
    line = "Von Montag an gilt in der Stadt die neue Regel für alle Busse und Bahnen."
    assert clean_lines([line, *ARTICLE_ES], "Neue Regel").lines[0] == line


def test_the_clean_stage_looks_for_the_box_of_the_author_the_page_named():
    from pipeline.document.clean import CleanStage
    from pipeline.stage import Ledger
    from tests.conftest import make_article

    text = (
        "The harbour authority said on Friday that the new ferry terminal would open in March.\n"
        "Local businesses had hoped for more visitors during the summer season.\n"
        "Ana Ruiz is a reporter covering the port and the islands."
    )
    ledger = Ledger()
    out = CleanStage(ledger).apply(make_article(text, author="Ana Ruiz"))
    assert out.body.split("\n\n") == text.split("\n")[:2] and out.removed_rules == {"author_box": 1}
    assert out.author == "Ana Ruiz"
    kept = CleanStage(Ledger()).apply(make_article(text))  # no byline known: nothing to recognise it by
    assert kept.body.split("\n\n") == text.split("\n")


def test_a_paywall_box_goes_with_its_prompt_to_the_page_end():
    # Written for this test: a teaser paragraph, the prompt, then the offer's list, price and footnote.
    lines = [
        PARA,
        PARA2,
        "Subscribe now to continue reading.",
        "With a subscription you get:",
        "- Unlimited articles on every device",
        "- The daily newsletter",
        "Only $1 for the first month, cancel anytime",
        "* Offer for new readers only.",
    ]
    kept, removed, _ = removed_by(lines)
    assert kept == [PARA, PARA2]
    assert removed == {"paywall_prompt": 1, "paywall_box": 5}


def test_a_paywall_box_in_japanese_ends_at_the_page_end():
    teaser = (
        "市の交通局は十二日、来月から深夜の路線バスを増便すると発表した。利用者の多い三路線が対象となる。"
    )
    lines = [
        teaser,
        "この記事は有料会員限定です。",
        "- 会員になると記事が読み放題",
        "- メールマガジンをお届け",
    ]
    kept, removed, _ = removed_by(lines)
    assert kept == [teaser] and removed == {"paywall_prompt": 1, "paywall_box": 2}


def test_article_paragraphs_after_a_paywall_prompt_are_kept():
    # A prompt set between paragraphs is a banner: the article goes on under it, so only the prompt goes.
    lines = [PARA, "Subscribe now", "Offer ends soon", PARA2]
    kept, removed, _ = removed_by(lines)
    assert kept == [PARA, "Offer ends soon", PARA2] and removed == {"paywall_prompt": 1}


def test_pointers_under_a_label_the_page_repeats_are_removed():
    # Written for this test, in Dutch: a label the page puts before each pointer to another story.
    lines = [
        PARA,
        "LEES OOK DIT VERHAAL | Brug gaat dicht voor onderhoud",
        PARA2,
        "LEES OOK DIT VERHAAL | Nieuwe buslijnen in het noorden",
        "Het college wil het plan in juni uitvoeren.",
    ]
    kept, removed, _ = removed_by(lines)
    assert kept == [PARA, PARA2, "Het college wil het plan in juni uitvoeren."]
    assert removed == {"pointer_label": 2}


def test_a_label_before_a_bar_once_or_a_table_row_is_kept():
    lines = [PARA, "Bron | Gemeente Utrecht, 2024", PARA2, "Jaar | Reizigers | Lijnen", "2023 | 41.000 | 12"]
    kept, removed, _ = removed_by(lines)
    assert kept == lines and removed == {}


@pytest.mark.parametrize(
    "line",
    [
        "Reading time: 4 min",
        "Tempo de leitura: 2 minutos",
        "Tiempo de lectura 3 min",
        "Tempo di lettura: 5 minuti",
        "Czas czytania: 6 min",
    ],
)
def test_reading_time_labels_that_open_with_the_label_are_removed(line):
    kept, removed, _ = removed_by([PARA, line, PARA2])
    assert kept == [PARA, PARA2] and removed == {"reading_time": 1}


def test_a_related_heading_takes_its_linked_headlines_even_one_asking_a_question():
    from pipeline.models import Block

    blocks = [
        Block(PARA, "p"),
        Block(PARA2, "p"),
        Block("You may also like...", "p"),
        Block("Who will win the council seat in 2026?", "p", link_ratio=1.0),
        Block("Bus drivers vote to strike", "p", link_ratio=1.0),
        Block("The mayor will answer questions from residents at the town hall on Thursday evening.", "p"),
    ]
    cleaned = clean_lines(blocks, None)
    assert cleaned.lines == [PARA, PARA2, blocks[-1].text]
    assert dict(cleaned.removed) == {"related_list": 3}


@pytest.mark.parametrize(
    "line,rule",
    [
        ("twitter.com/janedoe", "social_profile"),
        ("https://www.linkedin.com/in/jane-doe/", "social_profile"),
        ("More AP football: https://apnews.com/football and https://twitter.com/AP_Sports", "address_list"),
    ],
)
def test_profile_addresses_and_address_lists_are_removed(line, rule):
    kept, removed, _ = removed_by([PARA, PARA2, line])
    assert kept == [PARA, PARA2] and removed == {rule: 1}


def test_a_sentence_with_an_address_or_a_site_name_is_kept():
    lines = [
        PARA,
        "The report is at https://example.org/report and the data at https://example.org/data, she said.",
        "www.example.org",
        PARA2,
    ]
    kept, removed, _ = removed_by(lines)
    assert kept == lines and removed == {}
