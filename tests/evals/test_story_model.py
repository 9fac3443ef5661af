"""The candidate story model that `evals.stories` measures beside the pipeline's (issue 19)."""

from evals.story_model import NAME_MARK, article_terms, cosine, group, joins, merged, name_cosine

SAINTS_BUSH = (
    "The New Orleans Saints placed running back Reggie Bush on injured reserve on Tuesday, ending his season.\n"
    "Bush hurt his knee against the Falcons in Atlanta and will need surgery, coach Sean Payton said.\n"
    "The Saints signed a running back from their practice squad to take his place on the roster."
)
SAINTS_THOMAS = (
    "Pierre Thomas is done for the year: New Orleans moved the veteran to injured reserve with a concussion.\n"
    "Thomas took a helmet to the head in the loss at Tampa Bay and did not practise all week.\n"
    "Mark Ingram and Darren Sproles will share the carries for the rest of the season."
)
BUSH_FOLLOW_UP = (
    "Reggie Bush will miss the rest of the season after the Saints put him on injured reserve with a knee injury.\n"
    "Bush was hurt in Atlanta against the Falcons; Sean Payton said surgery is planned for next week.\n"
    "The running back from Southern California had been the Saints' second-leading rusher this year."
)


def test_terms_weigh_names_and_mark_the_headline_and_leads_names():
    terms = article_terms("Saints put Reggie Bush on injured reserve", SAINTS_BUSH, "en")
    words = {t: w for t, w in terms.items() if not t.startswith(NAME_MARK)}
    assert words["bush"] > words["season"]  # a name outweighs a common word
    assert {NAME_MARK + "bush", NAME_MARK + "reggie", NAME_MARK + "saints"} <= set(terms)
    assert NAME_MARK + "injure" not in terms


def test_a_title_case_headline_does_not_make_every_word_a_name():
    terms = article_terms("Saints Put Reggie Bush On Injured Reserve", SAINTS_BUSH, "en")
    assert (
        NAME_MARK + "reggie" in terms and NAME_MARK + "injure" not in terms and NAME_MARK + "put" not in terms
    )


def test_look_alike_events_stay_apart_and_a_follow_up_joins():
    bush, thomas, follow = (
        article_terms(None, t, "en") for t in (SAINTS_BUSH, SAINTS_THOMAS, BUSH_FOLLOW_UP)
    )
    assert not joins(cosine(thomas, bush), name_cosine(thomas, bush))  # the same words, other names
    assert joins(cosine(follow, bush), name_cosine(follow, bush))
    assert group([(None, SAINTS_BUSH, "en"), (None, SAINTS_THOMAS, "en"), (None, BUSH_FOLLOW_UP, "en")]) == [
        0,
        1,
        0,
    ]


def test_a_story_is_the_sum_of_its_members():
    a, b = {"alpha": 0.6, "beta": 0.8}, {"beta": 0.6, "gamma": 0.8}
    assert merged(a, b) == {"alpha": 0.6, "beta": 1.4, "gamma": 0.8}
    assert name_cosine(a, b) is None  # no names on either side: nothing to disagree on
