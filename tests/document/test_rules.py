"""The rule families added for HTML pages, on examples written for these tests: each removes what it should,
and the nearby article sentences it must not touch stay."""

import pytest

from pipeline.document.clean import clean_lines
from pipeline.document.rules import BLOCK_RULES, LINE_RULES, RULE_REASONS
from pipeline.models import Block

PARA = (
    "The harbour authority said on Friday that the new ferry terminal would open in March, two years later "
    "than planned, after a dispute over the cost of dredging the northern channel."
)
PARA2 = (
    "Local businesses had hoped the terminal would bring more visitors during the summer season, and several "
    "said the delay had already cost them bookings."
)


def cleaned(lines, title=None, description=None, url=None):
    out = clean_lines(lines, title, description, url)
    return out.lines, dict(out.removed)


@pytest.mark.parametrize(
    "line,rule",
    [
        ("Thanks for signing up!", "newsletter_prompt"),
        ("Get the morning briefing delivered to your inbox every weekday.", "newsletter_prompt"),
        ("There was an error processing your subscription.", "newsletter_prompt"),
        ("Sign up for breaking news, reviews, opinion and more.", "newsletter_prompt"),
        ("Sign Up for News Updates", "newsletter_prompt"),
        ("Read more: Ferry operators brace for a quiet winter", "related_link"),
        ("RELATED: Port strike ends after six days", "related_link"),
        ("Also on harbourtimes.example Dredging firm wins second contract", "related_link"),
        ("Lesen Sie auch: Neue Fähre für den Hafen", "related_link"),
        ("Don't miss", "related_link"),
        ("Click here to download our free harbour guide", "click_prompt"),
        ("GET THE HARBOUR TIMES APP", "click_prompt"),
        ("(Reporting by Ana Ruiz; Editing by Tom Hale)", "credit_line"),
        ("Staff writer Lee Park contributed to this report.", "credit_line"),
        ("Write to Ana Ruiz at ana.ruiz@harbourtimes.example", "contact_line"),
        ("Updated: Tue., Nov. 19, 2019", "timestamp"),
        ("Published 18 November 2019 at 10:32 a.m.", "timestamp"),
        ("2019-11-19T08:57:40+01:00", "timestamp"),
        ("https://cdn.example.com/images/ferry-terminal-800x450.jpg", "media_url"),
        ("The new terminal at dawn, photos © Harbour Times, 2019", "photo_credit"),
        ("The terminal under construction in May.Reuters", "photo_credit"),
        ("- Order Reprints", "share_prompt"),
        ("Like this story? Share it with a friend!", "comment_prompt"),
        ("This copy is for your personal, non-commercial use only.", "reprint_notice"),
        ("Comments are moderated and may take a day to appear.", "comment_prompt"),
        ("ATENÇÃO: Comentários ofensivos não serão aprovados pelo moderador.", "comment_prompt"),
        ("You must confirm your public display name before commenting", "comment_prompt"),
        ("Please log in to comment on this article.", "comment_prompt"),
        (
            "Please logout and then login again, you will then be prompted to enter your display name.",
            "comment_prompt",
        ),
        ("Tags", "tags_line"),
        ("02:57 Min.. Verfügbar bis 06.05.2024.", "media_duration"),
        ("05.09.2024 | 2:03 min", "media_duration"),
        ("1:02:10 minutes", "media_duration"),
        ("After the vote the council met again to discuss the ferry. 18.04.2024 | 0:21 min", "media_teaser"),
        ("(dpa)", "newsroom_initials"),
        ("Ferry Terminal Opens at Last Ferry Terminal Opens at Last", "teaser_card"),
        ("Follow the Harbour Times on Google News for more.", "follow_prompt"),
        ("Add us as a preferred source on Google", "follow_prompt"),
        ("(dmk/red)", "newsroom_initials"),
        ("Von Nina Magoley", "byline"),  # after the lead paragraph, still in the article's first lines
    ],
)
def test_line_rules_remove_their_family(line, rule):
    kept, removed = cleaned([PARA, line, PARA2])
    assert kept == [PARA, PARA2] and removed == {rule: 1}


@pytest.mark.parametrize(
    "line",
    [
        "The newsletter, which reached 40,000 readers in its first month, was cancelled after a year.",
        "Residents can sign up for a permit at the harbour office until March.",
        "The ferry operator declined to comment before the inquiry reports.",
        "Read more about the dispute in the authority's annual report, which was published in June.",
        "Officials said they would click through every clause of the contract before signing it again.",
        "The ferry leaves at 10 p.m.",
        "02-751-1500",
        "http://archive.example.org/reports/2019/dredging.html",
        "Reporting the accident to the coastguard took the crew more than an hour, the inquiry found.",
        "He ran the mile in 4:05 minutes flat, a record for the island.",
        "The crossing on 18.04.2024 took the new ferry 1:05 min less than the old one.",
        "She won the 800 metres on 12.06.2024 in 1:58 min.",  # a date and a time, but no player's bar
        "(see the chart below)",
        "She said no, no, no, no to the plan and left the room.",
        "The ferry will run twice a day. The ferry will run twice a day.",  # a sentence said twice is no card
        "— Ana Ruiz (@anaruiz) August 5, 2024",  # an embedded post's signature: AEB's labels keep those
    ],
)
def test_article_sentences_and_citations_are_kept(line):
    kept, removed = cleaned([PARA, line, PARA2])
    assert kept == [PARA, line, PARA2] and removed == {}


def test_lead_heading_and_standfirst_go_section_headings_stay():
    deck = "The long-delayed terminal will open in March after a row over dredging costs was settled."
    blocks = [
        Block("Ferry Terminal Finally Gets an Opening Date.", "head", 1),
        Block(deck, "head", 2),
        Block(PARA, "p"),
        Block("What the delay cost", "head", 3),
        Block(PARA2, "p"),
    ]
    kept, removed = cleaned(blocks, title="Ferry terminal finally gets an opening date", description=deck)
    assert kept == [PARA, "What the delay cost", PARA2]
    assert removed == {"repeated_headline": 1, "standfirst": 1}
    blocks[0] = Block("Harbour Times", "head", 1)  # an h1 that is not the title is still above the text
    kept, removed = cleaned(blocks, title="Ferry terminal finally gets an opening date", description=deck)
    assert removed == {"lead_heading": 1, "standfirst": 1}


def test_a_lead_paragraph_set_as_a_heading_stays_when_it_is_not_the_summary():
    lead = "Un nuevo muelle abrirá en marzo, dos años tarde, después de una larga disputa por el dragado del canal."
    blocks = [Block(lead, "head", 2), Block(PARA, "p"), Block(PARA2, "p")]
    kept, removed = cleaned(
        blocks, title="Muelle nuevo", description="Otra cosa que dice el resumen de la página."
    )
    assert kept == [lead, PARA, PARA2] and removed == {}


def test_link_items_and_link_lines_go_prose_and_citations_with_links_stay():
    blocks = [
        Block(PARA, "p", link_ratio=0.1),
        Block("- Dredging firm wins second contract", "item", link_ratio=1.0),
        Block("- Winter timetable announced", "item", link_ratio=0.9),
        Block("- Passengers must show a ticket at the gate", "item", link_ratio=0.0),
        Block("Who will run the new ferry route", "p", link_ratio=1.0),
        Block("Port strike ends after six days", "p", link_ratio=1.0),
        Block("See the full timetable on the authority's site.", "p", link_ratio=1.0),
        Block("https://harbour.example/reports/dredging-2019.pdf", "p", link_ratio=1.0),
        Block("press@harbour.example", "p", link_ratio=1.0),
        Block(PARA2, "p", link_ratio=0.3),
    ]
    kept, removed = cleaned(blocks)
    assert removed == {"link_item": 2, "link_line": 2, "contact_line": 1}  # the address is contact, not link
    assert kept == [
        PARA,
        "- Passengers must show a ticket at the gate",
        "See the full timetable on the authority's site.",
        "https://harbour.example/reports/dredging-2019.pdf",
        PARA2,
    ]


def test_teaser_lists_after_the_text_and_headings_that_head_nothing_go():
    blocks = [
        Block(PARA, "p"),
        Block("- Passengers must show a ticket: ferry rules explained", "item", link_ratio=0.3),
        Block(PARA2, "p"),
        Block("Sign up for Harbour Weekly", "head", 3),
        Block("- Dredging firm wins second contract The deal is worth two million", "item", link_ratio=0.4),
        Block("- Winter timetable out Fewer sailings from November", "item", link_ratio=0.35),
        Block("Harbour Weekly Extra", "head", 3),
    ]
    kept, removed = cleaned(blocks)
    # the same kind of item inside the article stays; a section heading followed by text would stay too
    assert kept == [PARA, "- Passengers must show a ticket: ferry rules explained", PARA2]
    assert removed == {"trailing_links": 2, "dangling_heading": 2}


def test_block_rules_never_fire_on_plain_text():
    lines = ["Port strike ends after six days", PARA, "- Dredging firm wins second contract", PARA2]
    kept, removed = cleaned(lines)
    assert kept == lines and removed == {}


def test_html_headline_repeated_later_and_the_page_url_are_removed():
    title = "Ferry terminal finally gets an opening date"
    url = "https://harbour.example/news/ferry-terminal"
    blocks = [Block(PARA, "p"), Block(title, "other"), Block(url + "/", "p"), Block(PARA2, "p")]
    kept, removed = cleaned(blocks, title=title, url=url)
    assert kept == [PARA, PARA2] and removed == {"repeated_headline": 1, "own_url": 1}


def test_every_rule_has_a_reason_and_a_unique_name():
    names = [r.name for r in LINE_RULES] + [r.name for r in BLOCK_RULES]
    assert len(names) == len(set(names))
    assert all(RULE_REASONS.get(name) for name in names)


@pytest.mark.parametrize(
    "box,author",
    [
        (["Ana Ruiz is a reporter covering the port and the islands."], "Ana Ruiz"),
        (
            [
                "Ana Ruiz ist Reporterin für Häfen und Inseln.",
                "Mehr Meldungen finden Sie in unserem Liveblog.",
            ],
            "Ana Ruiz",
        ),
        (["Tom Hale (*1961) war Hafenmeister in Kiel."], "Ana Ruiz, Tom Hale"),  # one of several names
        (["Ana Ruiz"], "Ana Ruiz und Tom Hale"),  # the name alone, below the text
    ],
)
def test_the_authors_box_at_the_end_goes_from_the_line_that_starts_with_a_bylines_name(box, author):
    out = clean_lines([PARA, PARA2, *box], None, author=author)
    assert out.lines == [PARA, PARA2] and dict(out.removed) == {"author_box": len(box)}


@pytest.mark.parametrize(
    "line,author",
    [
        ("Ana Ruizhandle", "Ana Ruiz"),  # glued to something else: not the name
        ("Dear Abby is written by Abigail Van Buren and was founded by her mother.", "Abigail Van Buren"),
        ("Beachbody Recharge, 1 tsp. nut butter", "Beachbody"),  # one word: a brand as much as a name
        ("The Associated Press contributed to this report from Berlin.", "The Associated Press"),  # an outlet
        ("Ana Ruiz said the ferry would run twice a day.", None),  # no byline known
    ],
)
def test_prose_that_names_the_author_otherwise_stays(line, author):
    out = clean_lines([PARA, PARA2, line], None, author=author)
    assert out.lines == [PARA, PARA2, line]


def test_the_authors_box_is_looked_for_in_the_last_lines_only_and_the_first_line_stays():
    early = ["Ana Ruiz opened the terminal on Friday.", PARA, PARA2, PARA, PARA2, PARA]
    assert clean_lines(early, None, author="Ana Ruiz").lines == early
    assert clean_lines(["Ana Ruiz reports.", PARA], None, author="Ana Ruiz").lines == [
        "Ana Ruiz reports.",
        PARA,
    ]
